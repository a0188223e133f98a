//! Encoding functions: `jsonencode`/`jsondecode`, `base64encode`/
//! `base64decode`, `base64gzip`, `urlencode`, `csvdecode`. JSON is written
//! the way Go writes it (sorted keys, `<`, `>` and `&` escaped as `\u003c`
//! etc., numbers as Terraform prints them).

use std::collections::BTreeMap;
use std::io::Write as _;

use base64::Engine as _;

use super::{ANY, FResult, Func, S, arg_err, f, fail, p, str_arg};
use crate::value::{Type, Value};

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "jsonencode" => f(vec![super::p_null("val", ANY)], |a, _| json_encode(&a[0]).map(Value::string).or_else(fail)),
        "jsondecode" => f(vec![p("str", S)], |a, _| json_decode(str_arg(a, 0))),
        "base64encode" => f(vec![p("str", S)], |a, _| Ok(Value::string(b64(str_arg(a, 0).as_bytes())))),
        "base64decode" => f(vec![p("str", S)], |a, _| {
            let s = str_arg(a, 0);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| super::FuncError::Failed(format!("failed to decode base64 data '{s}'")))?;
            match String::from_utf8(bytes) {
                Ok(text) => Ok(Value::string(text)),
                Err(_) => fail("the result of decoding the provided string is not valid UTF-8"),
            }
        }),
        "base64gzip" => f(vec![p("str", S)], |a, _| {
            let mut enc = flate2_free_gzip(str_arg(a, 0).as_bytes());
            enc.flush().ok();
            Ok(Value::string(b64(&enc.into_bytes())))
        }),
        "urlencode" => f(vec![p("str", S)], |a, _| Ok(Value::string(query_escape(str_arg(a, 0))))),
        "csvdecode" => f(vec![p("str", S)], |a, _| csv_decode(str_arg(a, 0))),
        "textencodebase64" => f(vec![p("string", S), p("encoding", S)], |a, _| {
            let (text, enc) = (str_arg(a, 0), str_arg(a, 1));
            let bytes = match canonical_encoding(enc) {
                Some("UTF-8") => text.as_bytes().to_vec(),
                Some("UTF-16LE") => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
                Some("UTF-16BE") => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
                Some("ISO-8859-1") => {
                    let mut out = Vec::new();
                    for c in text.chars() {
                        match u8::try_from(u32::from(c)) {
                            Ok(b) => out.push(b),
                            Err(_) => {
                                return arg_err(
                                    0,
                                    format!("the given string contains characters that cannot be represented in {enc}"),
                                );
                            }
                        }
                    }
                    out
                }
                _ => {
                    return arg_err(
                        1,
                        format!(
                            "{} is not a supported IANA encoding name or alias in this Terraform version",
                            crate::format::quote(enc)
                        ),
                    );
                }
            };
            Ok(Value::string(b64(&bytes)))
        }),
        "textdecodebase64" => f(vec![p("source", S), p("encoding", S)], |a, _| {
            let (src, enc) = (str_arg(a, 0), str_arg(a, 1));
            let Some(canon) = canonical_encoding(enc) else {
                return arg_err(
                    1,
                    format!(
                        "{} is not a supported IANA encoding name or alias in this Terraform version",
                        crate::format::quote(enc)
                    ),
                );
            };
            let bytes = base64::engine::general_purpose::STANDARD.decode(src).map_err(|_| {
                super::FuncError::Arg(0, "the given value is has an invalid base64 symbol at offset 0".into())
            })?;
            let text = match canon {
                "UTF-8" => String::from_utf8_lossy(&bytes).into_owned(),
                "UTF-16LE" | "UTF-16BE" => {
                    let units: Vec<u16> = bytes
                        .chunks(2)
                        .map(|c| {
                            let pair = [c[0], *c.get(1).unwrap_or(&0)];
                            if canon == "UTF-16LE" { u16::from_le_bytes(pair) } else { u16::from_be_bytes(pair) }
                        })
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                _ => bytes.iter().map(|&b| char::from(b)).collect(),
            };
            Ok(Value::string(text))
        }),
        "yamldecode" => f(vec![p("src", S)], |a, _| super::yaml::decode(str_arg(a, 0)).or_else(fail)),
        "yamlencode" => {
            f(vec![super::p_null("value", ANY)], |a, _| yaml_encode(&a[0]).map(Value::string).or_else(fail))
        }
        _ => return None,
    })
}

/// The encodings `text*base64` know, by IANA name or alias.
fn canonical_encoding(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "UTF-8" | "UTF8" => Some("UTF-8"),
        "UTF-16LE" => Some("UTF-16LE"),
        "UTF-16BE" => Some("UTF-16BE"),
        "ISO-8859-1" | "ISO_8859-1" | "LATIN1" | "L1" | "ISO-IR-100" | "IBM819" | "CP819" | "CSISOLATIN1" => {
            Some("ISO-8859-1")
        }
        _ => None,
    }
}

/// `yamlencode`: YAML as Terraform writes it — block style, keys and
/// strings double-quoted, multi-line strings as literal blocks.
pub(crate) fn yaml_encode(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    match v.unmarked() {
        Value::List(..) | Value::Set(..) | Value::Tuple(_) | Value::Map(..) | Value::Object(_) if v.length() > 0 => {
            yaml_block(v, 0, &mut out)?;
        }
        _ => {
            let (text, plain) = yaml_scalar(v, 0)?;
            out.push_str(&text);
            out.push('\n');
            if plain {
                // A plain scalar document ends with an explicit marker.
                out.push_str("...\n");
            }
        }
    }
    Ok(out)
}

/// A scalar or empty collection; `true` when it is a plain scalar.
fn yaml_scalar(v: &Value, indent: usize) -> Result<(String, bool), String> {
    Ok(match v.unmarked() {
        Value::Null(_) => ("null".into(), true),
        Value::Unknown(_) => return Err("cannot serialize unknown value".into()),
        Value::Bool(b) => (b.to_string(), true),
        Value::Number(n) => (n.to_text(), true),
        Value::String(s) if s.contains('\n') => {
            let chomp = if s.ends_with("\n\n") || s == "\n" {
                "+"
            } else if s.ends_with('\n') {
                ""
            } else {
                "-"
            };
            let body = s.strip_suffix('\n').unwrap_or(s);
            let pad = " ".repeat(indent + 2);
            let mut text = format!("|{chomp}");
            for line in body.split('\n') {
                text.push('\n');
                if !line.is_empty() {
                    text.push_str(&pad);
                    text.push_str(line);
                }
            }
            (text, false)
        }
        Value::String(s) => {
            (json_string(s).replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&"), false)
        }
        Value::List(..) | Value::Set(..) | Value::Tuple(_) => ("[]".into(), false),
        Value::Map(..) | Value::Object(_) => ("{}".into(), false),
        Value::Marked(_) => ("null".into(), true),
    })
}

fn is_block(v: &Value) -> bool {
    matches!(v.unmarked(), Value::List(..) | Value::Set(..) | Value::Tuple(_) | Value::Map(..) | Value::Object(_))
        && v.length() > 0
}

/// A non-empty collection at `indent`, each entry on its own line.
fn yaml_block(v: &Value, indent: usize, out: &mut String) -> Result<(), String> {
    let pad = " ".repeat(indent);
    match v.unmarked() {
        Value::Map(_, m) | Value::Object(m) => {
            for (k, item) in m {
                out.push_str(&pad);
                out.push_str(&json_string(k));
                out.push(':');
                yaml_entry(item, indent, true, out)?;
            }
        }
        _ => {
            for item in super::items(v) {
                out.push_str(&pad);
                out.push('-');
                yaml_entry(item, indent, false, out)?;
            }
        }
    }
    Ok(())
}

/// The value after `key:` or `-`.
fn yaml_entry(item: &Value, indent: usize, in_map: bool, out: &mut String) -> Result<(), String> {
    if !is_block(item) {
        let (text, _) = yaml_scalar(item, indent)?;
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return Ok(());
    }
    let is_seq = matches!(item.unmarked(), Value::List(..) | Value::Set(..) | Value::Tuple(_));
    if in_map {
        // A sequence under a key stays at the key's indentation; a map
        // goes two deeper.
        out.push('\n');
        yaml_block(item, if is_seq { indent } else { indent + 2 }, out)
    } else {
        // Inside a sequence the first entry shares the dash's line.
        let mut inner = String::new();
        yaml_block(item, indent + 2, &mut inner)?;
        out.push(' ');
        out.push_str(inner.trim_start_matches(' '));
        Ok(())
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A JSON string as Go's encoder writes it.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `jsonencode`.
pub(crate) fn json_encode(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    encode_into(v, &mut out)?;
    Ok(out)
}

fn encode_into(v: &Value, out: &mut String) -> Result<(), String> {
    match v.unmarked() {
        Value::Null(_) => out.push_str("null"),
        Value::Unknown(_) => return Err("value is not known".into()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_infinite() {
                return Err("value must be finite".into());
            }
            out.push_str(&n.to_text());
        }
        Value::String(s) => out.push_str(&json_string(s)),
        Value::List(_, items) | Value::Set(_, items) | Value::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_into(item, out)?;
            }
            out.push(']');
        }
        Value::Map(_, m) | Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                encode_into(item, out)?;
            }
            out.push('}');
        }
        Value::Marked(_) => {}
    }
    Ok(())
}

fn json_decode(s: &str) -> FResult {
    super::json::parse(s).or_else(fail)
}

fn csv_decode(s: &str) -> FResult {
    let rows = parse_csv(s).or_else(fail)?;
    let mut iter = rows.into_iter();
    let Some(header) = iter.next() else {
        return fail("missing header line");
    };
    let mut out = Vec::new();
    for (line, row) in iter.enumerate() {
        if row.len() != header.len() {
            return fail(format!("CSV parse error on line {}: wrong number of fields", line + 2));
        }
        let obj: BTreeMap<String, Value> = header.iter().cloned().zip(row.into_iter().map(Value::string)).collect();
        out.push(obj);
    }
    let ty = Type::Object(header.iter().map(|h| (h.clone(), Type::String)).collect());
    Ok(Value::list(ty, out.into_iter().map(Value::Object).collect()))
}

fn parse_csv(s: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut in_quotes = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err("extraneous or missing \" in quoted-field".into());
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// A gzip stream with stored (uncompressed) deflate blocks: valid gzip that
/// any reader accepts, without a compression dependency.
struct GzipOut(Vec<u8>);

impl GzipOut {
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn flate2_free_gzip(data: &[u8]) -> GzipOut {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65535).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let mut w = GzipOut(Vec::new());
    let _ = w.0.write_all(&out);
    w
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn encodings() {
        assert_eq!(ev(r#"jsonencode({b=2, a=[1,"x",null]})"#), r#""{\"a\":[1,\"x\",null],\"b\":2}""#);
        assert_eq!(ev(r#"jsonencode("<&>")"#), r#""\"\\u003c\\u0026\\u003e\"""#);
        assert_eq!(ev(r#"jsondecode("{\"a\": [1, true]}")"#), "{\n  \"a\" = [\n    1,\n    true,\n  ]\n}");
        assert_eq!(ev(r#"base64encode("hello")"#), r#""aGVsbG8=""#);
        assert_eq!(ev(r#"base64decode("aGVsbG8=")"#), r#""hello""#);
        assert_eq!(ev(r#"urlencode("a b&c")"#), r#""a+b%26c""#);
        assert_eq!(ev(r#"csvdecode("a,b\n1,2")"#), "tolist([\n  {\n    \"a\" = \"1\"\n    \"b\" = \"2\"\n  },\n])");
    }
}
