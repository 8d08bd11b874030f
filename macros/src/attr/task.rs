//! The options of `#[remote(..)]` on a fn.

use proc_macro2::TokenStream;
use syn::{LitBool, LitStr, ext::IdentExt};

use super::{
    Spanned,
    option::{duplicate, parse_options, unknown},
    resources::ResourceAttr,
    value::{boolean, string, unlimited_or_at_least},
};
use crate::ctxt::Ctxt;

/// The options of `#[remote(..)]` on a fn.
#[derive(Default)]
pub(crate) struct TaskAttr {
    pub(crate) max_retries: Option<Spanned<i64>>,
    pub(crate) retry_on_panic: Option<LitBool>,
    pub(crate) resources: ResourceAttr,
    pub(crate) name: Option<LitStr>,
}

/// The options of `#[remote]`: an unknown one is checked against them ("did you mean").
const TASK_OPTIONS: &[&str] = &[
    "max_retries",
    "retry_on_panic",
    "num_cpus",
    "num_gpus",
    "resources",
    "name",
];

impl TaskAttr {
    /// Parses the arguments of `#[remote(..)]`.
    pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut attr = TaskAttr::default();
        for option in parse_options(tokens, cx) {
            let key = &option.key;
            match key.unraw().to_string().as_str() {
                "max_retries" if !duplicate(cx, key, &attr.max_retries) => {
                    attr.max_retries = unlimited_or_at_least(cx, &option, 0, "retry forever");
                }
                "retry_on_panic" if !duplicate(cx, key, &attr.retry_on_panic) => {
                    attr.retry_on_panic = boolean(cx, &option);
                }
                "num_cpus" | "num_gpus" | "resources" => attr.resources.parse(cx, &option),
                "name" if !duplicate(cx, key, &attr.name) => attr.name = string(cx, &option),
                known if TASK_OPTIONS.contains(&known) => {}
                _ => unknown(cx, key, "remote", TASK_OPTIONS),
            }
        }
        attr
    }
}
