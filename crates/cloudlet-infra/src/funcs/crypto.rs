//! Hash and identifier functions: `md5`, `sha1`, `sha256`, `sha512`,
//! `base64sha256`, `base64sha512`, `uuidv5`, and the impure `uuid` and
//! `bcrypt` (unknown during plan).

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::{Func, S, f, fail, p, str_arg};
use crate::value::Value;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn digest(alg: &str, data: &[u8]) -> Vec<u8> {
    match alg {
        "md5" => Md5::digest(data).to_vec(),
        "sha1" => Sha1::digest(data).to_vec(),
        "sha256" => Sha256::digest(data).to_vec(),
        _ => Sha512::digest(data).to_vec(),
    }
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "md5" => f(vec![p("str", S)], |a, _| Ok(Value::string(hex(&digest("md5", str_arg(a, 0).as_bytes()))))),
        "sha1" => f(vec![p("str", S)], |a, _| Ok(Value::string(hex(&digest("sha1", str_arg(a, 0).as_bytes()))))),
        "sha256" => f(vec![p("str", S)], |a, _| Ok(Value::string(hex(&digest("sha256", str_arg(a, 0).as_bytes()))))),
        "sha512" => f(vec![p("str", S)], |a, _| Ok(Value::string(hex(&digest("sha512", str_arg(a, 0).as_bytes()))))),
        "base64sha256" => f(vec![p("str", S)], |a, _| {
            Ok(Value::string(super::encoding::b64(&digest("sha256", str_arg(a, 0).as_bytes()))))
        }),
        "base64sha512" => f(vec![p("str", S)], |a, _| {
            Ok(Value::string(super::encoding::b64(&digest("sha512", str_arg(a, 0).as_bytes()))))
        }),
        "uuidv5" => f(vec![p("namespace", S), p("name", S)], |a, _| {
            let ns: [u8; 16] = match str_arg(a, 0) {
                "dns" => parse_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
                "url" => parse_uuid("6ba7b811-9dad-11d1-80b4-00c04fd430c8"),
                "oid" => parse_uuid("6ba7b812-9dad-11d1-80b4-00c04fd430c8"),
                "x500" => parse_uuid("6ba7b814-9dad-11d1-80b4-00c04fd430c8"),
                other => match try_parse_uuid(other) {
                    Some(u) => u,
                    None => {
                        return fail(format!(
                            "uuidv5() doesn't support namespace {other} (invalid UUID length: {})",
                            other.len()
                        ));
                    }
                },
            };
            let mut data = ns.to_vec();
            data.extend_from_slice(str_arg(a, 1).as_bytes());
            let h = digest("sha1", &data);
            let mut u = [0u8; 16];
            u.copy_from_slice(&h[..16]);
            u[6] = (u[6] & 0x0f) | 0x50;
            u[8] = (u[8] & 0x3f) | 0x80;
            Ok(Value::string(format_uuid(&u)))
        }),
        "rsadecrypt" => f(vec![p("ciphertext", S), p("privatekey", S)], |a, _| {
            use base64::Engine as _;
            let text = str_arg(a, 0);
            let cipher = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| {
                super::FuncError::Arg(
                    0,
                    format!(
                        "failed to decode input {}: cipher text must be base64-encoded",
                        crate::format::quote(text)
                    ),
                )
            })?;
            let key = RsaKey::from_pem(str_arg(a, 1))
                .map_err(|e| super::FuncError::Arg(1, format!("invalid private key: {e}")))?;
            match key.decrypt_pkcs1v15(&cipher) {
                Some(plain) => Ok(Value::string(String::from_utf8_lossy(&plain).into_owned())),
                None => fail("failed to decrypt: crypto/rsa: decryption error"),
            }
        }),
        "uuid" => super::Func {
            impure: true,
            ..f(vec![], |_, _| {
                // Terraform's identifiers are 128 random bits in UUID layout,
                // without version and variant bits: take the random bits of
                // two version 4 UUIDs.
                let (a, b) = (uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes());
                let mut bytes = a;
                bytes[6] = (a[6] & 0x0f) | (b[0] << 4);
                bytes[8] = (a[8] & 0x3f) | (b[1] << 6);
                Ok(Value::string(format_uuid(&bytes)))
            })
        },
        "bcrypt" => super::Func {
            impure: true,
            ..super::fv(vec![p("str", S)], p("cost", super::N), |a, _| {
                if a.len() > 2 {
                    return fail("bcrypt() takes no more than two arguments");
                }
                let cost = match a.get(1) {
                    Some(_) => super::int_arg(a, 1)?,
                    None => 10,
                };
                // Below the minimum, Go's bcrypt uses its default cost.
                let cost = if cost < 4 { 10 } else { cost };
                if cost > 31 {
                    return fail(format!(
                        "error occured generating password crypto/bcrypt: cost {cost} is outside allowed range (4,31)"
                    ));
                }
                let hashed = bcrypt::hash_with_result(str_arg(a, 0), cost as u32)
                    .map_err(|e| super::FuncError::Failed(format!("error occured generating password {e}")))?;
                Ok(Value::string(hashed.format_for_version(bcrypt::Version::TwoA)))
            })
        },
        _ => return None,
    })
}

/// An RSA private key (PKCS #1, PEM): what `rsadecrypt` needs of it.
struct RsaKey {
    n: num_bigint::BigUint,
    d: num_bigint::BigUint,
}

impl RsaKey {
    fn from_pem(pem: &str) -> Result<RsaKey, String> {
        use base64::Engine as _;
        let begin = "-----BEGIN RSA PRIVATE KEY-----";
        let end = "-----END RSA PRIVATE KEY-----";
        let start = pem.find(begin).ok_or("ssh: no key found")?;
        let stop = pem[start..].find(end).ok_or("ssh: no key found")? + start;
        let body: String = pem[start + begin.len()..stop].chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| "ssh: no key found".to_owned())?;
        let mut r = Der { bytes: &der, at: 0 };
        let seq = r.element(0x30).ok_or("asn1: structure error")?;
        let mut inner = Der { bytes: seq, at: 0 };
        let mut ints = Vec::new();
        while let Some(i) = inner.element(0x02) {
            ints.push(num_bigint::BigUint::from_bytes_be(i));
        }
        if ints.len() < 4 {
            return Err("asn1: structure error".into());
        }
        Ok(RsaKey { n: ints[1].clone(), d: ints[3].clone() })
    }

    /// RSAES-PKCS1-v1_5 decryption.
    fn decrypt_pkcs1v15(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let k = self.n.bits().div_ceil(8) as usize;
        if cipher.len() != k {
            return None;
        }
        let c = num_bigint::BigUint::from_bytes_be(cipher);
        if c >= self.n {
            return None;
        }
        let m = c.modpow(&self.d, &self.n).to_bytes_be();
        let mut em = vec![0u8; k.saturating_sub(m.len())];
        em.extend(m);
        if em.len() < 11 || em[0] != 0 || em[1] != 2 {
            return None;
        }
        let sep = em[2..].iter().position(|b| *b == 0)? + 2;
        if sep < 10 {
            return None;
        }
        Some(em[sep + 1..].to_vec())
    }
}

/// Just enough DER to read a SEQUENCE of INTEGERs.
struct Der<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Der<'a> {
    fn element(&mut self, tag: u8) -> Option<&'a [u8]> {
        if *self.bytes.get(self.at)? != tag {
            return None;
        }
        let first = *self.bytes.get(self.at + 1)? as usize;
        let (len, header) = if first < 0x80 {
            (first, 2)
        } else {
            let count = first & 0x7f;
            let mut len = 0usize;
            for i in 0..count {
                len = (len << 8) | *self.bytes.get(self.at + 2 + i)? as usize;
            }
            (len, 2 + count)
        };
        let start = self.at + header;
        let body = self.bytes.get(start..start + len)?;
        self.at = start + len;
        Some(body)
    }
}

fn parse_uuid(s: &str) -> [u8; 16] {
    try_parse_uuid(s).unwrap_or([0; 16])
}

fn try_parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hexs: String = s.chars().filter(|c| *c != '-').collect();
    if hexs.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hexs[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

fn format_uuid(u: &[u8; 16]) -> String {
    let h = hex(u);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn hashes() {
        assert_eq!(ev(r#"md5("hello")"#), r#""5d41402abc4b2a76b9719d911017c592""#);
        assert_eq!(ev(r#"sha1("hello")"#), r#""aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d""#);
        assert_eq!(ev(r#"base64sha256("hello")"#), r#""LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=""#);
        assert_eq!(ev(r#"uuidv5("dns", "www.example.com")"#), r#""2ed6657d-e927-568b-95e1-2665a8aea6a2""#);
    }
}
