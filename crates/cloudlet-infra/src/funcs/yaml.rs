//! `yamldecode`: YAML documents as Terraform values — mappings become
//! objects, sequences tuples, and plain scalars are typed with YAML 1.1's
//! rules as Terraform's decoder has them (`yes`/`on` are booleans, `~` is
//! null, `0x1F` is a number); quoted and block scalars are strings.

use std::collections::{BTreeMap, HashMap};

use granit_parser::{Event, Parser, ScalarStyle};

use crate::number::Number;
use crate::value::{Type, Value};

/// Decodes the single document in `text`.
pub(crate) fn decode(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<(bool, Vec<Value>, usize)> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut root: Option<Value> = None;
    let mut documents = 0;
    while let Some(ev) = parser.next_event() {
        let (ev, _) =
            ev.map_err(|e| format!("on line {}, column {}: {}", e.marker().line(), e.marker().col() + 1, e.info()))?;
        let done = match ev {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err("on line 1, column 1: unexpected extra content after value".into());
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = matches!(style, ScalarStyle::Plain) && tag.is_none();
                Some((scalar(&text, plain)?, anchor))
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push((false, Vec::new(), anchor));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push((true, Vec::new(), anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some((is_map, items, anchor)) => {
                    let v = if is_map {
                        let mut obj = BTreeMap::new();
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            let key = match k {
                                Value::String(s) => s,
                                Value::Null(_) => "null".to_owned(),
                                Value::Bool(b) => b.to_string(),
                                Value::Number(n) => n.to_text(),
                                _ => return Err("only strings, numbers and booleans can be mapping keys".into()),
                            };
                            obj.insert(key, v);
                        }
                        Value::Object(obj)
                    } else {
                        Value::Tuple(items)
                    };
                    Some((v, anchor))
                }
                None => None,
            },
            Event::Alias(id) => Some((anchors.get(&id).cloned().ok_or("unknown anchor referenced")?, 0)),
            _ => None,
        };
        if let Some((v, anchor)) = done {
            if anchor != 0 {
                anchors.insert(anchor, v.clone());
            }
            match stack.last_mut() {
                Some((_, items, _)) => items.push(v),
                None => root = Some(v),
            }
        }
    }
    root.ok_or_else(|| "on line 1, column 1: missing start of document".to_owned())
}

fn scalar(text: &str, plain: bool) -> Result<Value, String> {
    if !plain {
        return Ok(Value::string(text));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null(Type::Dynamic),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Number(Number::infinity(false)),
        "-.inf" | "-.Inf" | "-.INF" => Value::Number(Number::infinity(true)),
        _ => match number(text) {
            Some(n) => Value::Number(n),
            None => Value::string(timestamp(text).unwrap_or_else(|| text.to_owned())),
        },
    })
}

/// A YAML timestamp (`2001-12-14`, `2001-12-14t21:59:43.10-05:00`, ...)
/// written the way Terraform writes times: RFC 3339 without fractions.
fn timestamp(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if b.len() == 10 {
        return Some(format!("{y:04}-{mo:02}-{d:02}T00:00:00Z"));
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = text[11..].trim_start();
    let (h, rest) = rest.split_once(':')?;
    let h: i64 = h.parse().ok()?;
    let mi: i64 = rest.get(0..2)?.parse().ok()?;
    let se: i64 = rest.get(3..5)?.parse().ok()?;
    let mut rest = rest.get(5..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let rest = rest.trim_start();
    let zone = match rest {
        "" | "Z" | "z" => "Z".to_owned(),
        z if z.starts_with(['+', '-']) => {
            let (hh, mm) = match z[1..].split_once(':') {
                Some((hh, mm)) => (hh.parse::<i64>().ok()?, mm.parse::<i64>().ok()?),
                None => (z[1..].parse::<i64>().ok()?, 0),
            };
            if hh == 0 && mm == 0 { "Z".to_owned() } else { format!("{}{hh:02}:{mm:02}", &z[..1]) }
        }
        _ => return None,
    };
    Some(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{zone}"))
}

fn number(text: &str) -> Option<Number> {
    let plain = text.replace('_', "");
    let (neg, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain).to_owned()),
    };
    let radix = |prefix: &str, base: u32| -> Option<Number> {
        let body = digits.strip_prefix(prefix)?;
        let v = num_bigint::BigInt::parse_bytes(body.as_bytes(), base)?;
        Some(Number::from_bigint(&if neg { -v } else { v }))
    };
    if let Some(n) = radix("0x", 16).or_else(|| radix("0o", 8)) {
        return Some(n);
    }
    let numeric = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if !numeric {
        return None;
    }
    Number::parse(&plain)
}
