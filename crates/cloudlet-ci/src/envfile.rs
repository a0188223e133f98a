//! The runner's file commands: `GITHUB_ENV` / `GITHUB_OUTPUT` (`NAME=VALUE`
//! and `NAME<<DELIMITER` blocks) and `GITHUB_PATH`, parsed exactly as the
//! runner parses them, with its error messages. Pure: text in, pairs out.

/// A malformed environment file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error("Environment variable name must not be empty and delimiter must not be empty")]
    Empty,
    #[error("Matching delimiter not found '{0}'")]
    DelimiterNotFound(String),
    #[error("Invalid environment variable format '{0}'")]
    InvalidFormat(String),
}

/// Parses a `GITHUB_ENV` or `GITHUB_OUTPUT` file into pairs, in order.
/// Lines are separated by LF (a CR before it is kept, as on Linux).
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let lines: Vec<&str> = text.split('\n').collect();
    // A trailing newline does not start another line.
    let count = if text.ends_with('\n') { lines.len() - 1 } else { lines.len() };
    let mut out = Vec::new();
    let mut i = 0;
    while i < count {
        let line = lines[i];
        i += 1;
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(EnvFileError::Empty);
                }
                out.push((name.to_owned(), value.to_owned()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(EnvFileError::Empty);
                }
                let mut value: Vec<&str> = Vec::new();
                let mut found = false;
                while i < count {
                    let l = lines[i];
                    i += 1;
                    if l == delimiter {
                        found = true;
                        break;
                    }
                    value.push(l);
                }
                if !found {
                    return Err(EnvFileError::DelimiterNotFound(delimiter.to_owned()));
                }
                out.push((name.to_owned(), value.join("\n")));
            }
            _ => return Err(EnvFileError::InvalidFormat(line.to_owned())),
        }
    }
    Ok(out)
}

/// Parses a `GITHUB_PATH` file: each non-empty line is a directory.
pub fn parse_path_file(text: &str) -> Vec<String> {
    text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Prepends `dirs` (in file order, so the last line ends up first) to the
/// job's added paths, newest first, without duplicates.
pub fn prepend_paths(added: &mut Vec<String>, dirs: &[String]) {
    for d in dirs {
        added.retain(|x| x != d);
        added.insert(0, d.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn simple_and_multiline_values() {
        let text = "A=1\n\nB=x=y\nM<<EOF\nline 1\nline 2\nEOF\nC<<X=Y\nv\nX=Y\n";
        assert_eq!(parse_env_file(text), Ok(pairs(&[("A", "1"), ("B", "x=y"), ("M", "line 1\nline 2"), ("C", "v")])));
        // `<<` before `=` makes a block (`C<<X=Y` has the delimiter `X=Y`);
        // a block's value keeps inner empty lines.
        assert_eq!(parse_env_file("K<<E\n\na\n\nE\n"), Ok(pairs(&[("K", "\na\n")])));
        assert_eq!(parse_env_file("K<<E\nE"), Ok(pairs(&[("K", "")])));
    }

    #[test]
    fn the_runners_errors() {
        assert_eq!(parse_env_file("=v\n"), Err(EnvFileError::Empty));
        assert_eq!(parse_env_file("K<<\n"), Err(EnvFileError::Empty));
        assert_eq!(parse_env_file("K<<EOF\nvalue\n"), Err(EnvFileError::DelimiterNotFound("EOF".to_owned())));
        assert_eq!(parse_env_file("just text\n"), Err(EnvFileError::InvalidFormat("just text".to_owned())));
        assert_eq!(EnvFileError::DelimiterNotFound("EOF".to_owned()).to_string(), "Matching delimiter not found 'EOF'");
    }

    #[test]
    fn paths_are_prepended_newest_first_without_duplicates() {
        let mut added = vec!["/a".to_owned()];
        prepend_paths(&mut added, &parse_path_file("/b\n\n/a\n/c\n"));
        assert_eq!(added, ["/c", "/a", "/b"]);
    }
}
