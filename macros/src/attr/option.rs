//! One option as written, `key = value` or a bare `key`, and the checks on its key: an unknown
//! key (with a "did you mean") and a key given twice. A value is an expression or a brace list,
//! `{ name = value, .. }` (read by `brace_list.rs`).

use proc_macro2::{Span, TokenStream};
use syn::{
    Expr, Ident, Token, braced,
    ext::IdentExt,
    parse::{Parse, ParseStream, Parser},
    punctuated::Punctuated,
};

use crate::{ctxt::Ctxt, suggest::closest};

/// One `key = value` (or bare `key`) as written.
pub(super) struct RawOption {
    pub(super) key: Ident,
    pub(super) value: Option<RawValue>,
}

/// The value of an option as written: an expression, or a brace list `{ name = value, .. }`.
pub(super) enum RawValue {
    Expr(Expr),
    BraceList(RawBraceList),
}

impl Parse for RawOption {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        if !input.peek(Token![=]) {
            return Ok(RawOption { key, value: None });
        }
        input.parse::<Token![=]>()?;
        let value = if input.peek(syn::token::Brace) {
            RawValue::BraceList(input.parse()?)
        } else {
            RawValue::Expr(input.parse()?)
        };
        Ok(RawOption {
            key,
            value: Some(value),
        })
    }
}

/// The options of an attribute, in order; none (and the error in `cx`) if they do not parse.
pub(super) fn parse_options(tokens: TokenStream, cx: &mut Ctxt) -> Vec<RawOption> {
    match Punctuated::<RawOption, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(options) => options.into_iter().collect(),
        Err(err) => {
            cx.syn_error(err);
            Vec::new()
        }
    }
}

/// An error at `key`, which is none of `known`, the options of `#[attribute]`.
pub(super) fn unknown(cx: &mut Ctxt, key: &Ident, attribute: &str, known: &[&str]) {
    let word = key.unraw().to_string();
    let message = match closest(&word, known) {
        Some(near) => {
            format!("unknown option `{word}` for `#[{attribute}]`: did you mean `{near}`?")
        }
        None => format!(
            "unknown option `{word}` for `#[{attribute}]`; the options are: {}",
            known.join(", ")
        ),
    };
    cx.error(key, message);
}

/// Whether `slot` is set already, with an error at `key` if so.
pub(super) fn duplicate<T>(cx: &mut Ctxt, key: &Ident, slot: &Option<T>) -> bool {
    if slot.is_some() {
        cx.error(key, format_args!("`{key}` is given twice"));
    }
    slot.is_some()
}

/// A brace list as written: `{ io = 2, compute = 4 }`.
pub(super) struct RawBraceList {
    pub(super) entries: Punctuated<RawEntry, Token![,]>,
    /// The braces and everything between them.
    pub(super) span: Span,
}

/// One `name = value` of a brace list, as written.
pub(super) struct RawEntry {
    pub(super) name: Ident,
    pub(super) value: Expr,
}

impl Parse for RawBraceList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = braced!(content in input);
        let entries = content.parse_terminated(RawEntry::parse, Token![,])?;
        Ok(RawBraceList {
            entries,
            span: brace.span.join(),
        })
    }
}

impl Parse for RawEntry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = Ident::parse_any(input)?;
        input.parse::<Token![=]>()?;
        Ok(RawEntry {
            name,
            value: input.parse()?,
        })
    }
}
