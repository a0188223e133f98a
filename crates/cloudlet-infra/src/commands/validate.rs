//! `validate [-json]`: decodes the module tree (`crate::decode`) and
//! reports its diagnostics as Terraform does, in text or in Terraform's
//! JSON shape (`format_version`, `valid`, `error_count`, `warning_count`,
//! `diagnostics` with `range`s).
//!
//! The diagnostics come rendered from the decoder; their summary, file,
//! line and detail are read back from that text for the JSON form, so a
//! range covers the whole line the diagnostic points at.

use serde_json::{Value, json};

use super::{Ctx, Flags};

/// One diagnostic read back from its rendering.
#[derive(Debug, PartialEq)]
struct Parsed {
    summary: String,
    detail: String,
    /// (file, line, the line's text)
    at: Option<(String, usize, String)>,
}

/// Splits Terraform's plain rendering (`\nError: summary\n\n  on FILE line
/// N, in X:\n  N: text\n\ndetail\n`) into its parts.
fn parse_rendered(text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    for block in text.split("\nError: ").skip(1) {
        let mut parts = block.splitn(2, "\n\n");
        let summary = parts.next().unwrap_or_default().trim().to_owned();
        let rest = parts.next().unwrap_or_default();
        let mut at = None;
        let mut detail = rest;
        if let Some(loc) = rest.strip_prefix("  on ") {
            let (header, after) = loc.split_once('\n').unwrap_or((loc, ""));
            let file = header.split(" line ").next().unwrap_or_default().to_owned();
            let line: usize = header
                .split(" line ")
                .nth(1)
                .and_then(|l| l.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let source = after
                .lines()
                .find_map(|l| l.trim_start().strip_prefix(&format!("{line}: ")).map(str::to_owned))
                .unwrap_or_default();
            at = Some((file, line, source));
            detail = after.split_once("\n\n").map_or("", |(_, d)| d);
        }
        out.push(Parsed { summary, detail: detail.trim_end().to_owned(), at });
    }
    out
}

/// `cloudlet infra validate [-json] [-no-color]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let flags = match Flags::parse(args, &["json"], &[]) {
        Ok(f) => f,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let as_json = flags.bool("json", false).unwrap_or(false);
    let rendered = match crate::decode::load_tree(&ctx.dir) {
        Ok(_) => None,
        Err(err) => Some(err.rendered),
    };
    if !as_json {
        return match rendered {
            None => {
                ctx.out("Success! The configuration is valid.\n\n");
                0
            }
            Some(text) => {
                ctx.err(&text);
                1
            }
        };
    }
    let diagnostics: Vec<Value> = parse_rendered(rendered.as_deref().unwrap_or(""))
        .into_iter()
        .map(|d| {
            let mut v = json!({"severity": "error", "summary": d.summary, "detail": d.detail});
            if let Some((file, line, source)) = d.at {
                let start_byte = std::fs::read_to_string(ctx.dir.join(&file))
                    .map(|t| t.split_inclusive('\n').take(line - 1).map(str::len).sum::<usize>())
                    .unwrap_or(0);
                let end_column = source.chars().count() + 1;
                v["range"] = json!({
                    "filename": file,
                    "start": {"line": line, "column": 1, "byte": start_byte},
                    "end": {"line": line, "column": end_column, "byte": start_byte + source.len()},
                });
                v["snippet"] = json!({
                    "context": Value::Null,
                    "code": source,
                    "start_line": line,
                    "highlight_start_offset": 0,
                    "highlight_end_offset": source.len(),
                    "values": [],
                });
            }
            v
        })
        .collect();
    let count = diagnostics.len();
    let doc = json!({
        "format_version": "0.1",
        "valid": count == 0,
        "error_count": count,
        "warning_count": 0,
        "diagnostics": diagnostics,
    });
    let mut text = String::new();
    crate::state::json_write(&mut text, &doc, 0);
    text.push('\n');
    ctx.out(&text);
    if count == 0 { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_a_rendered_diagnostic() {
        let text = "\nError: Unsupported argument\n\n  on main.tf line 3, in resource \"a\" \"b\":\n   3:   nope = 1\n\nAn argument named \"nope\" is not expected here.\n";
        assert_eq!(
            parse_rendered(text),
            [Parsed {
                summary: "Unsupported argument".to_owned(),
                detail: "An argument named \"nope\" is not expected here.".to_owned(),
                at: Some(("main.tf".to_owned(), 3, "  nope = 1".to_owned())),
            }]
        );
    }
}
