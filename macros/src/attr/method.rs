//! The options of one `#[remote_method(..)]`.

use proc_macro2::Span;
use syn::{LitStr, ext::IdentExt};

use super::{
    Spanned,
    option::{duplicate, parse_options, unknown},
    value::{boolean, positive, require, string, unlimited_or_at_least},
};
use crate::ctxt::Ctxt;

/// The options of one `#[remote_method(..)]`.
#[derive(Default)]
pub(crate) struct MethodAttr {
    pub(crate) concurrency_group: Option<LitStr>,
    pub(crate) max_task_retries: Option<Spanned<i64>>,
    pub(crate) blocking: Option<Span>,
    pub(crate) stream_buffer: Option<Spanned<u64>>,
}

/// The options of `#[remote_method]`: an unknown one is checked against them ("did you mean").
const METHOD_OPTIONS: &[&str] = &[
    "concurrency_group",
    "max_task_retries",
    "blocking",
    "stream_buffer",
];

impl MethodAttr {
    /// Parses one `#[remote_method]` or `#[remote_method(..)]`.
    pub(crate) fn parse(attr: &syn::Attribute, cx: &mut Ctxt) -> Self {
        let mut out = MethodAttr::default();
        let tokens = match &attr.meta {
            syn::Meta::Path(_) => return out,
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                cx.error(
                    nv,
                    "write `#[remote_method]` or `#[remote_method(option = value, ..)]`",
                );
                return out;
            }
        };
        for option in parse_options(tokens, cx) {
            let key = &option.key;
            match key.unraw().to_string().as_str() {
                "concurrency_group" if !duplicate(cx, key, &out.concurrency_group) => {
                    out.concurrency_group = string(cx, &option);
                }
                "max_task_retries" if !duplicate(cx, key, &out.max_task_retries) => {
                    out.max_task_retries = unlimited_or_at_least(cx, &option, 0, "retry forever");
                }
                "stream_buffer" if !duplicate(cx, key, &out.stream_buffer) => {
                    if let Some(expr) = require(cx, &option, "a positive integer") {
                        out.stream_buffer = positive(cx, key, expr);
                    }
                }
                "blocking" if !duplicate(cx, key, &out.blocking) => {
                    let on = match &option.value {
                        None => true,
                        Some(_) => boolean(cx, &option).is_some_and(|b| b.value),
                    };
                    if on {
                        out.blocking = Some(key.span());
                    }
                }
                known if METHOD_OPTIONS.contains(&known) => {}
                _ => unknown(cx, key, "remote_method", METHOD_OPTIONS),
            }
        }
        out
    }
}
