//! The expression lexer: text → tokens with their character positions.
//!
//! Rules follow GitHub's: single-quoted strings with `''` escapes, numbers
//! in JavaScript's formats (a leading `-`/`+` or `.` starts a number),
//! identifiers of letters, digits, `_` and `-`, and an unknown run of
//! characters up to the next boundary is one bad symbol.

use super::value::js_parse_number;
use super::{ErrorKind, ExprError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Bang,
    BangEqual,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    And,
    Or,
    Star,
    Number,
    String,
    Identifier,
    True,
    False,
    Null,
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) lexeme: String,
    /// The string's value or the number, for literals.
    pub(crate) string: String,
    pub(crate) number: f64,
    /// 0-based character offset of the token's start.
    pub(crate) pos: usize,
}

impl Token {
    /// How the token is named in error messages.
    pub(crate) fn describe(&self) -> String {
        match self.kind {
            TokenKind::Eof => "EOF".to_owned(),
            _ => self.lexeme.clone(),
        }
    }
}

/// The longest accepted expression, in characters.
pub(crate) const MAX_EXPRESSION_LENGTH: usize = 21_000;

pub(crate) fn lex(input: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = input.chars().collect();
    if chars.len() > MAX_EXPRESSION_LENGTH {
        return Err(ExprError::new(
            ErrorKind::Lexing,
            format!("Exceeded max expression length {MAX_EXPRESSION_LENGTH}"),
            None,
            input,
        ));
    }
    let mut lx = Lexer { input, chars, start: 0, offset: 0, tokens: Vec::new() };
    lx.run()?;
    Ok(lx.tokens)
}

struct Lexer<'a> {
    input: &'a str,
    chars: Vec<char>,
    start: usize,
    offset: usize,
    tokens: Vec<Token>,
}

fn is_boundary(c: char) -> bool {
    matches!(c, '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|') || c.is_whitespace()
}

fn is_legal_identifier(s: &str) -> bool {
    let mut it = s.chars();
    match it.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => it.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        _ => false,
    }
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), ExprError> {
        while self.offset < self.chars.len() {
            self.start = self.offset;
            let c = self.chars[self.offset];
            self.offset += 1;
            match c {
                '(' => self.add(TokenKind::LeftParen),
                ')' => self.add(TokenKind::RightParen),
                '[' => self.add(TokenKind::LeftBracket),
                ']' => self.add(TokenKind::RightBracket),
                ',' => self.add(TokenKind::Comma),
                '.' => {
                    if matches!(
                        self.previous(),
                        Some(TokenKind::Identifier | TokenKind::RightBracket | TokenKind::RightParen | TokenKind::Star)
                    ) {
                        self.add(TokenKind::Dot);
                    } else {
                        self.number()?;
                    }
                }
                '-' | '+' => self.number()?,
                '!' => {
                    let k = if self.matches('=') { TokenKind::BangEqual } else { TokenKind::Bang };
                    self.add(k);
                }
                '=' => {
                    if self.matches('=') {
                        self.add(TokenKind::EqualEqual);
                    } else {
                        self.identifier()?;
                    }
                }
                '<' => {
                    let k = if self.matches('=') { TokenKind::LessEqual } else { TokenKind::Less };
                    self.add(k);
                }
                '>' => {
                    let k = if self.matches('=') { TokenKind::GreaterEqual } else { TokenKind::Greater };
                    self.add(k);
                }
                '&' => {
                    if self.matches('&') {
                        self.add(TokenKind::And);
                    } else {
                        self.identifier()?;
                    }
                }
                '|' => {
                    if self.matches('|') {
                        self.add(TokenKind::Or);
                    } else {
                        self.identifier()?;
                    }
                }
                '*' => self.add(TokenKind::Star),
                ' ' | '\r' | '\t' | '\n' => {}
                '\'' => self.string()?,
                c if c.is_ascii_digit() => self.number()?,
                _ => self.identifier()?,
            }
        }
        self.start = self.offset;
        self.add(TokenKind::Eof);
        Ok(())
    }

    fn previous(&self) -> Option<TokenKind> {
        self.tokens.last().map(|t| t.kind)
    }

    fn matches(&mut self, c: char) -> bool {
        if self.chars.get(self.offset) == Some(&c) {
            self.offset += 1;
            true
        } else {
            false
        }
    }

    fn lexeme(&self) -> String {
        self.chars[self.start..self.offset].iter().collect()
    }

    fn add(&mut self, kind: TokenKind) {
        self.push(kind, String::new(), 0.0);
    }

    fn push(&mut self, kind: TokenKind, string: String, number: f64) {
        let lexeme = self.lexeme();
        self.tokens.push(Token { kind, lexeme, string, number, pos: self.start });
    }

    fn unexpected(&self, symbol: &str) -> ExprError {
        ExprError::new(ErrorKind::Lexing, format!("Unexpected symbol: '{symbol}'"), Some(self.start), self.input)
    }

    fn number(&mut self) -> Result<(), ExprError> {
        while let Some(&c) = self.chars.get(self.offset) {
            if is_boundary(c) && c != '.' {
                break;
            }
            self.offset += 1;
        }
        let lexeme = self.lexeme();
        let value = js_parse_number(&lexeme);
        if value.is_nan() {
            return Err(self.unexpected(&lexeme));
        }
        self.push(TokenKind::Number, String::new(), value);
        Ok(())
    }

    fn string(&mut self) -> Result<(), ExprError> {
        let mut value = String::new();
        loop {
            match self.chars.get(self.offset) {
                None => {
                    let rest: String = self.chars[self.start..].iter().collect();
                    return Err(self.unexpected(&rest));
                }
                Some('\'') => {
                    if self.chars.get(self.offset + 1) == Some(&'\'') {
                        value.push('\'');
                        self.offset += 2;
                    } else {
                        self.offset += 1;
                        break;
                    }
                }
                Some(&c) => {
                    value.push(c);
                    self.offset += 1;
                }
            }
        }
        self.push(TokenKind::String, value, 0.0);
        Ok(())
    }

    fn identifier(&mut self) -> Result<(), ExprError> {
        while let Some(&c) = self.chars.get(self.offset) {
            if is_boundary(c) {
                break;
            }
            self.offset += 1;
        }
        let lexeme = self.lexeme();
        let mut kind = TokenKind::Identifier;
        let mut number = 0.0;
        if self.previous() != Some(TokenKind::Dot) {
            match lexeme.as_str() {
                "true" => kind = TokenKind::True,
                "false" => kind = TokenKind::False,
                "null" => kind = TokenKind::Null,
                "NaN" => {
                    kind = TokenKind::Number;
                    number = f64::NAN;
                }
                "Infinity" => {
                    kind = TokenKind::Number;
                    number = f64::INFINITY;
                }
                _ => {}
            }
        }
        if !is_legal_identifier(&lexeme) {
            return Err(self.unexpected(&lexeme));
        }
        self.push(kind, String::new(), number);
        Ok(())
    }
}
