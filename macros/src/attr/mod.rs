//! Parsing `#[actor(..)]`, `#[remote_method(..)]` and `#[remote(..)]` into typed options that
//! keep their spans.
//!
//! Grammar: a comma-separated list of `key = value` or bare `key` (flags). Values are integer,
//! float, string or bool literals, or for `concurrency_groups` and `resources` a brace list
//! `{ io = 2, compute = 4 }`.
//!
//! The modules, in the order an attribute goes through them:
//! - `option`: the grammar of one option (`key`, `key = value`), and the checks on its key
//!   (unknown, with a "did you mean"; given twice);
//! - `brace_list`: the grammar of a brace list, and reading one into named values, for both
//!   `concurrency_groups` and `resources`;
//! - `value`: reading one literal value (a count, an amount, a string, a bool);
//! - `actor`, `method`, `task`: the options of each attribute, and the rules between them;
//! - `resources`: `num_cpus`, `num_gpus` and `resources`, shared by `#[actor]` and `#[remote]`.

mod actor;
mod brace_list;
mod method;
mod option;
mod resources;
mod task;
mod value;

use proc_macro2::{Span, TokenStream};
use syn::LitInt;

pub(crate) use actor::ActorAttr;
pub(crate) use method::MethodAttr;
pub(crate) use task::TaskAttr;

/// A value with the span of the tokens it came from.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// `LitInt` for an `i64`, for generated code.
pub(crate) fn int_literal(n: i64, span: Span) -> TokenStream {
    let lit = LitInt::new(&n.unsigned_abs().to_string(), span);
    if n < 0 {
        quote::quote!(-#lit)
    } else {
        quote::quote!(#lit)
    }
}
