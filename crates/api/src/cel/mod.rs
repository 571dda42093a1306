//! A small CEL (Common Expression Language) for webhook filters and a
//! pipeline task's `when`: literals,
//! field access, `has()`, comparison and arithmetic, `in`, `?:`, string
//! functions (`startsWith`, `endsWith`, `contains`, `matches`, `size`,
//! `lowerAscii`), conversions and the list macros (`all`, `exists`,
//! `exists_one`, `map`, `filter`). Every evaluation has a budget of steps,
//! so an expression over a hostile body ends quickly with an error instead
//! of running long (CEL has no loops, but nested macros over a large list
//! multiply).

mod eval;
mod parse;
mod when;

pub use when::{When, compile_when, typed};

use parse::Expr;

/// Steps one evaluation may take: far above a real filter over a 1 MiB
/// body (one step per node and list item), far below a second of work.
pub const BUDGET: u64 = 2_000_000;

/// A parsed expression whose names are all known.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    expr: Expr,
}

/// Parses `text`, whose free names must be among `names`.
pub fn compile(text: &str, names: &[&str]) -> Result<Program, String> {
    let expr = parse::parse(text)?;
    let mut bound = Vec::new();
    check_names(&expr, names, &mut bound)?;
    Ok(Program { expr })
}

impl Program {
    /// Evaluates to a bool with `vars` as its names' values.
    pub fn eval_bool(&self, vars: &[(&str, &serde_json::Value)]) -> Result<bool, String> {
        eval::Eval::new(vars, BUDGET).bool(&self.expr)
    }
}

fn check_names(expr: &Expr, names: &[&str], bound: &mut Vec<String>) -> Result<(), String> {
    match expr {
        Expr::Ident(name) if !names.contains(&name.as_str()) && !bound.contains(name) => {
            Err(format!("unknown name {name}: use {}", names.join(", ")))
        }
        Expr::Call(_, Some(target), args) if args.len() == 2 && matches!(args[0], Expr::Ident(_)) => {
            check_names(target, names, bound)?;
            let Expr::Ident(var) = &args[0] else { unreachable!() };
            bound.push(var.clone());
            let result = check_names(&args[1], names, bound);
            bound.pop();
            result
        }
        Expr::List(items) => items.iter().try_for_each(|i| check_names(i, names, bound)),
        Expr::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            check_names(k, names, bound)?;
            check_names(v, names, bound)
        }),
        Expr::Member(inner, _) | Expr::Unary(_, inner) => check_names(inner, names, bound),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            check_names(a, names, bound)?;
            check_names(b, names, bound)
        }
        Expr::Call(_, target, args) => {
            if let Some(target) = target {
                check_names(target, names, bound)?;
            }
            args.iter().try_for_each(|a| check_names(a, names, bound))
        }
        Expr::Cond(a, b, c) => [a, b, c].iter().try_for_each(|e| check_names(e, names, bound)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
