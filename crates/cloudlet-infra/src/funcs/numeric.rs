//! Numeric functions: `abs`, `ceil`, `floor`, `log`, `pow`, `signum`,
//! `max`, `min`, `parseint`. `log` and `pow` compute in float64, as
//! Terraform does; the others keep the argument's precision.

use num_bigint::BigInt;

use super::{FResult, Func, N, arg_err, f, fail, fv, int_arg, p};
use crate::number::Number;
use crate::value::Value;

fn num(a: &[Value], i: usize) -> Number {
    a[i].as_number().cloned().unwrap_or_else(|| Number::from_i64(0))
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "abs" => f(vec![p("num", N)], |a, _| Ok(Value::Number(num(a, 0).abs()))),
        "ceil" => f(vec![p("num", N)], |a, _| Ok(Value::Number(num(a, 0).ceil()))),
        "floor" => f(vec![p("num", N)], |a, _| Ok(Value::Number(num(a, 0).floor()))),
        "signum" => f(vec![p("num", N)], |a, _| Ok(Value::int(int_arg(a, 0)?.signum()))),
        "log" => {
            f(vec![p("num", N), p("base", N)], |a, _| float_result(num(a, 0).to_f64().ln() / num(a, 1).to_f64().ln()))
        }
        "pow" => f(vec![p("num", N), p("power", N)], |a, _| float_result(num(a, 0).to_f64().powf(num(a, 1).to_f64()))),
        "max" => fv(vec![], p("numbers", N), |a, _| extreme(a, true)),
        "min" => fv(vec![], p("numbers", N), |a, _| extreme(a, false)),
        "parseint" => f(vec![p("number", super::ANY), p("base", N)], |a, _| {
            let base = int_arg(a, 1)?;
            let Some(s) = a[0].as_str() else {
                return arg_err(0, "first argument must be a string, not ".to_owned() + &a[0].ty().friendly_name());
            };
            if !(2..=62).contains(&base) {
                return arg_err(1, "base must be a whole number between 2 and 62 inclusive");
            }
            let (neg, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.strip_prefix('+').unwrap_or(s)),
            };
            let parsed = go_parse_int(digits, base as u32);
            match parsed.filter(|_| !digits.is_empty() && !digits.starts_with(['+', '-'])) {
                Some(v) => Ok(Value::Number(Number::from_bigint(&if neg { -v } else { v }))),
                None => arg_err(0, format!("cannot parse {} as a base {base} integer", crate::format::quote(s))),
            }
        }),
        _ => return None,
    })
}

/// A float64 result; not-a-number is an error (Terraform 1.0.3 panics).
fn float_result(v: f64) -> FResult {
    if v.is_nan() {
        return fail("the result is not a number");
    }
    Ok(Value::Number(Number::from_f64(v)))
}

/// Go's `big.Int.SetString` digits: `0-9`, then letters (case-insensitive
/// up to base 36; above it `a-z` are 10–35 and `A-Z` 36–61); no signs or
/// underscores here.
fn go_parse_int(digits: &str, base: u32) -> Option<BigInt> {
    if digits.is_empty() {
        return None;
    }
    let mut v = BigInt::from(0u32);
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        v = v * base + d;
    }
    Some(v)
}

fn extreme(a: &[Value], max: bool) -> FResult {
    if a.is_empty() {
        return fail("must pass at least one number");
    }
    let mut best = num(a, 0);
    for i in 1..a.len() {
        let n = num(a, i);
        let better = if max { n.cmp_value(&best).is_gt() } else { n.cmp_value(&best).is_lt() };
        if better {
            best = n;
        }
    }
    Ok(Value::Number(best))
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn numbers() {
        assert_eq!(ev("floor(-1.5)"), "-2");
        assert_eq!(ev("ceil(1.2)"), "2");
        assert_eq!(ev("abs(-3)"), "3");
        assert_eq!(ev("signum(-3)"), "-1");
        assert_eq!(ev("pow(2, 64)"), "18446744073709550000");
        assert_eq!(ev("max(1, 5, 3)"), "5");
        assert!(ev("max()").contains("must pass at least one number"));
        assert_eq!(ev(r#"parseint("ff", 16)"#), "255");
        assert_eq!(ev(r#"parseint("-101", 2)"#), "-5");
        assert_eq!(ev("log(8, 2)"), "3");
        assert!(ev("pow(-8, 1/3)").contains("the result is not a number"));
        assert!(ev("log(1, 1)").contains("the result is not a number"));
        assert_eq!(ev(r#"parseint("Zz", 62)"#), "3817");
    }
}
