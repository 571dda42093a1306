//! CEL text to a tree: a small hand-written lexer and precedence-climbing
//! parser for the subset `cel::compile` accepts. Depth and length are
//! bounded so that no text can exhaust the stack.

use std::rc::Rc;

/// The longest expression accepted (the CRD allows 2,000 characters).
pub const MAX_LENGTH: usize = 4096;
/// The deepest nesting accepted.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Rc<str>),
    Ident(String),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// A function (`size(x)`) or method (`x.startsWith(y)`: target first).
    Call(String, Option<Box<Expr>>, Vec<Expr>),
    Unary(char, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Int(i64),
    Double(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

const OPS: [&str; 24] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",", "(", ")", "[", "]",
    "{", "}",
];

fn lex(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'e') {
                i += 1;
            }
            let digits = &text[start..i];
            let token = if digits.contains(['.', 'e']) {
                Token::Double(digits.parse().map_err(|_| format!("bad number {digits} at {start}"))?)
            } else {
                Token::Int(
                    digits
                        .parse()
                        .map_err(|_| format!("number {digits} at {start} is too large"))?,
                )
            };
            tokens.push((start, token));
            if i < bytes.len() && bytes[i] == b'u' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push((start, Token::Ident(text[start..i].to_string())));
        } else if c == b'"' || c == b'\'' {
            let (value, end) = string(text, i)?;
            tokens.push((i, Token::Str(value)));
            i = end;
        } else if let Some(op) = OPS.iter().find(|op| text[i..].starts_with(**op)) {
            tokens.push((i, Token::Op(op)));
            i += op.len();
        } else {
            let shown = text[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character {shown:?} at {i}"));
        }
    }
    Ok(tokens)
}

/// A quoted string starting at `start`: its value and the index after it.
fn string(text: &str, start: usize) -> Result<(String, usize), String> {
    let quote = text.as_bytes()[start] as char;
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((value, start + 1 + at + 1)),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some('r') => value.push('\r'),
                Some(c @ ('\\' | '\'' | '"')) => value.push(c),
                _ => return Err(format!("unknown escape in the string at {start}")),
            },
            c => value.push(c),
        }
    }
    Err(format!("the string at {start} is not closed"))
}

pub fn parse(text: &str) -> Result<Expr, String> {
    if text.len() > MAX_LENGTH {
        return Err(format!(
            "the expression is {} characters long; at most {MAX_LENGTH}",
            text.len()
        ));
    }
    let mut parser = Parser {
        tokens: lex(text)?,
        at: 0,
        depth: 0,
        end: text.len(),
    };
    let expr = parser.expr()?;
    if let Some((at, _)) = parser.tokens.get(parser.at) {
        return Err(format!("unexpected text at {at}: {}", &text[*at..]));
    }
    // Chains (`a || b || …`) are built in a loop, not by recursion: bound
    // the tree's depth too, as evaluation recurses over it.
    if depth(&expr) > MAX_DEPTH {
        return Err(format!("the expression nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(expr)
}

fn depth(expr: &Expr) -> usize {
    let children: Vec<&Expr> = match expr {
        Expr::List(items) => items.iter().collect(),
        Expr::Map(entries) => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
        Expr::Member(inner, _) | Expr::Unary(_, inner) => vec![inner],
        Expr::Index(a, b) | Expr::Binary(_, a, b) => vec![a, b],
        Expr::Call(_, target, args) => target.iter().map(|t| t.as_ref()).chain(args).collect(),
        Expr::Cond(a, b, c) => vec![a, b, c],
        _ => Vec::new(),
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    depth: usize,
    end: usize,
}

/// Binary operators by precedence, loosest first.
const LEVELS: [&[&str]; 5] = [
    &["||"],
    &["&&"],
    &["==", "!=", "<", "<=", ">", ">=", "in"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(at, _)| *at)
    }

    fn eat(&mut self, op: &str) -> bool {
        let found = match self.peek() {
            Some(Token::Op(o)) => *o == op,
            Some(Token::Ident(name)) => op == "in" && name == "in",
            _ => false,
        };
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!("expected {op:?} at {}", self.position()))
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the expression nests deeper than {MAX_DEPTH} levels"));
        }
        let cond = self.binary(0)?;
        let expr = if self.eat("?") {
            let then = self.expr()?;
            self.expect(":")?;
            let otherwise = self.expr()?;
            Expr::Cond(Box::new(cond), Box::new(then), Box::new(otherwise))
        } else {
            cond
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn binary(&mut self, level: usize) -> Result<Expr, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        'more: loop {
            for op in LEVELS[level] {
                if self.eat(op) {
                    let right = self.binary(level + 1)?;
                    left = Expr::Binary(op, Box::new(left), Box::new(right));
                    continue 'more;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        for op in ['!', '-'] {
            if self.eat(&op.to_string()) {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("the expression nests deeper than {MAX_DEPTH} levels"));
                }
                let inner = self.unary()?;
                self.depth -= 1;
                return Ok(Expr::Unary(op, Box::new(inner)));
            }
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                let name = self.ident()?;
                if self.eat("(") {
                    let args = self.list(")")?;
                    expr = Expr::Call(name, Some(Box::new(expr)), args);
                } else {
                    expr = Expr::Member(Box::new(expr), name);
                }
            } else if self.eat("[") {
                let index = self.expr()?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Ident(name)) => {
                self.at += 1;
                Ok(name)
            }
            _ => Err(format!("expected a name at {}", self.position())),
        }
    }

    fn list(&mut self, close: &str) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        while !self.eat(close) {
            if !items.is_empty() {
                self.expect(",")?;
                if self.eat(close) {
                    break;
                }
            }
            items.push(self.expr()?);
        }
        Ok(items)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let at = self.position();
        let Some(token) = self.peek().cloned() else {
            return Err(format!("the expression ends early at {at}"));
        };
        self.at += 1;
        Ok(match token {
            Token::Int(n) => Expr::Int(n),
            Token::Double(d) => Expr::Double(d),
            Token::Str(s) => Expr::Str(s.into()),
            Token::Ident(name) => match name.as_str() {
                "true" => Expr::Bool(true),
                "false" => Expr::Bool(false),
                "null" => Expr::Null,
                _ if self.eat("(") => Expr::Call(name, None, self.list(")")?),
                _ => Expr::Ident(name),
            },
            Token::Op("(") => {
                let inner = self.expr()?;
                self.expect(")")?;
                inner
            }
            Token::Op("[") => Expr::List(self.list("]")?),
            Token::Op("{") => {
                let mut entries = Vec::new();
                while !self.eat("}") {
                    if !entries.is_empty() {
                        self.expect(",")?;
                    }
                    let key = self.expr()?;
                    self.expect(":")?;
                    entries.push((key, self.expr()?));
                }
                Expr::Map(entries)
            }
            Token::Op(op) => return Err(format!("unexpected {op:?} at {at}")),
        })
    }
}
