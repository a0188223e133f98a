//! JSON text exactly as Terraform's Go writer makes it: `json.MarshalIndent`
//! with two spaces, `"key": value`, `[]`/`{}` for empty containers, and Go's
//! HTML-safe string escaping (`<` is `\u003c`, `&` is `\u0026`).
//!
//! Only the writer lives here; reading is serde_json's.

use serde_json::{Map, Number, Value};

/// Appends `value` indented as Go's `json.MarshalIndent(v, "", "  ")` at
/// nesting `depth`.
pub(crate) fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => write_array(out, items, depth),
        Value::Object(map) => write_object(out, map, depth),
    }
}

/// An array of values at nesting `depth`.
pub(crate) fn write_array(out: &mut String, items: &[Value], depth: usize) {
    write_items(out, items, depth, write_value);
}

/// An array of strings at nesting `depth`.
pub(crate) fn write_str_array(out: &mut String, items: &[String], depth: usize) {
    write_items(out, items, depth, |out, item, _| write_string(out, item));
}

fn write_items<T>(out: &mut String, items: &[T], depth: usize, write: impl Fn(&mut String, &T, usize)) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, depth + 1);
        write(out, item, depth + 1);
    }
    newline(out, depth);
    out.push(']');
}

/// An object with its keys in `map`'s order (sorted, as Go sorts map keys
/// and cty sorts attribute names).
pub(crate) fn write_object(out: &mut String, map: &Map<String, Value>, depth: usize) {
    let mut fields = ObjectWriter::new(out, depth);
    for (key, value) in map {
        fields.field(key, value);
    }
    fields.finish();
}

/// Writes an object field by field, for structs whose field order is fixed
/// (Go writes struct fields in declaration order).
pub(crate) struct ObjectWriter<'o> {
    out: &'o mut String,
    depth: usize,
    count: usize,
}

impl<'o> ObjectWriter<'o> {
    pub(crate) fn new(out: &'o mut String, depth: usize) -> ObjectWriter<'o> {
        out.push('{');
        ObjectWriter { out, depth, count: 0 }
    }

    /// Starts a field and returns the buffer to write its value into, at
    /// the field's depth.
    pub(crate) fn key(&mut self, key: &str) -> (&mut String, usize) {
        if self.count > 0 {
            self.out.push(',');
        }
        self.count += 1;
        newline(self.out, self.depth + 1);
        write_string(self.out, key);
        self.out.push_str(": ");
        (self.out, self.depth + 1)
    }

    pub(crate) fn field(&mut self, key: &str, value: &Value) {
        let (out, depth) = self.key(key);
        write_value(out, value, depth);
    }

    pub(crate) fn str_field(&mut self, key: &str, value: &str) {
        let (out, _) = self.key(key);
        write_string(out, value);
    }

    pub(crate) fn u64_field(&mut self, key: &str, value: u64) {
        let (out, _) = self.key(key);
        out.push_str(&value.to_string());
    }

    pub(crate) fn finish(self) {
        if self.count == 0 {
            self.out.push('}');
        } else {
            newline(self.out, self.depth);
            self.out.push('}');
        }
    }
}

/// A line break and `depth` levels of two-space indentation.
pub(crate) fn newline(out: &mut String, depth: usize) {
    const SPACES: &str = "                                                                ";
    out.push('\n');
    let mut n = depth * 2;
    while n > 0 {
        let step = n.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        n -= step;
    }
}

/// A string as Go's encoder escapes it (HTML-safe, `\u00XX` for control
/// characters other than `\n`, `\r`, `\t`, and U+2028/U+2029 escaped).
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    // Runs of bytes that need no escape are copied whole.
    let needs_escape = |b: u8| b < 0x20 || matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&' | 0xe2);
    let mut rest = s;
    while let Some(at) = rest.bytes().position(needs_escape) {
        out.push_str(&rest[..at]);
        let Some(c) = rest[at..].chars().next() else { break };
        escape_char(out, c);
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

/// One character as Go's encoder writes it inside a string.
fn escape_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => push_u_escape(out, c),
        c if (c as u32) < 0x20 => push_u_escape(out, c),
        c => out.push(c),
    }
}

/// `\u00XX` for a character below U+10000.
fn push_u_escape(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = write!(out, "\\u{:04x}", c as u32);
}

/// Numbers: integers as they are; floats as Go's `strconv.FormatFloat(f,
/// 'f', -1, 64)` for magnitudes in [1e-6, 1e21) and in exponent form
/// (`1e+21`, `1e-7`) outside it, as `encoding/json` does.
fn write_number(out: &mut String, n: &Number) {
    use std::fmt::Write as _;
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        let abs = f.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Rust prints `1e21` / `1e-7`; Go writes `1e+21` / `1e-07`
            // and then strips the `0` of a two-digit negative exponent.
            let text = format!("{f:e}");
            match text.split_once('e') {
                Some((mantissa, exp)) if !exp.starts_with('-') => out.push_str(&format!("{mantissa}e+{exp}")),
                _ => out.push_str(&text),
            }
        } else {
            out.push_str(&format!("{f}"));
        }
    } else {
        out.push_str(&n.to_string());
    }
}

/// JSON text re-indented as Go's `MarshalIndent` does with a
/// `json.RawMessage`: the text is compacted (strings kept as written, apart
/// from Go's HTML escapes) and indented, so object keys keep their order and
/// numbers their digits. This is how Terraform writes back attributes it
/// read and did not change.
pub(crate) fn write_raw_indented(out: &mut String, raw: &str, depth: usize) {
    let bytes = raw.as_bytes();
    let mut depth = depth;
    let mut i = 0;
    // Whether the last structural byte opened a container (so an empty
    // one closes on the same line) or was a value needing a comma.
    let mut just_opened = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'{' | b'[' => {
                out.push(c as char);
                depth += 1;
                just_opened = true;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if !just_opened {
                    newline(out, depth);
                }
                just_opened = false;
                out.push(c as char);
                i += 1;
            }
            b',' => {
                out.push(',');
                newline(out, depth);
                i += 1;
            }
            b':' => {
                out.push_str(": ");
                i += 1;
            }
            _ => {
                if just_opened {
                    newline(out, depth);
                    just_opened = false;
                }
                if c == b'"' {
                    let start = i;
                    i += 1;
                    while i < bytes.len() {
                        match bytes[i] {
                            b'\\' => i += 2,
                            b'"' => {
                                i += 1;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                    let text = &raw[start..i.min(raw.len())];
                    for ch in text.chars() {
                        match ch {
                            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", ch as u32)),
                            ch => out.push(ch),
                        }
                    }
                } else {
                    let start = i;
                    while i < bytes.len()
                        && !matches!(bytes[i], b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r')
                    {
                        i += 1;
                    }
                    out.push_str(&raw[start..i]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(v: &Value) -> String {
        let mut out = String::new();
        write_value(&mut out, v, 0);
        out
    }

    #[test]
    fn indents_like_go_marshal_indent() {
        let v = serde_json::json!({"a": [1, 2.5, {}], "b": {"c": []}, "d": null});
        assert_eq!(
            render(&v),
            "{\n  \"a\": [\n    1,\n    2.5,\n    {}\n  ],\n  \"b\": {\n    \"c\": []\n  },\n  \"d\": null\n}"
        );
    }

    #[test]
    fn escapes_strings_like_go() {
        let v = Value::String("a<b&c>\"\\\n\u{1}\u{2028}é".to_owned());
        assert_eq!(render(&v), "\"a\\u003cb\\u0026c\\u003e\\\"\\\\\\n\\u0001\\u2028é\"");
    }

    #[test]
    fn raw_text_keeps_key_order_and_digits() {
        let raw = r#"{"z": 1, "a": [ ], "m": {"k": "<\u00e9>"}, "n": 123456789012345678901234567890, "e": {}}"#;
        let mut out = String::new();
        write_raw_indented(&mut out, raw, 1);
        assert_eq!(
            out,
            "{\n    \"z\": 1,\n    \"a\": [],\n    \"m\": {\n      \"k\": \"\\u003c\\u00e9\\u003e\"\n    },\n    \"n\": 123456789012345678901234567890,\n    \"e\": {}\n  }"
        );
    }

    #[test]
    fn floats_use_go_notation() {
        assert_eq!(render(&serde_json::json!(1e21)), "1e+21");
        assert_eq!(render(&serde_json::json!(1.5e-7)), "1.5e-7");
        assert_eq!(render(&serde_json::json!(0.000001)), "0.000001");
        assert_eq!(render(&serde_json::json!(123456789.5)), "123456789.5");
    }
}
