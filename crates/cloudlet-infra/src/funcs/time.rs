//! Time functions: `timestamp` (impure: unknown during plan, otherwise the
//! injected time), `formatdate` and `timeadd` on RFC 3339 timestamps.

use super::{Func, S, arg_err, f, fail, p, str_arg};
use crate::value::Value;

/// A moment in UTC offset form: civil fields plus an offset in seconds.
#[derive(Debug, Clone, Copy)]
struct Moment {
    /// Seconds since the Unix epoch (UTC).
    secs: i64,
    nanos: u32,
    offset_secs: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp the way Go's `time.Parse` does, with
/// Terraform's wording of its errors ("not a valid RFC3339 timestamp: ...").
fn parse_rfc3339(s: &str) -> Result<Moment, String> {
    let prefix = "not a valid RFC3339 timestamp";
    let q = crate::format::quote;
    let what = |elem: &str| match elem {
        "2006" => "year",
        "01" => "month",
        "02" => "day of month",
        "15" => "hour",
        "04" => "minute",
        "05" => "second",
        "Z07:00" => "UTC offset",
        _ => "timestamp segment",
    };
    let elem_err = |elem: &str, rest: &str| {
        if rest.is_empty() {
            format!("{prefix}: end of string before {}", what(elem))
        } else {
            format!("{prefix}: cannot use {} as {}", q(rest), what(elem))
        }
    };
    let lit = |rest: &mut &str, want: &str| -> Result<(), String> {
        match rest.strip_prefix(want) {
            Some(r) => {
                *rest = r;
                Ok(())
            }
            None if want == "T" => Err(format!("{prefix}: missing required time introducer 'T'")),
            None if rest.is_empty() => Err(format!("{prefix}: end of string where {} is expected", q(want))),
            None => Err(format!("{prefix}: found {} where {} is expected", q(rest), q(want))),
        }
    };
    // Digits: exactly `n` when fixed, else one or two.
    let num = |rest: &mut &str, elem: &str, fixed: Option<usize>| -> Result<i64, String> {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let take = match fixed {
            Some(n) if digits >= n => n,
            Some(_) => return Err(elem_err(elem, rest)),
            None if digits == 0 => return Err(elem_err(elem, rest)),
            None => digits.min(2),
        };
        let v: i64 = rest[..take].parse().map_err(|_| elem_err(elem, rest))?;
        *rest = &rest[take..];
        Ok(v)
    };
    let mut rest = s;
    let y = num(&mut rest, "2006", Some(4))?;
    lit(&mut rest, "-")?;
    let mo = num(&mut rest, "01", Some(2))?;
    if !(1..=12).contains(&mo) {
        return Err(elem_err("01", rest));
    }
    lit(&mut rest, "-")?;
    let d = num(&mut rest, "02", Some(2))?;
    if !(1..=31).contains(&d) {
        return Err(elem_err("02", rest));
    }
    lit(&mut rest, "T")?;
    let h = num(&mut rest, "15", None)?;
    if h > 23 {
        return Err(elem_err("15", rest));
    }
    lit(&mut rest, ":")?;
    let mi = num(&mut rest, "04", Some(2))?;
    if mi > 59 {
        return Err(elem_err("04", rest));
    }
    lit(&mut rest, ":")?;
    let se = num(&mut rest, "05", Some(2))?;
    if se > 59 {
        return Err(elem_err("05", rest));
    }
    let mut nanos = 0u32;
    if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
        let frac = &rest[1..1 + digits];
        nanos = format!("{frac:0<9}")[..9].parse().unwrap_or(0);
        rest = &rest[1 + digits..];
    }
    let offset = if let Some(r) = rest.strip_prefix('Z') {
        rest = r;
        0
    } else {
        let b = rest.as_bytes();
        if b.len() < 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
            return Err(elem_err("Z07:00", rest));
        }
        let hh: i64 = rest[1..3].parse().map_err(|_| elem_err("Z07:00", rest))?;
        let mm: i64 = rest[4..6].parse().map_err(|_| elem_err("Z07:00", rest))?;
        let sign = if b[0] == b'-' { -1 } else { 1 };
        rest = &rest[6..];
        sign * (hh * 3600 + mm * 60)
    };
    if !rest.is_empty() {
        return Err(elem_err("", rest));
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d > month_days[(mo - 1) as usize] {
        return Err(format!("{prefix}: day out of range"));
    }
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    Ok(Moment { secs, nanos, offset_secs: offset })
}

fn format_rfc3339(m: Moment) -> String {
    let local = m.secs + m.offset_secs;
    let (y, mo, d) = civil_from_days(local.div_euclid(86400));
    let rem = local.rem_euclid(86400);
    let mut s = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    // Go's RFC 3339 layout has no fractional seconds.
    if m.offset_secs == 0 {
        s.push('Z');
    } else {
        let o = m.offset_secs.abs();
        s.push_str(&format!("{}{:02}:{:02}", if m.offset_secs < 0 { '-' } else { '+' }, o / 3600, o % 3600 / 60));
    }
    s
}

/// Go's `time.ParseDuration` (h, m, s, ms, us, µs, ns; signs; fractions),
/// with Go's error texts.
fn parse_duration(orig: &str) -> Result<i128, String> {
    let quoted = crate::format::quote(orig);
    let invalid = || format!("time: invalid duration {quoted}");
    let (neg, mut rest) = match orig.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, orig.strip_prefix('+').unwrap_or(orig)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let digits = &rest[..end];
        if digits == "." || digits.matches('.').count() > 1 {
            return Err(invalid());
        }
        let n: f64 = digits.parse().map_err(|_| invalid())?;
        rest = &rest[end..];
        let uend = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..uend];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("time: unknown unit {} in duration {quoted}", crate::format::quote(other))),
        };
        rest = &rest[uend..];
        total += n * scale;
    }
    let ns = total.round() as i128;
    Ok(if neg { -ns } else { ns })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn formatdate(spec: &str, m: Moment) -> Result<String, String> {
    let local = m.secs + m.offset_secs;
    let days = local.div_euclid(86400);
    let (y, mo, d) = civil_from_days(days);
    let rem = local.rem_euclid(86400);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let wd = (days + 4).rem_euclid(7) as usize;
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            loop {
                if j >= chars.len() {
                    return Err("unterminated literal '".into());
                }
                if chars[j] == '\'' {
                    if chars.get(j + 1) == Some(&'\'') {
                        out.push('\'');
                        j += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[j]);
                j += 1;
            }
            if j == i + 1 {
                out.push('\'');
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let tok: String = chars[i..j].iter().collect();
        let off = m.offset_secs;
        let piece = match tok.as_str() {
            "YYYY" => format!("{y:04}"),
            "YY" => format!("{:02}", y % 100),
            "MMMM" => MONTHS[(mo - 1) as usize].to_owned(),
            "MMM" => MONTHS[(mo - 1) as usize][..3].to_owned(),
            "MM" => format!("{mo:02}"),
            "M" => mo.to_string(),
            "DD" => format!("{d:02}"),
            "D" => d.to_string(),
            "EEEE" => DAYS[wd].to_owned(),
            "EEE" => DAYS[wd][..3].to_owned(),
            "hh" => format!("{h:02}"),
            "h" => h.to_string(),
            "HH" => format!("{:02}", if h % 12 == 0 { 12 } else { h % 12 }),
            "H" => (if h % 12 == 0 { 12 } else { h % 12 }).to_string(),
            "AA" => (if h < 12 { "AM" } else { "PM" }).to_owned(),
            "aa" => (if h < 12 { "am" } else { "pm" }).to_owned(),
            "mm" => format!("{mi:02}"),
            "m" => mi.to_string(),
            "ss" => format!("{s:02}"),
            "s" => s.to_string(),
            "ZZZZZ" => zone(off, true, true),
            "ZZZZ" => zone(off, false, true),
            "ZZZ" => {
                if off == 0 {
                    "UTC".to_owned()
                } else {
                    zone(off, false, true)
                }
            }
            "Z" => zone(off, true, false),
            other => return Err(format!("invalid date format verb {}", crate::format::quote(other))),
        };
        out.push_str(&piece);
        i = j;
    }
    Ok(out)
}

fn zone(off: i64, colon: bool, never_z: bool) -> String {
    if off == 0 && !never_z {
        return "Z".into();
    }
    let o = off.abs();
    format!("{}{:02}{}{:02}", if off < 0 { '-' } else { '+' }, o / 3600, if colon { ":" } else { "" }, o % 3600 / 60)
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "timestamp" => super::Func {
            impure: true,
            ..f(vec![], |_, ctx| match &ctx.now_rfc3339 {
                Some(now) => Ok(Value::string(now.clone())),
                None => Ok(Value::Unknown(S)),
            })
        },
        "formatdate" => f(vec![p("format", S), p("time", S)], |a, _| {
            let ts = str_arg(a, 1);
            let m = parse_rfc3339(ts).or_else(|e| arg_err(1, e))?;
            formatdate(str_arg(a, 0), m).map(Value::string).or_else(|e| arg_err(0, e))
        }),
        "timecmp" => f(vec![p("timestamp_a", S), p("timestamp_b", S)], |a, _| {
            let x = parse_rfc3339(str_arg(a, 0)).or_else(|e| arg_err(0, e))?;
            let y = parse_rfc3339(str_arg(a, 1)).or_else(|e| arg_err(1, e))?;
            let ord = (x.secs, x.nanos).cmp(&(y.secs, y.nanos));
            Ok(Value::int(ord as i64))
        }),
        "timeadd" => f(vec![p("timestamp", S), p("duration", S)], |a, _| {
            let ts = str_arg(a, 0);
            let m = parse_rfc3339(ts).or_else(fail)?;
            let dur = str_arg(a, 1);
            let ns = parse_duration(dur).or_else(fail)?;
            let total = (i128::from(m.secs) * 1_000_000_000 + i128::from(m.nanos)).saturating_add(ns);
            let secs = total.div_euclid(1_000_000_000);
            // Go's times end around the year 292277026596; stay well inside.
            if secs.unsigned_abs() > 9_000_000_000_000_000 / 1000 {
                return fail(format!("time: duration {} takes the time out of range", crate::format::quote(dur)));
            }
            let secs = secs as i64;
            let nanos = total.rem_euclid(1_000_000_000) as u32;
            Ok(Value::string(format_rfc3339(Moment { secs, nanos, offset_secs: m.offset_secs })))
        }),
        _ => return None,
    })
}

/// Formats Unix seconds as Terraform's `timestamp()` does.
pub fn rfc3339_utc(unix_secs: i64) -> String {
    format_rfc3339(Moment { secs: unix_secs, nanos: 0, offset_secs: 0 })
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn dates() {
        assert_eq!(ev(r#"formatdate("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z")"#), r#""02 Jan 2018 23:12 UTC""#);
        assert_eq!(
            ev(r#"formatdate("EEEE, MMMM D, YYYY 'at' h:mm", "2018-01-02T23:12:01-08:00")"#),
            r#""Tuesday, January 2, 2018 at 23:12""#
        );
        assert_eq!(ev(r#"timeadd("2017-11-22T00:00:00Z", "10m")"#), r#""2017-11-22T00:10:00Z""#);
        assert_eq!(ev(r#"timeadd("2017-11-22T00:00:00Z", "-1h30m")"#), r#""2017-11-21T22:30:00Z""#);
        assert_eq!(super::rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert!(ev(r#"timeadd("2017-11-22T00:00:00Z", "99999999999999999999999h")"#).starts_with("error"));
        assert_eq!(ev(r#"timecmp("2017-11-22T00:00:00Z", "2017-11-22T01:00:00+01:00")"#), "0");
        assert_eq!(ev(r#"timecmp("2017-11-22T00:00:01Z", "2017-11-22T00:00:00Z")"#), "1");
        assert_eq!(ev(r#"timecmp("2017-11-21T00:00:00Z", "2017-11-22T00:00:00Z")"#), "-1");
    }
}
