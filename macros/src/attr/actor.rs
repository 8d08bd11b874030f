//! The options of `#[actor(..)]`, and the rules between them (a `namespace` needs a `name`).

use proc_macro2::TokenStream;
use syn::{Ident, LitBool, LitStr, ext::IdentExt};

use super::{
    Spanned,
    brace_list::GROUPS,
    option::{RawOption, duplicate, parse_options, unknown},
    resources::ResourceAttr,
    value::{boolean, positive, require, string, unlimited_or_at_least},
};
use crate::ctxt::Ctxt;

/// The options of `#[actor(..)]`.
#[derive(Default)]
pub(crate) struct ActorAttr {
    pub(crate) name: Option<LitStr>,
    pub(crate) namespace: Option<LitStr>,
    pub(crate) max_restarts: Option<Spanned<i64>>,
    pub(crate) max_task_retries: Option<Spanned<i64>>,
    pub(crate) max_pending_calls: Option<Spanned<i64>>,
    pub(crate) max_concurrency: Option<Spanned<u64>>,
    pub(crate) concurrency_groups: Option<Vec<(Ident, Spanned<u64>)>>,
    pub(crate) detached: Option<Spanned<bool>>,
    pub(crate) get_if_exists: Option<LitBool>,
    pub(crate) resources: ResourceAttr,
}

/// The options of `#[actor]`: an unknown one is checked against them ("did you mean").
const ACTOR_OPTIONS: &[&str] = &[
    "name",
    "namespace",
    "max_restarts",
    "max_task_retries",
    "max_pending_calls",
    "max_concurrency",
    "concurrency_groups",
    "lifetime",
    "get_if_exists",
    "num_cpus",
    "num_gpus",
    "resources",
];

impl ActorAttr {
    /// Parses the arguments of `#[actor(..)]`.
    pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut attr = ActorAttr::default();
        for option in parse_options(tokens, cx) {
            let key = &option.key;
            match key.unraw().to_string().as_str() {
                "name" if !duplicate(cx, key, &attr.name) => attr.name = string(cx, &option),
                "namespace" if !duplicate(cx, key, &attr.namespace) => {
                    attr.namespace = string(cx, &option);
                }
                "max_restarts" if !duplicate(cx, key, &attr.max_restarts) => {
                    attr.max_restarts = unlimited_or_at_least(cx, &option, 0, "restart forever");
                }
                "max_task_retries" if !duplicate(cx, key, &attr.max_task_retries) => {
                    attr.max_task_retries = unlimited_or_at_least(cx, &option, 0, "retry forever");
                }
                "max_pending_calls" if !duplicate(cx, key, &attr.max_pending_calls) => {
                    attr.max_pending_calls = unlimited_or_at_least(cx, &option, 1, "unlimited");
                }
                "max_concurrency" if !duplicate(cx, key, &attr.max_concurrency) => {
                    if let Some(expr) = require(cx, &option, "a positive integer") {
                        attr.max_concurrency = positive(cx, key, expr);
                    }
                }
                "concurrency_groups" if !duplicate(cx, key, &attr.concurrency_groups) => {
                    attr.concurrency_groups = Some(GROUPS.read(cx, &option));
                }
                "lifetime" if !duplicate(cx, key, &attr.detached) => {
                    attr.detached = lifetime(cx, &option);
                }
                "get_if_exists" if !duplicate(cx, key, &attr.get_if_exists) => {
                    attr.get_if_exists = boolean(cx, &option);
                }
                "num_cpus" | "num_gpus" | "resources" => attr.resources.parse(cx, &option),
                known if ACTOR_OPTIONS.contains(&known) => {} // a duplicate, reported above
                _ => unknown(cx, key, "actor", ACTOR_OPTIONS),
            }
        }
        if let (Some(namespace), None) = (&attr.namespace, &attr.name) {
            cx.error(namespace, "a `namespace` needs a `name`");
        }
        attr
    }

    /// The names of the declared groups, in order.
    pub(crate) fn group_names(&self) -> Vec<String> {
        self.concurrency_groups
            .iter()
            .flatten()
            .map(|(name, _)| name.unraw().to_string())
            .collect()
    }
}

/// `lifetime = "detached"` (`true`) or `"non_detached"` (`false`).
fn lifetime(cx: &mut Ctxt, option: &RawOption) -> Option<Spanned<bool>> {
    let s = string(cx, option)?;
    let value = match s.value().as_str() {
        "detached" => true,
        "non_detached" => false,
        other => {
            cx.error(
                &s,
                format_args!("`lifetime` is \"detached\" or \"non_detached\", not \"{other}\""),
            );
            return None;
        }
    };
    Some(Spanned {
        value,
        span: s.span(),
    })
}
