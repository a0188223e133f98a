//! How cloudlet prints errors: the whole chain of causes, once each.
//!
//! Error types follow one convention (see ARCHITECTURE.md, "Error Handling"):
//! `thiserror` enums whose variants carry context fields and keep the cause
//! in `#[source]`, never interpolated into their own message. [`ErrorChain`]
//! then prints every level exactly once.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its sources.
///
/// `{}` gives one line, `outer: cause: root cause`, for logs and JSON bodies;
/// `{:#}` gives one cause per line, for a terminal:
///
/// ```text
/// outer
///   caused by: cause
///   caused by: root cause
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            if f.alternate() {
                write!(f, "\n  caused by: {cause}")?;
            } else {
                write!(f, ": {cause}")?;
            }
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to open the store at `{path}`")]
    struct OpenError {
        path: String,
        #[source]
        err: std::io::Error,
    }

    #[test]
    fn prints_every_cause_once() {
        let err = OpenError {
            path: "/data/cloudlet.db".to_owned(),
            err: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied"),
        };
        assert_eq!(ErrorChain(&err).to_string(), "failed to open the store at `/data/cloudlet.db`: permission denied");
        assert_eq!(
            format!("{:#}", ErrorChain(&err)),
            "failed to open the store at `/data/cloudlet.db`\n  caused by: permission denied"
        );
    }
}
