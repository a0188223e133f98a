//! Diagnostics: Terraform's `Error: summary` + detail, with the source range
//! they point at, and their plain-text rendering.

use std::ops::Range;

/// The numbered lines of `text` that a diagnostic's subject and context
/// cover, and the subject's line number.
pub fn snippet<'t>(text: &'t str, d: &Diagnostic) -> Option<(usize, Vec<(usize, &'t str)>)> {
    let subject = d.span.clone()?;
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let (mut start, mut end) = (subject.start, subject.end.max(subject.start));
    if let Some(c) = &d.context {
        start = start.min(c.start);
        end = end.max(c.end);
    }
    let first = line_of(start);
    let last = line_of(end.saturating_sub(1).max(start));
    let lines = text.lines().enumerate().skip(first - 1).take(last + 1 - first).map(|(i, l)| (i + 1, l)).collect();
    Some((line_of(subject.start), lines))
}

/// One error (cloudlet reports no warnings from the language yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub summary: String,
    pub detail: String,
    /// Byte range in the source the expression came from.
    pub span: Option<Range<usize>>,
    /// An error about a reference (undeclared variable, resource, ...):
    /// Terraform finds these before evaluating, so `try` and `can` do not
    /// catch them.
    pub is_reference: bool,
    /// A further error reported together with this one.
    pub next: Option<Box<Diagnostic>>,
    /// The enclosing expression (the whole call for a bad argument), whose
    /// lines are shown together with the subject's.
    pub context: Option<Range<usize>>,
}

impl Diagnostic {
    /// An error with a summary and a detail.
    pub fn new(summary: impl Into<String>, detail: impl Into<String>, span: Option<Range<usize>>) -> Diagnostic {
        Diagnostic {
            summary: summary.into(),
            detail: detail.into(),
            span,
            is_reference: false,
            next: None,
            context: None,
        }
    }

    /// An error about a reference, which `try` does not catch.
    pub fn reference(summary: impl Into<String>, detail: impl Into<String>, span: Option<Range<usize>>) -> Diagnostic {
        Diagnostic { is_reference: true, ..Diagnostic::new(summary, detail, span) }
    }

    /// The plain (`-no-color`) rendering: a blank line, `Error: summary`, a
    /// blank line, the location lines (`on main.tf line 3, in locals:` and
    /// the numbered source line, or "(source code not available)"), a blank
    /// line, the detail wrapped at 78 columns, a blank line. Without a
    /// location (a cycle) only the summary.
    pub fn render_plain(&self, location: &str, source: Option<(usize, &str)>) -> String {
        match source {
            Some(line) => self.render_lines(location, &[line]),
            None => self.render_lines(location, &[]),
        }
    }

    /// Like [`Diagnostic::render_plain`] with several numbered source lines.
    pub fn render_lines(&self, location: &str, lines: &[(usize, &str)]) -> String {
        let mut out = format!("\nError: {}\n\n", self.summary);
        if !location.is_empty() {
            out.push_str(&format!("  on {location}:\n"));
            if lines.is_empty() {
                out.push_str("  (source code not available)\n");
            }
            for (line_no, text) in lines {
                out.push_str(&format!("{line_no:>4}: {text}\n"));
            }
            out.push('\n');
        }
        if !self.detail.is_empty() {
            for line in self.detail.split('\n') {
                if line.starts_with(' ') {
                    out.push_str(line);
                } else {
                    out.push_str(&wrap(line, 77));
                }
                out.push('\n');
            }
        }
        out.push('\n');
        if let Some(next) = &self.next {
            out.push_str(&next.render_lines(location, lines));
        }
        out
    }
}

/// Word wrapping as Terraform does it: break at spaces so that no line is
/// longer than `limit` unless one word is.
pub fn wrap(s: &str, limit: usize) -> String {
    let mut out = String::new();
    let mut current = 0usize;
    let mut word = String::new();
    let mut word_len = 0usize;
    let mut space = String::new();
    let mut space_len = 0usize;
    for ch in s.chars() {
        if ch == '\n' {
            out.push_str(&space);
            space.clear();
            space_len = 0;
            if current + word_len > limit {
                current = 0;
                out.push('\n');
            }
            out.push_str(&word);
            word.clear();
            word_len = 0;
            out.push(ch);
        } else if ch.is_whitespace() && ch != '\u{a0}' {
            if space.is_empty() || !word.is_empty() {
                current += space_len + word_len;
                out.push_str(&space);
                space.clear();
                space_len = 0;
                out.push_str(&word);
                word.clear();
                word_len = 0;
            }
            space.push(ch);
            space_len += 1;
        } else {
            word.push(ch);
            word_len += 1;
            if current + space_len + word_len > limit && word_len < limit {
                out.push('\n');
                current = 0;
                space.clear();
                space_len = 0;
            }
        }
    }
    if word.is_empty() {
        if current + space_len <= limit {
            out.push_str(&space);
        }
    } else {
        out.push_str(&space);
        out.push_str(&word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_terraform() {
        let detail = "Invalid value for \"inputMap\" parameter: the given object has no attribute \"b\".";
        assert_eq!(
            wrap(detail, 77),
            "Invalid value for \"inputMap\" parameter: the given object has no attribute\n\"b\"."
        );
    }
}
