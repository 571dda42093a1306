//! Evaluating a parsed expression over JSON variables, within a budget of
//! steps so that no expression and no input can run long or grow large.

use std::rc::Rc;

use serde_json::Value as Json;

use super::parse::Expr;

/// A value: owned scalars and containers, or a borrowed part of the input.
#[derive(Clone, Debug)]
enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Rc<str>),
    List(Rc<Vec<Val<'a>>>),
    Map(Rc<Vec<(Val<'a>, Val<'a>)>>),
    Json(&'a Json),
}

pub(super) struct Eval<'a> {
    pub vars: &'a [(&'a str, &'a Json)],
    pub steps_left: u64,
    scopes: Vec<(String, Val<'a>)>,
}

type Result<T> = std::result::Result<T, String>;

impl<'a> Eval<'a> {
    pub fn new(vars: &'a [(&'a str, &'a Json)], budget: u64) -> Self {
        Eval {
            vars,
            steps_left: budget,
            scopes: Vec::new(),
        }
    }

    pub fn bool(&mut self, expr: &Expr) -> Result<bool> {
        match self.eval(expr)? {
            Val::Bool(b) => Ok(b),
            other => Err(format!("the expression gave {}, not a bool", type_name(&other))),
        }
    }

    fn charge(&mut self, steps: u64) -> Result<()> {
        self.steps_left = self
            .steps_left
            .checked_sub(steps)
            .ok_or("the expression took too many steps for its input; make it simpler")?;
        Ok(())
    }

    fn eval(&mut self, expr: &Expr) -> Result<Val<'a>> {
        self.charge(1)?;
        Ok(match expr {
            Expr::Null => Val::Null,
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Int(n) => Val::Int(*n),
            Expr::Double(d) => Val::Double(*d),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Ident(name) => self.lookup(name)?,
            Expr::List(items) => {
                let items = items.iter().map(|i| self.eval(i)).collect::<Result<Vec<_>>>()?;
                Val::List(Rc::new(items))
            }
            Expr::Map(entries) => {
                let mut map = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    map.push((self.eval(k)?, self.eval(v)?));
                }
                Val::Map(Rc::new(map))
            }
            Expr::Member(target, name) => {
                let target = self.eval(target)?;
                field(&target, name)?.ok_or_else(|| format!("no such key: {name}"))?
            }
            Expr::Index(target, index) => {
                let (target, index) = (self.eval(target)?, self.eval(index)?);
                self.index(&target, &index)?
            }
            Expr::Unary('!', inner) => Val::Bool(!self.bool(inner)?),
            Expr::Unary(_, inner) => match norm(self.eval(inner)?) {
                Val::Int(n) => Val::Int(n.checked_neg().ok_or("integer overflow")?),
                Val::Double(d) => Val::Double(-d),
                other => return Err(format!("cannot negate {}", type_name(&other))),
            },
            Expr::Cond(cond, then, otherwise) => {
                if self.bool(cond)? {
                    self.eval(then)?
                } else {
                    self.eval(otherwise)?
                }
            }
            Expr::Binary(op @ ("&&" | "||"), left, right) => {
                let decisive = *op == "||";
                // CEL: an error on one side is absorbed when the other side
                // decides (`true || error` is true).
                match self.bool(left) {
                    Ok(l) if l == decisive => Val::Bool(decisive),
                    Ok(_) => Val::Bool(self.bool(right)?),
                    Err(e) => match self.bool(right) {
                        Ok(r) if r == decisive => Val::Bool(decisive),
                        _ => return Err(e),
                    },
                }
            }
            Expr::Binary(op, left, right) => {
                let (left, right) = (self.eval(left)?, self.eval(right)?);
                self.binary(op, left, right)?
            }
            Expr::Call(name, target, args) => self.call(name, target.as_deref(), args)?,
        })
    }

    fn lookup(&self, name: &str) -> Result<Val<'a>> {
        if let Some((_, value)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Ok(value.clone());
        }
        match self.vars.iter().find(|(n, _)| *n == name) {
            Some((_, json)) => Ok(norm(Val::Json(json))),
            None => Err(format!("unknown name {name}")),
        }
    }

    fn index(&mut self, target: &Val<'a>, index: &Val<'a>) -> Result<Val<'a>> {
        match (norm(target.clone()), norm(index.clone())) {
            (Val::List(items), Val::Int(i)) => usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .ok_or_else(|| format!("index {i} out of range (size {})", items.len())),
            (Val::Json(Json::Array(items)), Val::Int(i)) => usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).map(|v| norm(Val::Json(v))))
                .ok_or_else(|| format!("index {i} out of range (size {})", items.len())),
            (map, Val::Str(key)) => field(&map, &key)?.ok_or_else(|| format!("no such key: {key}")),
            (target, index) => Err(format!(
                "cannot index {} with {}",
                type_name(&target),
                type_name(&index)
            )),
        }
    }

    fn binary(&mut self, op: &str, left: Val<'a>, right: Val<'a>) -> Result<Val<'a>> {
        let (left, right) = (norm(left), norm(right));
        Ok(match op {
            "==" => Val::Bool(self.equal(&left, &right)?),
            "!=" => Val::Bool(!self.equal(&left, &right)?),
            "in" => {
                let found = match &right {
                    Val::List(_) | Val::Json(Json::Array(_)) => {
                        let items = elements(&right);
                        self.charge(items.len() as u64)?;
                        let mut found = false;
                        for item in items {
                            if self.equal(&left, &norm(item))? {
                                found = true;
                                break;
                            }
                        }
                        found
                    }
                    Val::Map(_) | Val::Json(Json::Object(_)) => match &left {
                        Val::Str(key) => field(&right, key)?.is_some(),
                        _ => false,
                    },
                    other => return Err(format!("`in` needs a list or map, not {}", type_name(other))),
                };
                Val::Bool(found)
            }
            "<" | "<=" | ">" | ">=" => {
                let ordering = match (&left, &right) {
                    (Val::Str(a), Val::Str(b)) => a.cmp(b),
                    _ => {
                        let (a, b) = (number(&left), number(&right));
                        match (a, b) {
                            (Some(a), Some(b)) => a.partial_cmp(&b).ok_or("cannot compare NaN")?,
                            _ => {
                                return Err(format!(
                                    "cannot compare {} with {}",
                                    type_name(&left),
                                    type_name(&right)
                                ));
                            }
                        }
                    }
                };
                use std::cmp::Ordering::*;
                Val::Bool(match op {
                    "<" => ordering == Less,
                    "<=" => ordering != Greater,
                    ">" => ordering == Greater,
                    _ => ordering != Less,
                })
            }
            _ => self.arithmetic(op, left, right)?,
        })
    }

    fn arithmetic(&mut self, op: &str, left: Val<'a>, right: Val<'a>) -> Result<Val<'a>> {
        let overflow = || format!("integer overflow or division by zero in {op}");
        Ok(match (op, &left, &right) {
            ("+", Val::Str(a), Val::Str(b)) => {
                self.charge((a.len() + b.len()) as u64 / 16)?;
                Val::Str(format!("{a}{b}").into())
            }
            ("+", Val::List(_) | Val::Json(Json::Array(_)), Val::List(_) | Val::Json(Json::Array(_))) => {
                let mut items = elements(&left);
                items.extend(elements(&right));
                self.charge(items.len() as u64)?;
                Val::List(Rc::new(items))
            }
            (_, Val::Int(a), Val::Int(b)) => Val::Int(
                match op {
                    "+" => a.checked_add(*b),
                    "-" => a.checked_sub(*b),
                    "*" => a.checked_mul(*b),
                    "/" => a.checked_div(*b),
                    _ => a.checked_rem(*b),
                }
                .ok_or_else(overflow)?,
            ),
            (_, Val::Double(_) | Val::Int(_), Val::Double(_) | Val::Int(_)) => {
                let (a, b) = (number(&left).unwrap_or(0.0), number(&right).unwrap_or(0.0));
                Val::Double(match op {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "/" => a / b,
                    _ => a % b,
                })
            }
            _ => {
                return Err(format!(
                    "cannot apply {op} to {} and {}",
                    type_name(&left),
                    type_name(&right)
                ));
            }
        })
    }

    fn equal(&mut self, a: &Val<'a>, b: &Val<'a>) -> Result<bool> {
        Ok(match (a, b) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Int(_) | Val::Double(_), Val::Int(_) | Val::Double(_)) => number(a) == number(b),
            (Val::List(_) | Val::Map(_) | Val::Json(_), Val::List(_) | Val::Map(_) | Val::Json(_)) => {
                self.charge(weight(a) + weight(b))?;
                match (a, b) {
                    (Val::Json(a), Val::Json(b)) => a == b,
                    _ => to_json(a) == to_json(b),
                }
            }
            _ => false,
        })
    }

    fn call(&mut self, name: &str, target: Option<&Expr>, args: &[Expr]) -> Result<Val<'a>> {
        // Macros take their arguments unevaluated.
        match (name, target, args) {
            ("has", None, [Expr::Member(inner, field_name)]) => {
                let inner = self.eval(inner)?;
                return Ok(Val::Bool(field(&inner, field_name)?.is_some()));
            }
            ("all" | "exists" | "exists_one" | "map" | "filter", Some(target), [Expr::Ident(var), body]) => {
                let target = norm(self.eval(target)?);
                return self.comprehension(name, &target, var, body);
            }
            _ => {}
        }
        let target = match target {
            Some(t) => Some(norm(self.eval(t)?)),
            None => None,
        };
        let args = args
            .iter()
            .map(|a| self.eval(a).map(norm))
            .collect::<Result<Vec<_>>>()?;
        let all: Vec<&Val<'a>> = target.iter().chain(args.iter()).collect();
        Ok(match (name, all.as_slice()) {
            ("size", [v]) => Val::Int(match v {
                Val::Str(s) => s.chars().count(),
                other => match other {
                    Val::Map(m) => m.len(),
                    Val::Json(Json::Object(m)) => m.len(),
                    Val::List(_) | Val::Json(Json::Array(_)) => elements(other).len(),
                    _ => return Err(format!("size() of {}", type_name(other))),
                },
            } as i64),
            ("startsWith", [Val::Str(s), Val::Str(p)]) => Val::Bool(s.starts_with(p.as_ref())),
            ("endsWith", [Val::Str(s), Val::Str(p)]) => Val::Bool(s.ends_with(p.as_ref())),
            ("contains", [Val::Str(s), Val::Str(p)]) => {
                self.charge(s.len() as u64 / 64)?;
                Val::Bool(s.contains(p.as_ref()))
            }
            ("matches", [Val::Str(s), Val::Str(pattern)]) => {
                self.charge(s.len() as u64 / 16 + 100)?;
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("matches(): bad pattern: {e}"))?;
                Val::Bool(regex.is_match(s))
            }
            ("lowerAscii", [Val::Str(s)]) => Val::Str(s.to_ascii_lowercase().into()),
            ("upperAscii", [Val::Str(s)]) => Val::Str(s.to_ascii_uppercase().into()),
            ("string", [v]) => Val::Str(
                match v {
                    Val::Str(s) => s.to_string(),
                    other => to_json(other).to_string(),
                }
                .into(),
            ),
            ("int", [Val::Int(n)]) => Val::Int(*n),
            ("int", [Val::Double(d)]) if d.is_finite() && d.abs() < 9.2e18 => Val::Int(*d as i64),
            ("int", [Val::Str(s)]) => Val::Int(s.parse().map_err(|_| format!("int(): {s:?} is not an integer"))?),
            ("double", [v]) => Val::Double(number(v).ok_or_else(|| format!("double() of {}", type_name(v)))?),
            _ => {
                let types: Vec<&str> = all.iter().map(|v| type_name(v)).collect();
                return Err(format!("no function {name}({})", types.join(", ")));
            }
        })
    }

    fn comprehension(&mut self, name: &str, target: &Val<'a>, var: &str, body: &Expr) -> Result<Val<'a>> {
        let items = match target {
            Val::Map(m) => m.iter().map(|(k, _)| k.clone()).collect(),
            Val::Json(Json::Object(m)) => m.keys().map(|k| Val::Str(k.as_str().into())).collect(),
            Val::List(_) | Val::Json(Json::Array(_)) => elements(target),
            other => return Err(format!("{name}() needs a list or map, not {}", type_name(other))),
        };
        self.charge(items.len() as u64)?;
        let mut kept = Vec::new();
        let mut count = 0usize;
        for item in items {
            self.scopes.push((var.to_string(), item.clone()));
            let result = match name {
                "map" => self.eval(body).map(|v| {
                    kept.push(v);
                    true
                }),
                _ => self.bool(body),
            };
            self.scopes.pop();
            let result = result?;
            match name {
                "all" if !result => return Ok(Val::Bool(false)),
                "exists" if result => return Ok(Val::Bool(true)),
                "filter" if result => kept.push(item),
                _ if result => count += 1,
                _ => {}
            }
        }
        Ok(match name {
            "all" => Val::Bool(true),
            "exists" => Val::Bool(false),
            "exists_one" => Val::Bool(count == 1),
            _ => Val::List(Rc::new(kept)),
        })
    }
}

/// A JSON scalar as an owned value; containers stay borrowed.
fn norm(value: Val<'_>) -> Val<'_> {
    match value {
        Val::Json(json) => match json {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Val::Str(s.as_str().into()),
            _ => Val::Json(json),
        },
        other => other,
    }
}

fn elements<'a>(list: &Val<'a>) -> Vec<Val<'a>> {
    match list {
        Val::List(items) => items.as_ref().clone(),
        Val::Json(Json::Array(items)) => items.iter().map(|i| norm(Val::Json(i))).collect(),
        _ => Vec::new(),
    }
}

/// A map's field: Some when present, None when absent, an error for a
/// value that has no fields.
fn field<'a>(target: &Val<'a>, name: &str) -> Result<Option<Val<'a>>> {
    match target {
        Val::Json(Json::Object(map)) => Ok(map.get(name).map(|v| norm(Val::Json(v)))),
        Val::Map(entries) => Ok(entries
            .iter()
            .find(|(k, _)| matches!(k, Val::Str(s) if s.as_ref() == name))
            .map(|(_, v)| v.clone())),
        other => Err(format!("cannot select field {name} of {}", type_name(other))),
    }
}

fn number(value: &Val<'_>) -> Option<f64> {
    match value {
        Val::Int(n) => Some(*n as f64),
        Val::Double(d) => Some(*d),
        _ => None,
    }
}

fn to_json(value: &Val<'_>) -> Json {
    match value {
        Val::Null => Json::Null,
        Val::Bool(b) => Json::Bool(*b),
        Val::Int(n) => Json::from(*n),
        Val::Double(d) => Json::from(*d),
        Val::Str(s) => Json::String(s.to_string()),
        Val::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Val::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::Str(s) => s.to_string(),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Val::Json(json) => (*json).clone(),
    }
}

/// What comparing or copying a value costs: its nodes and string bytes.
fn weight(value: &Val<'_>) -> u64 {
    fn json(value: &Json) -> u64 {
        match value {
            Json::String(s) => 1 + s.len() as u64 / 16,
            Json::Array(items) => 1 + items.iter().map(json).sum::<u64>(),
            Json::Object(map) => 1 + map.iter().map(|(k, v)| 1 + k.len() as u64 / 16 + json(v)).sum::<u64>(),
            _ => 1,
        }
    }
    match value {
        Val::Str(s) => 1 + s.len() as u64 / 16,
        Val::List(items) => 1 + items.iter().map(weight).sum::<u64>(),
        Val::Map(entries) => 1 + entries.iter().map(|(k, v)| weight(k) + weight(v)).sum::<u64>(),
        Val::Json(value) => json(value),
        _ => 1,
    }
}

fn type_name(value: &Val<'_>) -> &'static str {
    match value {
        Val::Null | Val::Json(Json::Null) => "null",
        Val::Bool(_) | Val::Json(Json::Bool(_)) => "bool",
        Val::Int(_) => "int",
        Val::Double(_) | Val::Json(Json::Number(_)) => "double",
        Val::Str(_) | Val::Json(Json::String(_)) => "string",
        Val::List(_) | Val::Json(Json::Array(_)) => "list",
        Val::Map(_) | Val::Json(Json::Object(_)) => "map",
    }
}
