//! Resource addresses as the state commands take them:
//! `[module.NAME[KEY]...][data.]TYPE.NAME[KEY]`, or a module alone
//! (`module.a["x"].module.b`), and which state objects an address selects.

use std::fmt;

use super::{IndexKey, Mode, ResourceState};

/// One `module.NAME[KEY]` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleStep {
    pub name: String,
    pub key: Option<IndexKey>,
}

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub module: Vec<ModuleStep>,
    /// `None` for a module address.
    pub resource: Option<ResourceAddr>,
}

/// The resource part of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceAddr {
    pub mode: Mode,
    pub type_: String,
    pub name: String,
    /// `Some` selects one instance; `None` all of them.
    pub key: Option<IndexKey>,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let module = module_path(&self.module);
        match &self.resource {
            None => f.write_str(&module),
            Some(r) => {
                if !module.is_empty() {
                    write!(f, "{module}.")?;
                }
                if r.mode == Mode::Data {
                    f.write_str("data.")?;
                }
                write!(f, "{}.{}", r.type_, r.name)?;
                if let Some(k) = &r.key {
                    write!(f, "{k}")?;
                }
                Ok(())
            }
        }
    }
}

/// `module.a["x"].module.b` (empty for the root module).
pub fn module_path(steps: &[ModuleStep]) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str("module.");
        out.push_str(&s.name);
        if let Some(k) = &s.key {
            out.push_str(&k.to_string());
        }
    }
    out
}

/// Parses an address; the error says what is wrong in Terraform's words.
pub fn parse(text: &str) -> Result<Address, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let mut module = Vec::new();
    let mut resource = None;
    loop {
        let word = p.ident()?;
        if word == "module" && p.peek() == Some(b'.') {
            p.i += 1;
            let name = p.ident()?;
            let key = p.key()?;
            module.push(ModuleStep { name, key });
            match p.peek() {
                None => break,
                Some(b'.') => {
                    p.i += 1;
                    continue;
                }
                Some(_) => return Err(p.unexpected()),
            }
        }
        let (mode, type_) = if word == "data" {
            p.expect_dot()?;
            (Mode::Data, p.ident()?)
        } else {
            (Mode::Managed, word)
        };
        p.expect_dot()?;
        let name = p.ident()?;
        let key = p.key()?;
        if p.peek().is_some() {
            return Err(p.unexpected());
        }
        resource = Some(ResourceAddr { mode, type_, name, key });
        break;
    }
    Ok(Address { module, resource })
}

struct Parser<'s> {
    s: &'s [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn unexpected(&self) -> String {
        match self.peek() {
            Some(c) => format!("Unexpected {:?} at character {} of the address.", c as char, self.i + 1),
            None => "The address ends too early: a resource address is TYPE.NAME.".to_owned(),
        }
    }

    fn expect_dot(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'.') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80 {
                self.i += 1;
            } else {
                break;
            }
        }
        if start == self.i {
            return Err(self.unexpected());
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn key(&mut self) -> Result<Option<IndexKey>, String> {
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        self.i += 1;
        let key = if self.peek() == Some(b'"') {
            let start = self.i;
            self.i += 1;
            while let Some(c) = self.peek() {
                self.i += 1;
                if c == b'\\' {
                    self.i += 1;
                } else if c == b'"' {
                    break;
                }
            }
            let quoted = String::from_utf8_lossy(&self.s[start..self.i.min(self.s.len())]).into_owned();
            let s: String =
                serde_json::from_str(&quoted).map_err(|_| format!("The index key {quoted} is not a valid string."))?;
            IndexKey::String(s)
        } else {
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'-') {
                self.i += 1;
            }
            let digits = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            IndexKey::Int(
                digits.parse().map_err(|_| "An index key must be a whole number or a quoted string.".to_owned())?,
            )
        };
        if self.peek() != Some(b']') {
            return Err(self.unexpected());
        }
        self.i += 1;
        Ok(Some(key))
    }
}

impl Address {
    /// The module path string the state uses (`None` for the root).
    pub fn module_string(&self) -> Option<String> {
        let m = module_path(&self.module);
        if m.is_empty() { None } else { Some(m) }
    }

    /// Whether this address selects the resource `r` (all or some of its
    /// instances): a module address selects everything in that module and
    /// the modules under it.
    pub fn selects_resource(&self, r: &ResourceState) -> bool {
        let here = module_path(&self.module);
        let theirs = r.module.clone().unwrap_or_default();
        match &self.resource {
            None => {
                here.is_empty()
                    || theirs == here
                    || (theirs.starts_with(&here) && theirs[here.len()..].starts_with(".module."))
                    // `module.m` without a key selects every instance of `m`.
                    || (self.module.last().is_some_and(|s| s.key.is_none())
                        && theirs.starts_with(&here)
                        && theirs[here.len()..].starts_with('['))
            }
            Some(ra) => theirs == here && r.mode == ra.mode && r.type_ == ra.type_ && r.name == ra.name,
        }
    }

    /// Whether this address selects the instance with `key` of a resource
    /// it selects.
    pub fn selects_instance(&self, key: Option<&IndexKey>) -> bool {
        match &self.resource {
            Some(ResourceAddr { key: Some(want), .. }) => key == Some(want),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_addresses() {
        for text in [
            "null_resource.a",
            "null_resource.a[0]",
            "data.local_file.f",
            "module.m",
            "module.m[\"x\"].module.n[2]",
            "module.m.aws_instance.web[\"a b\"]",
            "module.m[1].data.t.n",
        ] {
            assert_eq!(parse(text).expect(text).to_string(), text);
        }
        assert!(parse("null_resource").is_err());
        assert!(parse("a.b.c").is_err());
        assert!(parse("a.b[x]").is_err());
        assert!(parse("").is_err());
    }
}
