//! Parsing and validating the identifiers the Lambda API takes: the
//! `FunctionName` member in every form AWS accepts, qualifiers, alias names,
//! and the validation messages AWS sends when they are malformed.
//!
//! `FunctionName` may be a name (`my-fn`), a name with a qualifier
//! (`my-fn:prod`), a partial ARN (`123456789012:function:my-fn`) or a full
//! ARN (`arn:aws:lambda:us-east-1:123456789012:function:my-fn:7`). The
//! grammar is AWS's regular expression, matched here by hand with the same
//! (greedy, backtracking) semantics so the crate needs no regex engine.

use crate::error::{ErrorType, LambdaError};
use crate::model::LATEST;

/// Which operation a `FunctionName` is for: they differ in the longest name
/// they accept and whether `.` may appear (AWS's models differ the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// GetFunction, Invoke: up to 170 characters, `.` allowed.
    Namespaced,
    /// CreateFunction and DeleteFunction: up to 140 characters.
    Short,
    /// Every other operation: up to 170 characters, no `.`.
    Plain,
}

impl NameRule {
    fn max_len(self) -> usize {
        match self {
            NameRule::Namespaced | NameRule::Plain => 170,
            NameRule::Short => 140,
        }
    }

    fn allows_dot(self) -> bool {
        self == NameRule::Namespaced
    }

    fn pattern(self) -> &'static str {
        if self.allows_dot() {
            r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        } else {
            r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        }
    }
}

/// A parsed `FunctionName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionRef {
    pub(crate) name: String,
    pub(crate) qualifier: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) account: Option<String>,
    /// Whether the input was the bare name (no ARN parts, no qualifier).
    pub(crate) bare: bool,
}

/// Parses `raw` as a `FunctionName` for an operation with `rule`, failing
/// with AWS's `ValidationException` text.
pub(crate) fn parse_function_name(raw: &str, rule: NameRule) -> Result<FunctionRef, LambdaError> {
    let mut errors = Vec::new();
    if raw.chars().count() > rule.max_len() {
        errors.push(format!(
            "Value '{raw}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to {}",
            rule.max_len()
        ));
    }
    let parsed = match_function_name(raw, rule.allows_dot());
    if parsed.is_none() {
        errors.push(format!(
            "Value '{raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
            rule.pattern()
        ));
    }
    match parsed {
        Some(parsed) if errors.is_empty() => Ok(parsed),
        _ => Err(validation_error(errors)),
    }
}

/// `N validation error(s) detected: A; B` as one `ValidationException`.
pub(crate) fn validation_error(errors: Vec<String>) -> LambdaError {
    let count = errors.len();
    let plural = if count == 1 { "" } else { "s" };
    LambdaError::new(
        ErrorType::ValidationException,
        format!("{count} validation error{plural} detected: {}", errors.join("; ")),
    )
}

/// One constraint failure of one member, as a `ValidationException`.
pub(crate) fn invalid_member(value: &str, member: &str, constraint: &str) -> LambdaError {
    validation_error(vec![format!("Value '{value}' at '{member}' failed to satisfy constraint: {constraint}")])
}

/// Checks a `Qualifier` parameter: 1–128 characters of `[a-zA-Z0-9$_-]`.
pub(crate) fn check_qualifier(qualifier: &str) -> Result<(), LambdaError> {
    let mut errors = Vec::new();
    if qualifier.chars().count() > 128 {
        errors.push(format!(
            "Value '{qualifier}' at 'qualifier' failed to satisfy constraint: Member must have length less than or equal to 128"
        ));
    }
    if qualifier.is_empty() || !qualifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"$_-".contains(&b)) {
        errors.push(format!(
            "Value '{qualifier}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
        ));
    }
    if errors.is_empty() { Ok(()) } else { Err(validation_error(errors)) }
}

/// Whether `qualifier` names a published version: digits only.
pub(crate) fn is_version_number(qualifier: &str) -> bool {
    !qualifier.is_empty() && qualifier.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` is a valid alias name: `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`,
/// 1–128 characters.
pub(crate) fn is_alias_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && is_word(name, false) && !is_version_number(name)
}

/// The alias-name `ValidationException`.
pub(crate) fn invalid_alias_name(name: &str) -> LambdaError {
    invalid_member(name, "name", "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
}

/// `[a-zA-Z0-9-_]+`, plus `.` when `dot`.
fn is_word(s: &str, dot: bool) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (dot && b == b'.'))
}

/// Matches AWS's `FunctionName` expression against the whole of `raw`.
///
/// The expression is a sequence of optional groups (ARN prefix, region,
/// account, `function:`) followed by the name and an optional qualifier.
/// Like a backtracking regex engine, this tries every optional group
/// included before excluded, in order, and takes the first full match.
fn match_function_name(raw: &str, dot: bool) -> Option<FunctionRef> {
    let tokens: Vec<&str> = raw.split(':').collect();
    let mut parsed = FunctionRef { name: String::new(), qualifier: None, region: None, account: None, bare: false };
    if match_from(&tokens, 0, 0, dot, &mut parsed) {
        parsed.bare = tokens.len() == 1;
        Some(parsed)
    } else {
        None
    }
}

/// Tries optional group `group` (0 ARN prefix, 1 region, 2 account,
/// 3 `function`, 4 the rest) at `tokens[at..]`.
fn match_from(tokens: &[&str], at: usize, group: u8, dot: bool, out: &mut FunctionRef) -> bool {
    let rest = &tokens[at..];
    match group {
        0 => {
            let arn_prefix = rest.len() >= 3 && rest[0] == "arn" && is_partition(rest[1]) && rest[2] == "lambda";
            if arn_prefix && match_from(tokens, at + 3, 1, dot, out) {
                return true;
            }
            match_from(tokens, at, 1, dot, out)
        }
        1 => {
            if rest.first().is_some_and(|t| is_region(t)) && match_from(tokens, at + 1, 2, dot, out) {
                out.region = Some(rest[0].to_owned());
                return true;
            }
            out.region = None;
            match_from(tokens, at, 2, dot, out)
        }
        2 => {
            let is_account = |t: &&str| t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit());
            if rest.first().is_some_and(is_account) && match_from(tokens, at + 1, 3, dot, out) {
                out.account = Some(rest[0].to_owned());
                return true;
            }
            out.account = None;
            match_from(tokens, at, 3, dot, out)
        }
        3 => {
            if rest.first() == Some(&"function") && match_from(tokens, at + 1, 4, dot, out) {
                return true;
            }
            match_from(tokens, at, 4, dot, out)
        }
        _ => match rest {
            [name] if is_word(name, dot) => {
                out.name = (*name).to_owned();
                out.qualifier = None;
                true
            }
            [name, qualifier] if is_word(name, dot) && (*qualifier == LATEST || is_word(qualifier, false)) => {
                out.name = (*name).to_owned();
                out.qualifier = Some((*qualifier).to_owned());
                true
            }
            _ => false,
        },
    }
}

/// `(aws[a-zA-Z-]*)?`
fn is_partition(s: &str) -> bool {
    s.is_empty() || (s.starts_with("aws") && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
}

/// `[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`
fn is_region(s: &str) -> bool {
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let country = |p: &str| p.len() == 2 && lower(p);
    let digit = |p: &str| p.len() == 1 && p.bytes().all(|b| b.is_ascii_digit());
    let special = |p: &str| p == "gov" || (p.starts_with("iso") && p.len() <= 4 && lower(p));
    match s.split('-').collect::<Vec<_>>().as_slice() {
        [c, word, d] => country(c) && lower(word) && digit(d),
        [c, extra, word, d] => country(c) && special(extra) && lower(word) && digit(d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, qualifier, region, account) of a parse, for comparisons.
    type Parts = (String, Option<String>, Option<String>, Option<String>);

    fn parse(raw: &str) -> Option<Parts> {
        match_function_name(raw, false).map(|r| (r.name, r.qualifier, r.region, r.account))
    }

    fn some(name: &str, q: Option<&str>, region: Option<&str>, account: Option<&str>) -> Option<Parts> {
        Some((name.into(), q.map(Into::into), region.map(Into::into), account.map(Into::into)))
    }

    #[test]
    fn every_form_of_function_name() {
        assert_eq!(parse("my-fn"), some("my-fn", None, None, None));
        assert_eq!(parse("my-fn:prod"), some("my-fn", Some("prod"), None, None));
        assert_eq!(parse("my-fn:$LATEST"), some("my-fn", Some("$LATEST"), None, None));
        assert_eq!(parse("123456789012:function:my-fn"), some("my-fn", None, None, Some("123456789012")));
        assert_eq!(parse("123456789012:function:my-fn:3"), some("my-fn", Some("3"), None, Some("123456789012")));
        assert_eq!(
            parse("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
            some("my-fn", None, Some("us-east-1"), Some("123456789012"))
        );
        assert_eq!(
            parse("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:live"),
            some("f", Some("live"), Some("us-gov-west-1"), Some("123456789012"))
        );
        assert_eq!(parse("function:my-fn"), some("my-fn", None, None, None));
        // A name that looks like an account id is a name when nothing follows.
        assert_eq!(parse("123456789012"), some("123456789012", None, None, None));
        assert!(match_function_name("my-fn", false).is_some_and(|r| r.bare));
        assert!(match_function_name("my-fn:1", false).is_some_and(|r| !r.bare));
    }

    #[test]
    fn malformed_names() {
        for bad in ["", "my fn", "a:b:c", "arn:aws:lambda:us-east-1:123456789012:function:", "my.fn", "f:$NOPE", ":f"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(match_function_name("my.fn", true).is_some());
    }

    #[test]
    fn validation_messages() {
        let err = parse_function_name("my fn", NameRule::Plain).expect_err("space");
        assert_eq!(err.error_type, ErrorType::ValidationException);
        assert!(
            err.message.starts_with(
                "1 validation error detected: Value 'my fn' at 'functionName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
            ),
            "{}",
            err.message
        );
        let long = "x".repeat(141);
        let err = parse_function_name(&format!("{long} "), NameRule::Short).expect_err("long and bad");
        assert!(err.message.starts_with("2 validation errors detected: "), "{}", err.message);
        assert!(err.message.contains("Member must have length less than or equal to 140"), "{}", err.message);
        check_qualifier("prod").expect("alias");
        check_qualifier("$LATEST").expect("latest");
        let err = check_qualifier("a b").expect_err("space");
        assert!(err.message.contains("(|[a-zA-Z0-9$_-]+)"), "{}", err.message);
    }

    #[test]
    fn alias_names() {
        assert!(is_alias_name("prod"));
        assert!(is_alias_name("v1-blue_2"));
        assert!(!is_alias_name("12"));
        assert!(!is_alias_name("$LATEST"));
        assert!(!is_alias_name(""));
        assert!(is_version_number("12"));
        assert!(!is_version_number("1a"));
    }
}
