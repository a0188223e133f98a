//! Terraform's canonical formatting (`terraform fmt`), on tokens, as
//! hclwrite does it: only whitespace between tokens changes, so comments,
//! heredoc bodies and string contents are never touched.
//!
//! The passes, in hclwrite's order: lines are indented two spaces per open
//! bracket level (counted per line, so `foo({` indents once); the spaces
//! between tokens on a line follow hclwrite's table (one around binary
//! operators and `=`, none inside brackets or before a comma, a minus after
//! an operator is a negation); then the `=` of consecutive single-line
//! assignments are aligned, and the trailing comments of consecutive lines.
//! Blank lines are kept and end a run of aligned lines.
//!
//! Before that, Terraform's own fixes: `type = "string"` (and the other
//! 0.11 quoted types, and bare `list`/`map`/`set`) in `variable` blocks
//! become type expressions, an attribute whose whole value is one
//! interpolation (`"${var.x}"`) becomes the expression, and block labels
//! are quoted.

/// A token kind, as far as formatting needs to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Newline,
    Comment,
    Ident,
    Number,
    OQuote,
    CQuote,
    QuotedLit,
    OHeredoc,
    CHeredoc,
    StringLit,
    Interp,
    Control,
    SeqEnd,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Equal,
    Comma,
    Dot,
    Minus,
    Colon,
    Question,
    /// `+ * / %`.
    Arith,
    /// `== != < > <= >=`.
    Compare,
    /// `&& ||`.
    Logic,
    Bang,
    Ellipsis,
    /// `=>`, `~` and anything else.
    Other,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    text: String,
    spaces: usize,
}

fn tok(kind: Kind, text: impl Into<String>) -> Token {
    Token { kind, text: text.into(), spaces: 0 }
}

/// A syntax error the formatter cannot get past, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FmtError {
    pub line: usize,
    pub message: String,
}

/// Formats one file's text; the same text comes back when it is already
/// in canonical form.
pub fn format(src: &str) -> Result<String, FmtError> {
    let tokens = lex(src)?;
    let tokens = terraform_fixes(tokens);
    Ok(layout(tokens))
}

enum Mode {
    /// Ordinary tokens; `brace` says whether a `}` closes an interpolation.
    Normal {
        interp: bool,
    },
    Quoted,
    Heredoc {
        marker: String,
        indented: bool,
    },
}

fn lex(src: &str) -> Result<Vec<Token>, FmtError> {
    let b = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut stack = vec![Mode::Normal { interp: false }];
    let mut i = 0;
    let mut line = 1;
    let mut pending_spaces = 0;
    let err = |line: usize, message: &str| FmtError { line, message: message.to_owned() };
    while i < b.len() {
        let top = stack.last().ok_or_else(|| err(line, "unbalanced brackets"))?;
        match top {
            Mode::Quoted => {
                if b[i] == b'"' {
                    out.push(tok(Kind::CQuote, "\""));
                    stack.pop();
                    i += 1;
                    continue;
                }
                if b[i] == b'\n' {
                    return Err(err(line, "Unterminated template string: no closing marker was found for the string."));
                }
                if let Some(kind) = template_opener(b, i) {
                    out.push(tok(kind, &src[i..i + 2]));
                    i += 2;
                    if b.get(i) == Some(&b'~') {
                        out.push(tok(Kind::Other, "~"));
                        i += 1;
                    }
                    stack.push(Mode::Normal { interp: true });
                    continue;
                }
                let start = i;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' && template_opener(b, i).is_none() {
                    if b[i] == b'\\' {
                        i += 1;
                    } else if (b[i] == b'$' || b[i] == b'%')
                        && b.get(i + 1) == Some(&b[i])
                        && b.get(i + 2) == Some(&b'{')
                    {
                        i += 2;
                    }
                    i += 1;
                }
                out.push(tok(Kind::QuotedLit, &src[start..i.min(b.len())]));
                i = i.min(b.len());
            }
            Mode::Heredoc { marker, indented } => {
                // At the start of a line: the closing marker, or content.
                let line_end = src[i..].find('\n').map_or(b.len(), |n| i + n);
                let text = &src[i..line_end];
                let closes = if *indented { text.trim() == marker } else { text.trim_end() == marker };
                let at_line_start = i == 0 || b[i - 1] == b'\n';
                if at_line_start && closes {
                    out.push(tok(Kind::CHeredoc, text));
                    i = line_end;
                    stack.pop();
                    continue;
                }
                let start = i;
                while i < b.len() && template_opener(b, i).is_none() {
                    if (b[i] == b'$' || b[i] == b'%') && b.get(i + 1) == Some(&b[i]) && b.get(i + 2) == Some(&b'{') {
                        i += 3;
                        continue;
                    }
                    if b[i] == b'\n' {
                        i += 1;
                        line += 1;
                        break;
                    }
                    i += 1;
                }
                if i > start {
                    out.push(tok(Kind::StringLit, &src[start..i]));
                }
                if i < b.len()
                    && (i == 0 || b[i - 1] != b'\n')
                    && let Some(kind) = template_opener(b, i)
                {
                    out.push(tok(kind, &src[i..i + 2]));
                    i += 2;
                    if b.get(i) == Some(&b'~') {
                        out.push(tok(Kind::Other, "~"));
                        i += 1;
                    }
                    stack.push(Mode::Normal { interp: true });
                }
                if i >= b.len() {
                    return Err(err(
                        line,
                        "Unterminated template string: no closing marker was found for the heredoc.",
                    ));
                }
            }
            Mode::Normal { interp } => {
                let interp = *interp;
                let c = b[i];
                let rest = &src[i..];
                if c == b' ' || c == b'\t' {
                    pending_spaces += 1;
                    i += 1;
                    continue;
                }
                let start = i;
                let token = if c == b'\n' || rest.starts_with("\r\n") {
                    i += if c == b'\n' { 1 } else { 2 };
                    line += 1;
                    tok(Kind::Newline, "\n")
                } else if c == b'#' || rest.starts_with("//") {
                    let end = rest.find('\n').map_or(b.len(), |n| i + n + 1);
                    i = end;
                    line += 1;
                    tok(Kind::Comment, src[start..end].trim_end_matches(['\r', '\n']).to_owned() + "\n")
                } else if rest.starts_with("/*") {
                    let end = rest.find("*/").map(|n| i + n + 2).ok_or_else(|| {
                        err(line, "Unterminated multi-line comment: there is no closing */ for this comment.")
                    })?;
                    line += src[start..end].matches('\n').count();
                    i = end;
                    tok(Kind::Comment, &src[start..end])
                } else if c == b'"' {
                    i += 1;
                    stack.push(Mode::Quoted);
                    tok(Kind::OQuote, "\"")
                } else if rest.starts_with("<<") && heredoc_start(rest).is_some() {
                    let (len, marker, indented) = heredoc_start(rest).unwrap_or_default();
                    i += len;
                    line += 1;
                    stack.push(Mode::Heredoc { marker, indented });
                    tok(Kind::OHeredoc, &src[start..i])
                } else if c.is_ascii_digit() {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                        // An exponent's sign belongs to the number.
                        if (b[i] == b'e' || b[i] == b'E') && matches!(b.get(i + 1), Some(b'+' | b'-')) {
                            i += 1;
                        }
                        // `1.x` is a traversal on a number, not a fraction.
                        if b[i] == b'.' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                            break;
                        }
                        i += 1;
                    }
                    tok(Kind::Number, &src[start..i])
                } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-' || b[i] >= 0x80)
                    {
                        i += 1;
                    }
                    tok(Kind::Ident, &src[start..i])
                } else {
                    let three = rest.get(..3).unwrap_or("");
                    let two = rest.get(..2).unwrap_or("");
                    let (kind, len) = if three == "..." {
                        (Kind::Ellipsis, 3)
                    } else {
                        match two {
                            "==" | "!=" | "<=" | ">=" => (Kind::Compare, 2),
                            "&&" | "||" => (Kind::Logic, 2),
                            "=>" => (Kind::Other, 2),
                            _ => match c {
                                b'{' => (Kind::OBrace, 1),
                                b'}' => (Kind::CBrace, 1),
                                b'[' => (Kind::OBrack, 1),
                                b']' => (Kind::CBrack, 1),
                                b'(' => (Kind::OParen, 1),
                                b')' => (Kind::CParen, 1),
                                b'=' => (Kind::Equal, 1),
                                b',' => (Kind::Comma, 1),
                                b'.' => (Kind::Dot, 1),
                                b'-' => (Kind::Minus, 1),
                                b':' => (Kind::Colon, 1),
                                b'?' => (Kind::Question, 1),
                                b'+' | b'*' | b'/' | b'%' => (Kind::Arith, 1),
                                b'<' | b'>' => (Kind::Compare, 1),
                                b'!' => (Kind::Bang, 1),
                                b'~' => (Kind::Other, 1),
                                b'\r' => {
                                    i += 1;
                                    continue;
                                }
                                _ => {
                                    return Err(err(
                                        line,
                                        &format!(
                                            "Invalid character: this character is not used within the language: {:?}",
                                            rest.chars().next().unwrap_or(' ')
                                        ),
                                    ));
                                }
                            },
                        }
                    };
                    i += len;
                    let mut kind = kind;
                    match kind {
                        Kind::OBrace => stack.push(Mode::Normal { interp: false }),
                        Kind::CBrace => {
                            if stack.len() > 1 {
                                stack.pop();
                            }
                            if interp {
                                kind = Kind::SeqEnd;
                            }
                        }
                        _ => {}
                    }
                    tok(kind, &src[start..i])
                };
                let mut token = token;
                token.spaces = pending_spaces;
                pending_spaces = 0;
                out.push(token);
            }
        }
    }
    if stack.len() > 1 {
        return Err(err(line, "Unclosed configuration block: there is no closing brace for an opening brace."));
    }
    Ok(out)
}

fn template_opener(b: &[u8], i: usize) -> Option<Kind> {
    match (b.get(i), b.get(i + 1)) {
        (Some(b'$'), Some(b'{')) if i == 0 || b[i - 1] != b'$' => Some(Kind::Interp),
        (Some(b'%'), Some(b'{')) if i == 0 || b[i - 1] != b'%' => Some(Kind::Control),
        _ => None,
    }
}

/// `<<EOT\n` or `<<-EOT\n`: (length including the newline, marker, indented).
fn heredoc_start(rest: &str) -> Option<(usize, String, bool)> {
    let after = &rest[2..];
    let (indented, name_part) = match after.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, after),
    };
    let name_len = name_part.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).unwrap_or(name_part.len());
    if name_len == 0 {
        return None;
    }
    let marker = &name_part[..name_len];
    let tail = &name_part[name_len..];
    let nl = if tail.starts_with("\r\n") {
        2
    } else if tail.starts_with('\n') {
        1
    } else {
        return None;
    };
    Some((2 + usize::from(indented) + name_len + nl, marker.to_owned(), indented))
}

fn bracket_change(t: &Token) -> i32 {
    match t.kind {
        Kind::OBrace | Kind::OBrack | Kind::OParen | Kind::Interp | Kind::Control => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::SeqEnd => -1,
        _ => 0,
    }
}

fn ends_line(t: &Token) -> bool {
    t.kind == Kind::Newline || (t.kind == Kind::Comment && t.text.ends_with('\n'))
}

/// Terraform's `fmt` fixes over the body structure.
fn terraform_fixes(tokens: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    // The block types enclosing the current body.
    let mut blocks: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t.kind {
            Kind::Ident if tokens.get(i + 1).is_some_and(|n| n.kind == Kind::Equal) => {
                let name = t.text.clone();
                out.push(t.clone());
                out.push(tokens[i + 1].clone());
                let start = i + 2;
                let mut end = start;
                let mut depth = 0;
                while end < tokens.len() {
                    let e = &tokens[end];
                    if depth == 0 && (ends_line(e) || e.kind == Kind::CBrace) {
                        break;
                    }
                    if depth == 0 && e.kind == Kind::Comment {
                        break;
                    }
                    depth += bracket_change(e);
                    end += 1;
                }
                let expr = tokens[start..end].to_vec();
                let fixed = if blocks.len() == 1 && blocks[0] == "variable" && name == "type" {
                    fix_type(expr)
                } else {
                    unwrap_interpolation(expr)
                };
                out.extend(fixed);
                i = end;
            }
            Kind::Ident => {
                // A block header: TYPE LABEL... {
                let mut j = i + 1;
                let mut labels: Vec<Vec<Token>> = Vec::new();
                let mut ok = true;
                while j < tokens.len() && tokens[j].kind != Kind::OBrace {
                    match tokens[j].kind {
                        Kind::Ident => {
                            labels.push(vec![
                                tok(Kind::OQuote, "\""),
                                tok(Kind::QuotedLit, &tokens[j].text),
                                tok(Kind::CQuote, "\""),
                            ]);
                            j += 1;
                        }
                        Kind::OQuote
                            if tokens.get(j + 1).is_some_and(|t| t.kind == Kind::QuotedLit)
                                && tokens.get(j + 2).is_some_and(|t| t.kind == Kind::CQuote) =>
                        {
                            labels.push(tokens[j..j + 3].to_vec());
                            j += 3;
                        }
                        Kind::OQuote if tokens.get(j + 1).is_some_and(|t| t.kind == Kind::CQuote) => {
                            labels.push(tokens[j..j + 2].to_vec());
                            j += 2;
                        }
                        _ => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok || j >= tokens.len() {
                    out.push(t.clone());
                    i += 1;
                    continue;
                }
                out.push(t.clone());
                for label in labels {
                    out.extend(label);
                }
                out.push(tokens[j].clone());
                blocks.push(t.text.clone());
                i = j + 1;
            }
            Kind::CBrace => {
                blocks.pop();
                out.push(t.clone());
                i += 1;
            }
            _ => {
                out.push(t.clone());
                i += 1;
            }
        }
    }
    out
}

fn fix_type(expr: Vec<Token>) -> Vec<Token> {
    let kinds: Vec<Kind> = expr.iter().map(|t| t.kind).collect();
    let call = |name: &str, arg: &str| {
        vec![tok(Kind::Ident, name), tok(Kind::OParen, "("), tok(Kind::Ident, arg), tok(Kind::CParen, ")")]
    };
    match kinds.as_slice() {
        [Kind::Ident] if matches!(expr[0].text.as_str(), "list" | "map" | "set") => call(&expr[0].text, "any"),
        [Kind::OQuote, Kind::QuotedLit, Kind::CQuote] => match expr[1].text.as_str() {
            "string" => vec![tok(Kind::Ident, "string")],
            "list" => call("list", "string"),
            "map" => call("map", "string"),
            _ => expr,
        },
        _ => expr,
    }
}

/// `"${ EXPR }"` → `EXPR` when the string is exactly one interpolation.
fn unwrap_interpolation(expr: Vec<Token>) -> Vec<Token> {
    let n = expr.len();
    if n < 5
        || expr[0].kind != Kind::OQuote
        || expr[1].kind != Kind::Interp
        || expr[n - 2].kind != Kind::SeqEnd
        || expr[n - 1].kind != Kind::CQuote
    {
        return expr;
    }
    let inside = &expr[2..n - 2];
    let mut quotes = 0;
    for t in inside {
        match t.kind {
            Kind::OQuote => quotes += 1,
            Kind::CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            Kind::Interp | Kind::SeqEnd | Kind::QuotedLit | Kind::Control => return expr,
            Kind::Other if t.text == "~" => return expr,
            _ => {}
        }
    }
    let mut inner: Vec<Token> = inside.to_vec();
    while inner.first().is_some_and(|t| t.kind == Kind::Newline) {
        inner.remove(0);
    }
    while inner.last().is_some_and(|t| t.kind == Kind::Newline) {
        inner.pop();
    }
    if inner.is_empty() {
        return expr;
    }
    if inner.iter().any(ends_line) {
        let mut wrapped = vec![tok(Kind::OParen, "(")];
        wrapped.extend(inner);
        wrapped.push(tok(Kind::CParen, ")"));
        return wrapped;
    }
    inner
}

struct Line {
    lead: Vec<Token>,
    assign: Vec<Token>,
    comment: Vec<Token>,
}

fn layout(tokens: Vec<Token>) -> String {
    let mut lines: Vec<Line> = Vec::new();
    let mut current = Vec::new();
    for t in tokens {
        let end = ends_line(&t);
        current.push(t);
        if end {
            lines.push(Line { lead: std::mem::take(&mut current), assign: Vec::new(), comment: Vec::new() });
        }
    }
    if !current.is_empty() {
        lines.push(Line { lead: current, assign: Vec::new(), comment: Vec::new() });
    }
    // Cells: a trailing comment, and the `=` and what follows it when the
    // right-hand side closes every bracket it opens.
    for line in &mut lines {
        // The newline travels with the comment cell (or stays last in lead).
        let newline = match line.lead.last() {
            Some(t) if t.kind == Kind::Newline => line.lead.pop(),
            _ => None,
        };
        if newline.is_none() && line.lead.len() > 1 && line.lead.last().is_some_and(|t| t.kind == Kind::Comment) {
            line.comment = line.lead.split_off(line.lead.len() - 1);
        }
        if let Some(pos) = line.lead.iter().skip(1).position(|t| t.kind == Kind::Equal).map(|p| p + 1) {
            let mut net = 0;
            for t in &line.lead[pos..] {
                net += bracket_change(t);
                if t.kind == Kind::OHeredoc {
                    break;
                }
            }
            if net == 0 {
                line.assign = line.lead.split_off(pos);
            }
        }
        if let Some(nl) = newline {
            line.comment.push(nl);
        }
    }
    indent(&mut lines);
    spaces(&mut lines);
    align(&mut lines);
    let mut out = String::new();
    for line in &lines {
        for t in line.lead.iter().chain(&line.assign).chain(&line.comment) {
            if t.kind == Kind::Newline {
                // Never spaces before a newline.
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push('\n');
                continue;
            }
            for _ in 0..t.spaces {
                out.push(' ');
            }
            out.push_str(&t.text);
        }
    }
    out
}

fn indent(lines: &mut [Line]) {
    let mut stack: Vec<i32> = Vec::new();
    for line in lines.iter_mut() {
        let Some(first) = line.lead.first() else {
            if let Some(c) = line.comment.first_mut() {
                c.spaces = 0;
            }
            continue;
        };
        if first.kind == Kind::Newline {
            continue;
        }
        let mut net = 0;
        for t in line.lead.iter().chain(&line.assign) {
            net += bracket_change(t);
            if t.kind == Kind::OHeredoc {
                break;
            }
        }
        let level = if net > 0 {
            let level = stack.len();
            stack.push(net);
            level
        } else if net < 0 {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = stack.last_mut() else { break };
                if closed >= *top {
                    closed -= *top;
                    stack.pop();
                } else {
                    *top -= closed;
                    closed = 0;
                }
            }
            stack.len()
        } else {
            stack.len()
        };
        // A heredoc's closing marker keeps its own indentation.
        if first.kind != Kind::CHeredoc {
            line.lead[0].spaces = 2 * level;
        }
    }
}

fn space_after(subject: &Token, before: Option<&Token>, after: &Token) -> bool {
    use Kind::*;
    let k = subject.kind;
    let a = after.kind;
    if a == Newline {
        return false;
    }
    if k == Ident && a == OParen {
        return false;
    }
    if k == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if k == Comma {
        return true;
    }
    if matches!(k, QuotedLit | StringLit | OQuote | OHeredoc) || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        return false;
    }
    if k == Ident && subject.text == "in" && before.is_some_and(|b| b.kind == Ident) {
        return true;
    }
    if a == OBrack && (k == Ident || k == Number || bracket_change(subject) < 0) {
        return false;
    }
    if k == Minus {
        return !matches!(
            before.map(|b| b.kind),
            None | Some(
                OParen | OBrace | OBrack | Equal | Colon | Comma | Question | Arith | Minus | Compare | Logic | Bang
            )
        );
    }
    if k == OBrace || a == CBrace {
        return !(k == OBrace && a == CBrace);
    }
    if matches!(k, Interp | Control) && a == OBrace {
        return true;
    }
    if k == CBrace && a == SeqEnd {
        return true;
    }
    if k == SeqEnd && matches!(a, Interp | Control) {
        return false;
    }
    if bracket_change(subject) > 0 {
        return false;
    }
    if bracket_change(after) < 0 {
        return false;
    }
    // A strip marker hugs its delimiter: `${~ x ~}`.
    if (k == Other && subject.text == "~" && before.is_some_and(|b| matches!(b.kind, Interp | Control)))
        || (a == Other && after.text == "~" && matches!(k, Interp | Control))
    {
        return false;
    }
    if a == SeqEnd && k == Other && subject.text == "~" {
        return false;
    }
    if k == Bang {
        return false;
    }
    true
}

fn spaces(lines: &mut [Line]) {
    for line in lines.iter_mut() {
        for cell in [&mut line.lead, &mut line.assign] {
            for i in 0..cell.len().saturating_sub(1) {
                let space = space_after(&cell[i], if i > 0 { Some(&cell[i - 1]) } else { None }, &cell[i + 1]);
                cell[i + 1].spaces = usize::from(space);
            }
        }
        if let Some(first) = line.assign.first_mut() {
            first.spaces = 1;
        }
        if let Some(first) = line.comment.first_mut()
            && first.kind == Kind::Comment
        {
            first.spaces = 1;
        }
    }
}

fn columns(tokens: &[Token]) -> usize {
    tokens.iter().map(|t| t.spaces + t.text.chars().count()).sum()
}

fn align(lines: &mut [Line]) {
    let mut chain: Vec<usize> = Vec::new();
    let flush = |lines: &mut [Line], chain: &mut Vec<usize>, cell: bool| {
        let width = chain
            .iter()
            .map(|&i| if cell { columns(&lines[i].lead) } else { columns(&lines[i].lead) + columns(&lines[i].assign) })
            .max()
            .unwrap_or(0);
        for &i in chain.iter() {
            let used = if cell { columns(&lines[i].lead) } else { columns(&lines[i].lead) + columns(&lines[i].assign) };
            let target = if cell { &mut lines[i].assign[0] } else { &mut lines[i].comment[0] };
            target.spaces = width - used + 1;
        }
        chain.clear();
    };
    for i in 0..lines.len() {
        if lines[i].assign.is_empty() {
            flush(lines, &mut chain, true);
        } else {
            chain.push(i);
        }
    }
    flush(lines, &mut chain, true);
    for i in 0..lines.len() {
        if lines[i].comment.first().is_some_and(|t| t.kind == Kind::Comment) && !lines[i].lead.is_empty() {
            chain.push(i);
        } else {
            flush(lines, &mut chain, false);
        }
    }
    flush(lines, &mut chain, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_is_unchanged() {
        let text = "resource \"a\" \"b\" {\n  x   = 1\n  yyy = [1, 2]\n\n  z = {\n    k = \"v\"\n  }\n}\n";
        assert_eq!(format(text).expect("formats"), text);
    }

    #[test]
    fn spacing_and_alignment() {
        let text = "locals {\n    a=1\n  bb = -1 + 2*(3-1) # c\n  c = !true\n  d = f(1,2)[0]\n}\n";
        assert_eq!(
            format(text).expect("formats"),
            "locals {\n  a  = 1\n  bb = -1 + 2 * (3 - 1) # c\n  c  = !true\n  d  = f(1, 2)[0]\n}\n"
        );
    }

    #[test]
    fn heredocs_are_left_alone() {
        let text = "x = <<EOT\n   keep   this ${ a }\nEOT\ny = <<-EOT\n    a\n    EOT\n";
        assert_eq!(format(text).expect("formats"), "x = <<EOT\n   keep   this ${a}\nEOT\ny = <<-EOT\n    a\n    EOT\n");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert_eq!(format("a = \"x\n").expect_err("unterminated").line, 1);
        assert!(format("a {\n").is_err());
    }
}
