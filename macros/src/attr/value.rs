//! Reading one literal value of an option: a count, an amount, a string or a bool, each with an
//! error at the value (or at the key, when the value is missing) that says what it takes.

use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitBool, LitStr, UnOp, spanned::Spanned as _};

use super::{
    Spanned,
    option::{RawOption, RawValue},
};
use crate::ctxt::Ctxt;

/// What a value is, for "found ..." in messages: `the string "four"`.
fn describe(expr: &Expr) -> String {
    let kind = match expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(_) => "the string",
            Lit::Int(_) => "the integer",
            Lit::Bool(_) => "the bool",
            Lit::Float(_) => "the float",
            _ => "the literal",
        },
        Expr::Path(_) => "the path",
        _ => "the expression",
    };
    format!(
        "{kind} `{}`",
        quote::quote!(#expr).to_string().replace(" ", "")
    )
}

/// The value, or an error at `key` when it is missing.
pub(super) fn require<'a>(cx: &mut Ctxt, option: &'a RawOption, hint: &str) -> Option<&'a Expr> {
    match &option.value {
        Some(RawValue::Expr(expr)) => Some(expr),
        Some(RawValue::BraceList(list)) => {
            cx.syn_error(syn::Error::new(
                list.span,
                format_args!("`{}` takes {hint}", option.key),
            ));
            None
        }
        None => {
            cx.error(
                &option.key,
                format_args!("`{}` takes a value: `{} = {hint}`", option.key, option.key),
            );
            None
        }
    }
}

/// An integer literal, possibly negated; `None` for any other expression.
fn int_of(expr: &Expr) -> Option<syn::Result<i64>> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse()),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => Some(int.base10_parse::<i64>().map(|n| -n)),
            _ => None,
        },
        _ => None,
    }
}

/// An integer that is `-1` (meaning "unlimited") or at least `min`.
pub(super) fn unlimited_or_at_least(
    cx: &mut Ctxt,
    option: &RawOption,
    min: i64,
    meaning: &str,
) -> Option<Spanned<i64>> {
    let key = &option.key;
    let hint = format!("-1 ({meaning}) or a count of at least {min}");
    let expects = format!("an integer: -1 ({meaning}) or a count of at least {min}");
    let expr = require(cx, option, &hint)?;
    match int_of(expr) {
        Some(Ok(n)) if n == -1 || n >= min => Some(Spanned {
            value: n,
            span: expr.span(),
        }),
        Some(Ok(n)) => {
            cx.error(expr, format_args!("`{key}` must be {hint}, not {n}"));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None => {
            cx.error(
                expr,
                format_args!("`{key}` takes {expects}; found {}", describe(expr)),
            );
            None
        }
    }
}

/// A positive integer literal, the value of `key`.
pub(super) fn positive(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<Spanned<u64>> {
    let parsed = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse::<u64>()),
        _ => None,
    };
    match parsed {
        Some(Ok(n)) if n >= 1 => Some(Spanned {
            value: n,
            span: expr.span(),
        }),
        Some(Ok(_)) => {
            cx.error(expr, format_args!("`{key}` must be at least 1"));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None => {
            cx.error(
                expr,
                format_args!("`{key}` takes a positive integer; found {}", describe(expr)),
            );
            None
        }
    }
}

/// A resource amount: a non-negative integer or float literal.
pub(super) fn amount(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<Spanned<f64>> {
    let parsed = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse::<f64>()),
        Expr::Lit(ExprLit {
            lit: Lit::Float(float),
            ..
        }) => Some(float.base10_parse::<f64>()),
        _ => None,
    };
    match parsed {
        Some(Ok(value)) if value.is_finite() => Some(Spanned {
            value,
            span: expr.span(),
        }),
        Some(Ok(_)) => {
            cx.error(expr, format_args!("`{key}` must be a finite amount"));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None => {
            cx.error(
                expr,
                format_args!(
                    "`{key}` takes an amount of at least 0, such as `1` or `0.5`; found {}",
                    describe(expr)
                ),
            );
            None
        }
    }
}

/// A non-empty string literal.
pub(super) fn string(cx: &mut Ctxt, option: &RawOption) -> Option<LitStr> {
    let expr = require(cx, option, "\"...\"")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if !s.value().is_empty() => Some(s.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            cx.error(s, format_args!("`{}` must not be empty", option.key));
            None
        }
        _ => {
            cx.error(
                expr,
                format_args!(
                    "`{}` takes a string literal; found {}",
                    option.key,
                    describe(expr)
                ),
            );
            None
        }
    }
}

/// `true` or `false`.
pub(super) fn boolean(cx: &mut Ctxt, option: &RawOption) -> Option<LitBool> {
    let expr = require(cx, option, "true or false")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.clone()),
        _ => {
            cx.error(
                expr,
                format_args!(
                    "`{}` takes `true` or `false`; found {}",
                    option.key,
                    describe(expr)
                ),
            );
            None
        }
    }
}
