//! String functions: `format`, `formatlist`, `join`, `split`, `replace`,
//! `regex`, `regexall`, `substr`, `title`, `trim*`, `chomp`, `indent`,
//! `upper`, `lower`, `strrev`, `startswith`, `endswith`, `strcontains`.
//! Lengths and offsets count grapheme clusters, as Terraform's do.

use std::collections::BTreeMap;

use unicode_segmentation::UnicodeSegmentation;

use super::{ANY, B, FResult, Func, N, S, arg_err, f, fail, fv, int_arg, items, list_of, p, str_arg};
use crate::convert::convert;
use crate::number::Number;
use crate::value::{Type, Value};

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "upper" => f(vec![p("str", S)], |a, _| Ok(Value::string(go_case(str_arg(a, 0), true)))),
        "lower" => f(vec![p("str", S)], |a, _| Ok(Value::string(go_case(str_arg(a, 0), false)))),
        "strrev" => {
            f(vec![p("str", S)], |a, _| Ok(Value::string(str_arg(a, 0).graphemes(true).rev().collect::<String>())))
        }
        "chomp" => f(vec![p("str", S)], |a, _| Ok(Value::string(str_arg(a, 0).trim_end_matches(['\r', '\n'])))),
        "trimspace" => f(vec![p("str", S)], |a, _| Ok(Value::string(str_arg(a, 0).trim()))),
        "trim" => f(vec![p("str", S), p("cutset", S)], |a, _| {
            let cut: Vec<char> = str_arg(a, 1).chars().collect();
            Ok(Value::string(str_arg(a, 0).trim_matches(cut.as_slice())))
        }),
        "trimprefix" => f(vec![p("str", S), p("prefix", S)], |a, _| {
            let s = str_arg(a, 0);
            Ok(Value::string(s.strip_prefix(str_arg(a, 1)).unwrap_or(s)))
        }),
        "trimsuffix" => f(vec![p("str", S), p("suffix", S)], |a, _| {
            let s = str_arg(a, 0);
            Ok(Value::string(s.strip_suffix(str_arg(a, 1)).unwrap_or(s)))
        }),
        "startswith" => {
            f(vec![p("str", S), p("prefix", S)], |a, _| Ok(Value::Bool(str_arg(a, 0).starts_with(str_arg(a, 1)))))
        }
        "endswith" => {
            f(vec![p("str", S), p("suffix", S)], |a, _| Ok(Value::Bool(str_arg(a, 0).ends_with(str_arg(a, 1)))))
        }
        "strcontains" => {
            f(vec![p("str", S), p("substr", S)], |a, _| Ok(Value::Bool(str_arg(a, 0).contains(str_arg(a, 1)))))
        }
        "title" => f(vec![p("str", S)], |a, _| Ok(Value::string(title(str_arg(a, 0))))),
        "indent" => f(vec![p("spaces", N), p("str", S)], |a, _| {
            let n = int_arg(a, 0)?.max(0) as usize;
            if n > MAX_PAD {
                return fail(format!("indent of {n} spaces is too large"));
            }
            let pad = " ".repeat(n);
            Ok(Value::string(str_arg(a, 1).replace('\n', &format!("\n{pad}"))))
        }),
        "split" => f(vec![p("separator", S), p("str", S)], |a, _| {
            let (sep, s) = (str_arg(a, 0), str_arg(a, 1));
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::string(c.to_string())).collect()
            } else {
                s.split(sep).map(Value::string).collect()
            };
            Ok(Value::list(S, parts))
        }),
        "join" => fv(vec![p("separator", S)], p("lists", list_of(S)), |a, _| {
            if a.len() < 2 {
                return fail("at least one list is required");
            }
            let mut parts = Vec::new();
            for (li, list) in a[1..].iter().enumerate() {
                for (ei, item) in items(list).iter().enumerate() {
                    if item.is_null() {
                        return arg_err(li + 1, format!("element {ei} is null; cannot concatenate null values"));
                    }
                    parts.push(item.as_str().unwrap_or_default().to_owned());
                }
            }
            Ok(Value::string(parts.join(str_arg(a, 0))))
        }),
        "substr" => f(vec![p("str", S), p("offset", N), p("length", N)], |a, _| {
            let s = str_arg(a, 0);
            let g: Vec<&str> = s.graphemes(true).collect();
            let mut offset = int_arg(a, 1)?;
            let length = int_arg(a, 2)?;
            if offset < 0 {
                offset += g.len() as i64;
            }
            let start = if offset > 0 { (offset as usize).min(g.len()) } else { 0 };
            let rest = &g[start..];
            let end = if length < 0 { rest.len() } else { (length as usize).min(rest.len()) };
            Ok(Value::string(rest[..end].concat()))
        }),
        "replace" => f(vec![p("str", S), p("substr", S), p("replace", S)], |a, _| {
            let (s, sub, rep) = (str_arg(a, 0), str_arg(a, 1), str_arg(a, 2));
            if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
                let re = compile_go(&sub[1..sub.len() - 1]).map_err(|(code, expr)| {
                    super::FuncError::Failed(format!("error parsing regexp: {code}: `{expr}`"))
                })?;
                return Ok(Value::string(re.replace_all(s, go_expand_template(rep)).into_owned()));
            }
            Ok(Value::string(s.replace(sub, rep)))
        }),
        "regex" => f(vec![p("pattern", S), p("string", S)], |a, _| {
            let re = compile(str_arg(a, 0)).map_err(|e| super::FuncError::Arg(0, e))?;
            match re.captures(str_arg(a, 1)) {
                Some(caps) => Ok(captures_value(&re, &caps)),
                None => fail("pattern did not match any part of the given string"),
            }
        }),
        "regexall" => f(vec![p("pattern", S), p("string", S)], |a, _| {
            let re = compile(str_arg(a, 0)).map_err(|e| super::FuncError::Arg(0, e))?;
            let all: Vec<Value> = re.captures_iter(str_arg(a, 1)).map(|c| captures_value(&re, &c)).collect();
            let ty = all.first().map_or(ANY, Value::ty);
            let ty = if all.is_empty() { regex_result_type(&re) } else { ty };
            Ok(Value::list(ty, all))
        }),
        "format" => fv(vec![p("format", S)], super::p_null("args", ANY), |a, _| {
            format(str_arg(a, 0), &a[1..]).map(Value::string)
        }),
        "formatlist" => fv(vec![p("format", S)], super::p_null("args", ANY), formatlist),
        _ => return None,
    })
}

/// Go's `strings.ToUpper`/`ToLower`: one rune maps to one rune (so `ß`
/// stays `ß`).
fn go_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mapped: Vec<char> = if upper { c.to_uppercase().collect() } else { c.to_lowercase().collect() };
            match mapped.as_slice() {
                [one] => *one,
                [first, ..] if !upper => *first,
                _ => c,
            }
        })
        .collect()
}

/// Unicode title case of one character (Go's `unicode.ToTitle`): the
/// digraphs have their own title forms, everything else is upper case.
fn title_case(c: char) -> char {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        c => {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        }
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep && c.is_alphabetic() {
            out.push(title_case(c));
        } else {
            out.push(c);
        }
        if c.is_ascii() {
            prev_sep = !(c.is_ascii_alphanumeric() || c == '_');
        } else if c.is_alphanumeric() {
            prev_sep = false;
        } else {
            prev_sep = c.is_whitespace();
        }
    }
    out
}

/// A compiled pattern, or Go's words for why it is invalid: the error code
/// and the pattern.
fn compile_go(pattern: &str) -> Result<regex::Regex, (String, String)> {
    regex::Regex::new(pattern).map_err(|e| {
        let text = e.to_string();
        let code = if text.contains("unclosed group") {
            "missing closing )"
        } else if text.contains("unopened group") {
            "unexpected )"
        } else if text.contains("unclosed character class") {
            "missing closing ]"
        } else if text.contains("repetition operator missing expression") {
            "missing argument to repetition operator"
        } else if text.contains("escape") {
            "invalid escape sequence"
        } else if text.contains("invalid character class range") {
            "invalid character class range"
        } else {
            "invalid or unsupported Perl syntax"
        };
        (code.to_owned(), pattern.to_owned())
    })
}

/// For `regex`/`regexall`: "invalid regexp pattern: CODE in EXPR".
fn compile(pattern: &str) -> Result<regex::Regex, String> {
    compile_go(pattern).map_err(|(code, expr)| format!("invalid regexp pattern: {code} in {expr}"))
}

/// Go's `$1`/`${name}` expansion is what the regex crate does, except a
/// bare `$name` ends at the first non-word character in both.
fn go_expand_template(rep: &str) -> &str {
    rep
}

fn regex_result_type(re: &regex::Regex) -> Type {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        S
    } else if names.iter().any(Option::is_some) {
        Type::Object(names.iter().flatten().map(|n| ((*n).to_owned(), S)).collect())
    } else {
        Type::Tuple(names.iter().map(|_| S).collect())
    }
}

fn captures_value(re: &regex::Regex, caps: &regex::Captures<'_>) -> Value {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Value::string(caps.get(0).map_or("", |m| m.as_str()));
    }
    if names.iter().any(Option::is_some) {
        let mut obj = BTreeMap::new();
        for n in names.iter().flatten() {
            obj.insert((*n).to_owned(), caps.name(n).map_or(Value::Null(S), |m| Value::string(m.as_str())));
        }
        return Value::Object(obj);
    }
    Value::Tuple((1..caps.len()).map(|i| caps.get(i).map_or(Value::Null(S), |m| Value::string(m.as_str()))).collect())
}

fn formatlist(a: &[Value], _: &super::FuncContext) -> FResult {
    let fmt = str_arg(a, 0);
    let args = &a[1..];
    let mut len: Option<usize> = None;
    for (i, arg) in args.iter().enumerate() {
        if let Value::List(..) | Value::Tuple(_) | Value::Set(..) = arg.unmarked() {
            let n = items(arg).len();
            match len {
                Some(l) if l != n => {
                    return arg_err(
                        i + 1,
                        format!(
                            "argument {} has length {n}, which is inconsistent with argument {} of length {l}",
                            i + 1,
                            1
                        ),
                    );
                }
                _ => len = Some(n),
            }
        }
    }
    let Some(n) = len else {
        return Ok(Value::list(S, vec![Value::string(format(fmt, args)?)]));
    };
    let mut out = Vec::with_capacity(n);
    for row in 0..n {
        let row_args: Vec<Value> = args
            .iter()
            .map(|arg| match arg.unmarked() {
                Value::List(..) | Value::Tuple(_) | Value::Set(..) => items(arg)[row].clone(),
                _ => arg.clone(),
            })
            .collect();
        out.push(Value::string(format(fmt, &row_args)?));
    }
    Ok(Value::list(S, out))
}

/// Terraform's `format`: Go-style verbs `%v %d %f %e %g %s %q %t %x %X %o %b
/// %%` with flags, width, precision and `[n]` argument indexes.
pub(crate) fn format(fmt: &str, args: &[Value]) -> Result<String, super::FuncError> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut next_arg = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i < chars.len() && chars[i] == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        let verb_start = i - 1;
        let (mut minus, mut plus, mut zero, mut space, mut sharp) = (false, false, false, false, false);
        while i < chars.len() {
            match chars[i] {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            i += 1;
        }
        if i < chars.len() && chars[i] == '[' {
            let close = chars[i..].iter().position(|&c| c == ']').map(|p| p + i);
            if let Some(close) = close {
                let idx: String = chars[i + 1..close].iter().collect();
                match idx.parse::<usize>() {
                    Ok(n) if n >= 1 => next_arg = n - 1,
                    _ => return fail(format!("invalid argument index {idx:?}")),
                }
                i = close + 1;
            }
        }
        let mut width = None;
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i > start {
            width = chars[start..i].iter().collect::<String>().parse::<usize>().ok();
            if width.is_none_or(|w| w > MAX_PAD) {
                return fail(format!("format width in {} is too large", crate::format::quote(fmt)));
            }
        }
        let mut prec = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let p = chars[start..i].iter().collect::<String>().parse::<usize>().unwrap_or(usize::MAX);
            if i > start && p > MAX_PAD {
                return fail(format!("format precision in {} is too large", crate::format::quote(fmt)));
            }
            prec = Some(if i > start { p } else { 0 });
        }
        let Some(&verb) = chars.get(i) else {
            return fail("unterminated format verb");
        };
        i += 1;
        let verb_text: String = chars[verb_start..i].iter().collect();
        let Some(arg) = args.get(next_arg) else {
            return fail(format!(
                "not enough arguments for \"{verb_text}\" at {verb_start}: need index {} but have {} total",
                next_arg + 1,
                args.len()
            ));
        };
        next_arg += 1;
        let arg = arg.unmarked();
        let body = match verb {
            'v' => {
                if arg.is_null() {
                    "null".to_owned()
                } else {
                    match arg {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => signed(n.to_text(), plus, space),
                        Value::Bool(b) => b.to_string(),
                        other => match super::encoding::json_encode(other) {
                            Ok(s) => s,
                            Err(e) => return fail(e),
                        },
                    }
                }
            }
            's' => {
                if arg.is_null() {
                    return fail(format!(
                        "unsupported value for \"{verb_text}\" at {verb_start}: null value cannot be formatted"
                    ));
                }
                match convert(arg, &S) {
                    Ok(Value::String(s)) => match prec {
                        Some(p) => s.chars().take(p).collect(),
                        None => s,
                    },
                    _ => {
                        return fail(format!("unsupported value for \"{verb_text}\" at {verb_start}: string required"));
                    }
                }
            }
            'q' => match convert(arg, &S) {
                Ok(Value::String(s)) => super::encoding::json_string(&s),
                _ => return fail(format!("unsupported value for \"{verb_text}\" at {verb_start}: string required")),
            },
            't' => match convert(arg, &B) {
                Ok(Value::Bool(b)) => b.to_string(),
                _ => return fail(format!("unsupported value for \"{verb_text}\" at {verb_start}: bool required")),
            },
            'd' | 'x' | 'X' | 'o' | 'b' | 'f' | 'e' | 'E' | 'g' | 'G' => {
                let n = match convert(arg, &N) {
                    Ok(Value::Number(n)) => n,
                    _ => {
                        return fail(format!("unsupported value for \"{verb_text}\" at {verb_start}: number required"));
                    }
                };
                match verb {
                    'd' | 'x' | 'X' | 'o' | 'b' => {
                        if !n.is_integer() {
                            return fail(format!(
                                "unsupported value for \"{verb_text}\" at {verb_start}: an integer is required"
                            ));
                        }
                        let Some(int) = n.trunc_bigint() else {
                            return fail(format!(
                                "unsupported value for \"{verb_text}\" at {verb_start}: an integer is required"
                            ));
                        };
                        let mag = int.magnitude();
                        let digits = match verb {
                            'x' => mag.to_str_radix(16),
                            'X' => mag.to_str_radix(16).to_uppercase(),
                            'o' => mag.to_str_radix(8),
                            'b' => mag.to_str_radix(2),
                            _ => mag.to_str_radix(10),
                        };
                        let prefix = match (sharp, verb) {
                            (true, 'x') => "0x",
                            (true, 'X') => "0X",
                            (true, 'o') => "0",
                            _ => "",
                        };
                        let sign = if n.is_negative() && !n.is_zero() {
                            "-"
                        } else if plus {
                            "+"
                        } else if space {
                            " "
                        } else {
                            ""
                        };
                        format!("{sign}{prefix}{digits}")
                    }
                    'f' => signed(n.to_fixed(prec.unwrap_or(6)), plus, space),
                    'e' | 'E' => signed(n.to_exponent(prec.unwrap_or(6), verb == 'E'), plus, space),
                    _ => signed(format_g(&n, prec), plus, space),
                }
            }
            other => {
                return fail(format!(
                    "unsupported format verb '{other}' in {} at offset {}",
                    crate::format::quote(fmt),
                    fmt.char_indices().nth(verb_start).map_or(0, |(b, _)| b)
                ));
            }
        };
        out.push_str(&pad(body, width, minus, zero && !matches!(verb, 's' | 'q' | 'v' | 't')));
    }
    Ok(out)
}

/// The widest padding `indent` and `format` widths may ask for (a guard
/// against exhausting memory; Terraform itself crashes there).
const MAX_PAD: usize = 1 << 20;

fn signed(s: String, plus: bool, space: bool) -> String {
    if s.starts_with('-') {
        s
    } else if plus {
        format!("+{s}")
    } else if space {
        format!(" {s}")
    } else {
        s
    }
}

fn format_g(n: &Number, prec: Option<usize>) -> String {
    match prec {
        None => n.to_shortest_g(),
        Some(p) => {
            let p = p.max(1);
            let e = n.to_exponent(p - 1, false);
            let exp: i64 = e.rsplit(['e']).next().and_then(|x| x.parse().ok()).unwrap_or(0);
            if exp < -4 || exp >= p as i64 {
                e
            } else {
                let s = n.to_fixed((p as i64 - 1 - exp).max(0) as usize);
                if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
            }
        }
    }
}

fn pad(s: String, width: Option<usize>, left: bool, zero: bool) -> String {
    let Some(w) = width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, rest) = if s.starts_with(['-', '+', ' ']) { s.split_at(1) } else { ("", s.as_str()) };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn strings() {
        assert_eq!(ev(r#"upper("abc")"#), r#""ABC""#);
        assert_eq!(ev(r#"title("hello world-foo")"#), r#""Hello World-Foo""#);
        assert_eq!(ev(r#"substr("hello world", 1, 4)"#), r#""ello""#);
        assert_eq!(ev(r#"substr("hello", -3, -1)"#), r#""llo""#);
        assert_eq!(ev(r#"strrev("abc")"#), r#""cba""#);
        assert_eq!(ev(r#"chomp("x\n\r\n")"#), r#""x""#);
        assert_eq!(ev(r#"trim("?!hi!?", "!?")"#), r#""hi""#);
        assert_eq!(ev(r#"indent(2, "a\nb")"#), "<<EOT\na\n  b\nEOT");
        assert_eq!(ev(r#"split(",", "")"#), "tolist([\n  \"\",\n])");
        assert_eq!(ev(r#"join("-", ["a"], ["b", "c"])"#), r#""a-b-c""#);
        assert_eq!(ev(r#"replace("a-b-c", "/-(.)/", "_$1")"#), r#""a_b_c""#);
        assert_eq!(ev(r#"regex("(\\d+)-(\\d+)", "10-20")"#), "[\n  \"10\",\n  \"20\",\n]");
        assert_eq!(ev(r#"regex("[a-z]+", "123abc")"#), r#""abc""#);
        assert!(ev(r#"regex("x", "abc")"#).contains("pattern did not match"));
    }

    #[test]
    fn newer_string_functions() {
        assert_eq!(ev(r#"startswith("hello", "he")"#), "true");
        assert_eq!(ev(r#"endswith("hello", "he")"#), "false");
        assert_eq!(ev(r#"strcontains("hello", "ll")"#), "true");
        assert_eq!(ev(r#"issensitive(sensitive("x"))"#), "true");
        assert_eq!(ev(r#"issensitive("x")"#), "false");
        assert_eq!(ev(r#"ephemeralasnull("x")"#), "\"x\"");
        assert_eq!(ev(r#"templatestring("Hi $${n}%%{ if x }!%%{ endif }", { n = "you", x = true })"#), "\"Hi you!\"");
        assert!(ev(r#"templatestring("$${nope}", {})"#).contains("vars map does not contain key \"nope\""));
    }

    #[test]
    fn format_verbs() {
        assert_eq!(ev(r#"format("%05.2f|%-4s|%q", 3.14159, "ab", "q")"#), r#""03.14|ab  |\"q\"""#);
        assert_eq!(ev(r#"format("%d-%03d-%x", 7, 5, 255)"#), r#""7-005-ff""#);
        assert_eq!(ev(r#"format("%[2]s %[1]s", "a", "b")"#), r#""b a""#);
        assert_eq!(ev(r#"format("%v %t %%", true, false)"#), r#""true false %""#);
        assert_eq!(ev(r#"formatlist("%s=%d", ["a", "b"], 1)"#), "tolist([\n  \"a=1\",\n  \"b=1\",\n])");
        assert!(ev(r#"format("%d", 1.5)"#).starts_with("error"));
    }
}
