//! IP network functions: `cidrhost`, `cidrnetmask`, `cidrsubnet`,
//! `cidrsubnets`, for IPv4 and IPv6 prefixes.

use super::{Func, N, S, arg_err, f, fail, fv, list_of, p, str_arg, whole_arg};
use crate::value::Value;

#[derive(Clone, Copy)]
struct Prefix {
    v6: bool,
    addr: u128,
    len: u32,
}

impl Prefix {
    fn bits(&self) -> u32 {
        if self.v6 { 128 } else { 32 }
    }
    fn network(&self) -> u128 {
        let host = self.bits() - self.len;
        if host >= 128 { 0 } else { self.addr >> host << host }
    }
}

fn parse_prefix(s: &str) -> Option<Prefix> {
    let (addr, len) = s.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    if let Ok(v4) = addr.parse::<std::net::Ipv4Addr>() {
        if len > 32 {
            return None;
        }
        return Some(Prefix { v6: false, addr: u128::from(u32::from(v4)), len });
    }
    let v6: std::net::Ipv6Addr = addr.parse().ok()?;
    if len > 128 {
        return None;
    }
    Some(Prefix { v6: true, addr: u128::from(v6), len })
}

fn fmt_addr(v6: bool, a: u128) -> String {
    if v6 { std::net::Ipv6Addr::from(a).to_string() } else { std::net::Ipv4Addr::from(a as u32).to_string() }
}

fn invalid(s: &str) -> String {
    format!("invalid CIDR expression: invalid CIDR address: {s}")
}

fn subnet(p: Prefix, newbits: i64, num: i64) -> Result<Prefix, String> {
    let newlen = p.len as i64 + newbits;
    if newlen > p.bits() as i64 || newlen < 0 {
        return Err(format!("insufficient address space to extend prefix of {} by {newbits}", p.len));
    }
    if newbits < 0 {
        // A shorter prefix: the parent's address under the wider mask.
        let shift = p.bits() - newlen as u32;
        let addr = if shift >= 128 { 0 } else { p.addr >> shift << shift };
        return Ok(Prefix { v6: p.v6, addr, len: newlen as u32 });
    }
    let max = if newbits >= 127 { u128::MAX } else { (1u128 << newbits) - 1 };
    if num < 0 || (num as u128) > max {
        return Err(format!("prefix extension of {newbits} does not accommodate a subnet numbered {num}"));
    }
    let shift = p.bits() - newlen as u32;
    let addr = p.network() | ((num as u128) << shift);
    Ok(Prefix { v6: p.v6, addr, len: newlen as u32 })
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "cidrhost" => f(vec![p("prefix", S), p("hostnum", N)], |a, _| {
            let s = str_arg(a, 0);
            let pfx = parse_prefix(s).ok_or_else(|| super::FuncError::Failed(invalid(s)))?;
            let host = whole_arg(a, 1)?;
            let hostbits = pfx.bits() - pfx.len;
            let size: i128 = if hostbits >= 127 { i128::MAX } else { 1i128 << hostbits };
            let mut h = i128::from(host);
            if h < 0 {
                h += size;
            }
            if h >= size || h < 0 {
                return fail(format!("prefix of {} does not accommodate a host numbered {h}", pfx.len));
            }
            let offset = h as u128;
            Ok(Value::string(fmt_addr(pfx.v6, pfx.network() | offset)))
        }),
        "cidrnetmask" => f(vec![p("prefix", S)], |a, _| {
            let s = str_arg(a, 0);
            let pfx = parse_prefix(s).ok_or_else(|| super::FuncError::Failed(invalid(s)))?;
            if pfx.v6 {
                let mask: u128 = if pfx.len == 0 { 0 } else { u128::MAX << (128 - pfx.len) };
                return Ok(Value::string(std::net::Ipv6Addr::from(mask).to_string()));
            }
            let mask: u32 = if pfx.len == 0 { 0 } else { u32::MAX << (32 - pfx.len) };
            Ok(Value::string(std::net::Ipv4Addr::from(mask).to_string()))
        }),
        "cidrsubnet" => f(vec![p("prefix", S), p("newbits", N), p("netnum", N)], |a, _| {
            let s = str_arg(a, 0);
            let pfx = parse_prefix(s).ok_or_else(|| super::FuncError::Failed(invalid(s)))?;
            let sub = subnet(pfx, whole_arg(a, 1)?, whole_arg(a, 2)?).or_else(fail)?;
            Ok(Value::string(format!("{}/{}", fmt_addr(sub.v6, sub.addr), sub.len)))
        }),
        "cidrsubnets" => fv(vec![p("prefix", S)], p("newbits", N), |a, _| {
            let s = str_arg(a, 0);
            let pfx = parse_prefix(s).ok_or_else(|| super::FuncError::Failed(invalid(s)))?;
            let mut next = pfx.network();
            let mut out = Vec::new();
            for i in 1..a.len() {
                let nb = whole_arg(a, i)?;
                let newlen = pfx.len as i64 + nb;
                if nb < 1 || newlen > pfx.bits() as i64 {
                    return arg_err(
                        i,
                        format!(
                            "would extend prefix to {newlen} bits, which is too long for an IPv{} address",
                            if pfx.v6 { 6 } else { 4 }
                        ),
                    );
                }
                let shift = pfx.bits() - newlen as u32;
                let size = 1u128 << shift;
                let start = next.div_ceil(size) * size;
                let end_of_parent = pfx.network()
                    | (if pfx.bits() - pfx.len >= 128 { u128::MAX } else { (1u128 << (pfx.bits() - pfx.len)) - 1 });
                if start > end_of_parent || start.saturating_add(size - 1) > end_of_parent {
                    return arg_err(
                        i,
                        format!(
                            "not enough remaining address space for a subnet with a prefix of {newlen} bits after {}",
                            out.last().and_then(|v: &Value| v.as_str().map(str::to_owned)).unwrap_or_default()
                        ),
                    );
                }
                out.push(Value::string(format!("{}/{}", fmt_addr(pfx.v6, start), newlen)));
                next = start + size;
            }
            Ok(Value::list(S, out))
        }),
        _ => {
            let _ = list_of;
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn cidrs() {
        assert_eq!(ev(r#"cidrhost("10.12.112.0/20", 16)"#), r#""10.12.112.16""#);
        assert_eq!(ev(r#"cidrhost("10.12.112.0/20", -1)"#), r#""10.12.127.255""#);
        assert_eq!(ev(r#"cidrnetmask("172.16.0.0/12")"#), r#""255.240.0.0""#);
        assert_eq!(ev(r#"cidrsubnet("10.1.2.0/24", 4, 15)"#), r#""10.1.2.240/28""#);
        assert_eq!(ev(r#"cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)"#), r#""fd00:fd12:3456:7800:a200::/72""#);
        assert_eq!(
            ev(r#"cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)"#),
            "tolist([\n  \"10.1.0.0/20\",\n  \"10.1.16.0/20\",\n  \"10.1.32.0/24\",\n  \"10.1.48.0/20\",\n])"
        );
    }
}
