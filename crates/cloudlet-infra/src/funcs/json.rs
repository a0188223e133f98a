//! A JSON reader for `jsondecode`: numbers keep all their digits (512-bit
//! precision, like every number Terraform parses), objects become objects
//! and arrays tuples, and errors read like Go's `encoding/json`.

use std::collections::BTreeMap;

use crate::number::Number;
use crate::value::{Type, Value};

/// Parses a whole JSON document.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    let mut r = Reader { s: text.as_bytes(), i: 0 };
    r.ws();
    if r.i >= r.s.len() {
        return Err("EOF".into());
    }
    let v = r.value()?;
    r.ws();
    if r.i < r.s.len() {
        return Err("extraneous data after JSON object".into());
    }
    Ok(v)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn char_desc(&self) -> String {
        let rest = std::str::from_utf8(&self.s[self.i..]).unwrap_or("");
        match rest.chars().next() {
            Some('\'') => "'\\''".into(),
            Some('"') => "'\"'".into(),
            Some(c) if (c as u32) < 0x20 => format!("'\\x{:02x}'", c as u32),
            Some(c) => format!("'{c}'"),
            None => "EOF".into(),
        }
    }

    /// The input ended where a new token was due.
    fn eof(&self) -> Result<Value, String> {
        Err("EOF".into())
    }

    /// The input ended inside a token.
    fn eof_inside(&self) -> Result<Value, String> {
        Err("unexpected EOF".into())
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else { return self.eof() };
        match c {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Value::String),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null(Type::Dynamic)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(format!("invalid character {} looking for beginning of value", self.char_desc())),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for (k, expected) in word.bytes().enumerate() {
            match self.s.get(self.i + k) {
                None => return self.eof_inside(),
                Some(&b) if b == expected => {}
                Some(_) => {
                    self.i += k;
                    return Err(format!(
                        "invalid character {} in literal {word} (expecting '{}')",
                        self.char_desc(),
                        expected as char
                    ));
                }
            }
        }
        self.i += word.len();
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        let digits = |r: &mut Self| {
            let st = r.i;
            while r.i < r.s.len() && r.s[r.i].is_ascii_digit() {
                r.i += 1;
            }
            r.i - st
        };
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            Some(_) => return Err(format!("invalid character {} in numeric literal", self.char_desc())),
            None => return self.eof_inside(),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return match self.s.get(self.i) {
                    None => self.eof_inside(),
                    Some(_) => {
                        Err(format!("invalid character {} after decimal point in numeric literal", self.char_desc()))
                    }
                };
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return match self.s.get(self.i) {
                    None => self.eof_inside(),
                    Some(_) => Err(format!("invalid character {} in exponent of numeric literal", self.char_desc())),
                };
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        Number::parse(text).map(Value::Number).ok_or_else(|| format!("invalid number {text}"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.i) else { return Err("unexpected EOF".into()) };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else { return Err("unexpected EOF".into()) };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let ch = if (0xd800..0xdc00).contains(&hi) && self.s.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff))
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(ch.unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.i -= 1;
                            return Err(format!("invalid character {} in string escape code", self.char_desc()));
                        }
                    }
                }
                c if c < 0x20 => return Err(format!("invalid character {} in string literal", self.char_desc())),
                _ => {
                    let rest = std::str::from_utf8(&self.s[self.i..]).unwrap_or("");
                    let ch = rest.chars().next().unwrap_or('\u{fffd}');
                    out.push(ch);
                    self.i += ch.len_utf8().max(1);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(h) = self.s.get(self.i..self.i + 4) else { return Err("unexpected EOF".into()) };
        let v = u32::from_str_radix(std::str::from_utf8(h).unwrap_or("x"), 16)
            .map_err(|_| "invalid character in \\u hexadecimal character escape".to_owned())?;
        self.i += 4;
        Ok(v)
    }

    fn array(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Tuple(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Tuple(items));
                }
                Some(_) => return Err(format!("invalid character {} after array element", self.char_desc())),
                None => return self.eof(),
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut map = BTreeMap::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.ws();
            match self.s.get(self.i) {
                Some(b'"') => {}
                Some(_) => {
                    return Err(format!(
                        "invalid character {} looking for beginning of object key string",
                        self.char_desc()
                    ));
                }
                None => return self.eof(),
            }
            let key = self.string()?;
            self.ws();
            match self.s.get(self.i) {
                Some(b':') => self.i += 1,
                Some(_) => return Err(format!("invalid character {} after object key", self.char_desc())),
                None => return self.eof(),
            }
            let v = self.value()?;
            // A repeated property: the last one wins.
            map.insert(key, v);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                Some(_) => return Err(format!("invalid character {} after object key:value pair", self.char_desc())),
                None => return self.eof(),
            }
        }
    }
}
