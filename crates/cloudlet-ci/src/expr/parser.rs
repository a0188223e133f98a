//! The expression parser: tokens → AST, with GitHub's precedence
//! (`.`/`[]`, `!`, comparisons, equality, `&&`, `||`, all left
//! associative), its depth limit of 50, and parse-time checks that every
//! named value is an available context and every function exists with an
//! accepted number of arguments.

use super::lexer::{Token, TokenKind};
use super::{ErrorKind, ExprError};

/// The deepest nesting GitHub accepts.
pub(crate) const MAX_DEPTH: usize = 50;

#[derive(Clone, Debug)]
pub enum Expr {
    Literal(super::Value),
    Context(String),
    Not(Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `&&` or `||` over two or more operands.
    Logical(LogicalOp, Vec<Expr>),
    Index(Box<Expr>, Index),
    Call(String, Vec<Expr>),
    Group(Box<Expr>),
}

#[derive(Clone, Debug)]
pub enum Index {
    Star,
    Expr(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicalOp {
    And,
    Or,
}

/// A function the parser accepts besides the built-in ones.
#[derive(Clone, Copy, Debug)]
pub struct FunctionSig {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
}

/// The built-in functions and their argument counts.
pub(crate) const BUILTINS: &[FunctionSig] = &[
    FunctionSig { name: "case", min_args: 3, max_args: usize::MAX },
    FunctionSig { name: "contains", min_args: 2, max_args: 2 },
    FunctionSig { name: "endswith", min_args: 2, max_args: 2 },
    FunctionSig { name: "format", min_args: 1, max_args: 255 },
    FunctionSig { name: "fromjson", min_args: 1, max_args: 1 },
    FunctionSig { name: "join", min_args: 1, max_args: 2 },
    FunctionSig { name: "startswith", min_args: 2, max_args: 2 },
    FunctionSig { name: "tojson", min_args: 1, max_args: 1 },
];

/// One precedence level's parse function.
type Step<'a> = fn(&mut Parser<'a>) -> Result<Expr, ExprError>;

pub(crate) struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    offset: usize,
    depth: usize,
    contexts: &'a [String],
    functions: &'a [FunctionSig],
}

impl<'a> Parser<'a> {
    pub(crate) fn new(
        input: &'a str,
        tokens: Vec<Token>,
        contexts: &'a [String],
        functions: &'a [FunctionSig],
    ) -> Parser<'a> {
        Parser { input, tokens, offset: 0, depth: 0, contexts, functions }
    }

    /// `None` for an empty expression.
    pub(crate) fn parse(mut self) -> Result<Option<Expr>, ExprError> {
        if self.at_end() {
            return Ok(None);
        }
        let e = self.expression()?;
        if !self.at_end() {
            return Err(self.error("Unexpected symbol", self.peek()));
        }
        Ok(Some(e))
    }

    fn error(&self, what: &str, tok: &Token) -> ExprError {
        ExprError::new(ErrorKind::Parsing, format!("{what}: '{}'", tok.describe()), Some(tok.pos), self.input)
    }

    fn incr(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(
                ErrorKind::Parsing,
                format!("Exceeded max expression depth {MAX_DEPTH}"),
                Some(self.peek().pos),
                self.input,
            ));
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Expr, ExprError> {
        self.incr()?;
        let r = self.logical(LogicalOp::Or);
        self.depth -= 1;
        r
    }

    fn logical(&mut self, op: LogicalOp) -> Result<Expr, ExprError> {
        let (tok, next): (TokenKind, Step<'a>) = match op {
            LogicalOp::Or => (TokenKind::Or, |p| p.logical(LogicalOp::And)),
            LogicalOp::And => (TokenKind::And, Self::equality),
        };
        let first = next(self)?;
        if !self.check(tok) {
            return Ok(first);
        }
        self.incr()?;
        let mut args = vec![first];
        while self.matches(&[tok]) {
            match next(self) {
                Ok(e) => args.push(e),
                Err(e) => {
                    self.depth -= 1;
                    return Err(e);
                }
            }
        }
        self.depth -= 1;
        Ok(Expr::Logical(op, args))
    }

    fn equality(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.comparison()?;
        while self.matches(&[TokenKind::BangEqual, TokenKind::EqualEqual]) {
            let op = if self.previous().kind == TokenKind::BangEqual { BinaryOp::Ne } else { BinaryOp::Eq };
            let r = self.comparison()?;
            e = Expr::Binary(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.unary()?;
        while self.matches(&[TokenKind::Greater, TokenKind::GreaterEqual, TokenKind::Less, TokenKind::LessEqual]) {
            let op = match self.previous().kind {
                TokenKind::Greater => BinaryOp::Gt,
                TokenKind::GreaterEqual => BinaryOp::Ge,
                TokenKind::Less => BinaryOp::Lt,
                _ => BinaryOp::Le,
            };
            let r = self.unary()?;
            e = Expr::Binary(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.matches(&[TokenKind::Bang]) {
            self.incr()?;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.index()
    }

    fn index(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.call()?;
        if !matches!(e, Expr::Group(_) | Expr::Call(..) | Expr::Context(_)) {
            return Ok(e);
        }
        let mut increased = 0;
        let result = loop {
            if self.matches(&[TokenKind::LeftBracket]) {
                let idx = if self.matches(&[TokenKind::Star]) {
                    Index::Star
                } else {
                    match self.expression() {
                        Ok(x) => Index::Expr(Box::new(x)),
                        Err(err) => break Err(err),
                    }
                };
                if let Err(err) = self.consume(TokenKind::RightBracket) {
                    break Err(err);
                }
                if let Err(err) = self.incr() {
                    break Err(err);
                }
                increased += 1;
                e = Expr::Index(Box::new(e), idx);
            } else if self.matches(&[TokenKind::Dot]) {
                if let Err(err) = self.incr() {
                    break Err(err);
                }
                increased += 1;
                if self.matches(&[TokenKind::Identifier]) {
                    let name = self.previous().lexeme.clone();
                    e = Expr::Index(Box::new(e), Index::Expr(Box::new(Expr::Literal(super::Value::String(name)))));
                } else if self.matches(&[TokenKind::Star]) {
                    e = Expr::Index(Box::new(e), Index::Star);
                } else {
                    break Err(self.error("Unexpected symbol", self.peek()));
                }
            } else {
                break Ok(e);
            }
        };
        self.depth -= increased;
        result
    }

    fn call(&mut self) -> Result<Expr, ExprError> {
        if !self.check(TokenKind::Identifier) {
            return self.primary();
        }
        self.offset += 1;
        let ident = self.previous().clone();
        if !self.matches(&[TokenKind::LeftParen]) {
            let lower = ident.lexeme.to_lowercase();
            if !self.contexts.iter().any(|c| c.to_lowercase() == lower) {
                return Err(self.error("Unrecognized named-value", &ident));
            }
            return Ok(Expr::Context(ident.lexeme));
        }
        let mut args = Vec::new();
        while !self.matches(&[TokenKind::RightParen]) {
            args.push(self.expression()?);
            if !self.check(TokenKind::RightParen) {
                self.consume(TokenKind::Comma)?;
            }
        }
        let name = ident.lexeme.to_lowercase();
        let sig = BUILTINS
            .iter()
            .chain(self.functions.iter())
            .find(|f| f.name.eq_ignore_ascii_case(&name))
            .ok_or_else(|| self.error("Unrecognized function", &ident))?;
        if args.len() < sig.min_args {
            return Err(self.error("Too few parameters supplied", &ident));
        }
        if args.len() > sig.max_args {
            return Err(self.error("Too many parameters supplied", &ident));
        }
        if name == "case" && args.len() % 2 == 0 {
            return Err(self.error("Even number of parameters supplied, requires an odd number of parameters", &ident));
        }
        Ok(Expr::Call(name, args))
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        use super::Value;
        let tok = self.peek().clone();
        let lit = match tok.kind {
            TokenKind::False => Some(Value::Bool(false)),
            TokenKind::True => Some(Value::Bool(true)),
            TokenKind::Null => Some(Value::Null),
            TokenKind::Number => Some(Value::Number(tok.number)),
            TokenKind::String => Some(Value::String(tok.string.clone())),
            _ => None,
        };
        if let Some(v) = lit {
            self.offset += 1;
            return Ok(Expr::Literal(v));
        }
        if tok.kind == TokenKind::LeftParen {
            self.offset += 1;
            let e = self.expression()?;
            if self.at_end() {
                return Err(self.error("Unexpected end of expression", self.previous()));
            }
            self.consume(TokenKind::RightParen)?;
            return Ok(Expr::Group(Box::new(e)));
        }
        if self.at_end() {
            return Err(self.error("Unexpected end of expression", self.previous()));
        }
        Err(self.error("Unexpected symbol", self.peek()))
    }

    fn matches(&mut self, kinds: &[TokenKind]) -> bool {
        if kinds.iter().any(|k| self.check(*k)) {
            self.offset += 1;
            true
        } else {
            false
        }
    }

    fn check(&self, kind: TokenKind) -> bool {
        !self.at_end() && self.peek().kind == kind
    }

    fn at_end(&self) -> bool {
        self.peek().kind == TokenKind::Eof
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.offset.min(self.tokens.len() - 1)]
    }

    fn previous(&self) -> &Token {
        &self.tokens[self.offset.saturating_sub(1)]
    }

    fn consume(&mut self, kind: TokenKind) -> Result<(), ExprError> {
        if self.check(kind) {
            self.offset += 1;
            Ok(())
        } else if self.at_end() {
            Err(self.error("Unexpected end of expression", self.previous()))
        } else {
            Err(self.error("Unexpected symbol", self.peek()))
        }
    }
}
