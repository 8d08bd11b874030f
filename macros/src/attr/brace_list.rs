//! Brace lists, `key = { name = value, .. }`: reading one into named values (their grammar is
//! an option value's, in `option.rs`).
//! The one reader serves both lists, `concurrency_groups = { io = 2 }` ([`GROUPS`]) and
//! `resources = { ssd = 1 }` ([`RESOURCES`]), which differ only in the names they refuse, the
//! wording of a repeated name, and how they read a value.

use syn::{Expr, Ident, ext::IdentExt, spanned::Spanned as _};

use super::{
    Spanned,
    option::{RawOption, RawValue},
    value::{amount, positive},
};
use crate::ctxt::Ctxt;

/// What sets one brace-list option apart from the other.
pub(super) struct BraceList<T> {
    /// The error when the option's value is not a brace list.
    usage: &'static str,
    /// The error for a name the list refuses, if `name` is one.
    refused: fn(name: &str) -> Option<String>,
    /// The error for a name given a second time.
    twice: fn(name: &str) -> String,
    /// Reads an entry's value (errors at the value, naming the entry).
    value: fn(&mut Ctxt, &Ident, &Expr) -> Option<Spanned<T>>,
}

/// `concurrency_groups = { io = 2, .. }`: each group's size, at least 1.
pub(super) const GROUPS: BraceList<u64> = BraceList {
    usage: "`concurrency_groups` takes a brace list of group sizes: `concurrency_groups = { io = 2, compute = 4 }`",
    refused: |name| {
        (name == "default")
            .then(|| "`default` is the implicit group: size it with `max_concurrency`".to_owned())
    },
    twice: |name| format!("concurrency group `{name}` is declared twice"),
    value: positive,
};

/// `resources = { ssd = 1, .. }`: each resource's amount, at least 0.
pub(super) const RESOURCES: BraceList<f64> = BraceList {
    usage: "`resources` takes a brace list of amounts: `resources = { ssd = 1, fpga = 0.5 }`",
    refused: |name| {
        (name == "CPU" || name == "GPU").then(|| {
            format!(
                "ask for {name}s with `num_{}s`, not in `resources`",
                name.to_lowercase()
            )
        })
    },
    twice: |name| format!("resource `{name}` is given twice"),
    value: amount,
};

impl<T> BraceList<T> {
    /// The entries of `option` whose name and value are valid, in order; an error for each
    /// other entry, or one for the whole option when its value is not a brace list.
    pub(super) fn read(&self, cx: &mut Ctxt, option: &RawOption) -> Vec<(Ident, Spanned<T>)> {
        let entries = match &option.value {
            Some(RawValue::BraceList(list)) => &list.entries,
            other => {
                let span = match other {
                    Some(RawValue::Expr(expr)) => expr.span(),
                    _ => option.key.span(),
                };
                cx.syn_error(syn::Error::new(span, self.usage));
                return Vec::new();
            }
        };
        let mut out: Vec<(Ident, Spanned<T>)> = Vec::new();
        for entry in entries {
            let name = entry.name.unraw().to_string();
            if let Some(message) = (self.refused)(&name) {
                cx.error(&entry.name, message);
            } else if out.iter().any(|(n, _)| n.unraw() == name) {
                cx.error(&entry.name, (self.twice)(&name));
            } else if let Some(value) = (self.value)(cx, &entry.name, &entry.value) {
                out.push((entry.name.clone(), value));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::{
        attr::{ActorAttr, TaskAttr},
        ctxt::Ctxt,
    };

    #[test]
    fn groups_keep_the_valid_entries_and_report_the_others() {
        let mut cx = Ctxt::default();
        let attr = ActorAttr::parse(
            quote!(concurrency_groups = { io = 2, default = 1, io = 3, cpu = 0, r#db = 4 }),
            &mut cx,
        );
        assert_eq!(attr.group_names(), ["io", "db"]);
        let errors = cx.into_compile_errors().to_string();
        assert!(errors.contains("`default` is the implicit group: size it with `max_concurrency`"));
        assert!(errors.contains("concurrency group `io` is declared twice"));
        assert!(errors.contains("`cpu` must be at least 1"));
    }

    #[test]
    fn resources_keep_the_valid_entries_and_report_the_others() {
        let mut cx = Ctxt::default();
        let attr = TaskAttr::parse(
            quote!(resources = { ssd = 1, CPU = 1, ssd = 2, fpga = 0.5, bad = "x" }),
            &mut cx,
        );
        let calls = attr.resources.calls().to_string();
        assert!(calls.contains("\"ssd\"") && calls.contains("\"fpga\""));
        assert!(!calls.contains("\"bad\"") && !calls.contains("\"CPU\""));
        let errors = cx.into_compile_errors().to_string();
        assert!(errors.contains("ask for CPUs with `num_cpus`, not in `resources`"));
        assert!(errors.contains("resource `ssd` is given twice"));
        assert!(errors.contains("`bad` takes an amount of at least 0"));
    }

    #[test]
    fn a_value_that_is_not_a_brace_list_is_one_error() {
        for (tokens, usage) in [
            (
                quote!(concurrency_groups = 3),
                "`concurrency_groups` takes a brace list of group sizes",
            ),
            (
                quote!(resources),
                "`resources` takes a brace list of amounts",
            ),
        ] {
            let mut cx = Ctxt::default();
            ActorAttr::parse(tokens, &mut cx);
            assert_eq!(cx.error_count(), 1);
            assert!(cx.into_compile_errors().to_string().contains(usage));
        }
    }
}
