//! The `#[on_stop]` hook and its rules: a `&self` or `&mut self` receiver, no other argument,
//! no return type.

use syn::{FnArg, Ident, ImplItemFn, ReceiverKind, ReturnType};

use super::signature::check_plain_fn;
use crate::ctxt::Ctxt;

/// The `#[on_stop]` hook: runs when the actor stops gracefully.
pub(crate) struct OnStop {
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
}

/// `f` as the `#[on_stop]` hook; `None` (and errors in `cx`) if it breaks a rule.
pub(super) fn on_stop_of(f: &ImplItemFn, cx: &mut Ctxt) -> Option<OnStop> {
    let sig = &f.sig;
    let plain = check_plain_fn(sig, "an `#[on_stop]` hook", cx);
    let receiver_ok = match sig.receiver() {
        Some(r) if matches!(r.kind, ReceiverKind::Reference(..)) => true,
        Some(r) => {
            cx.error(r, "`#[on_stop]` takes `&mut self` or `&self`");
            false
        }
        None => {
            cx.error(
                &sig.ident,
                "`#[on_stop]` needs a `&mut self` or `&self` receiver",
            );
            false
        }
    };
    let extra = sig
        .inputs
        .iter()
        .find(|input| matches!(input, FnArg::Typed(_)));
    if let Some(extra) = extra {
        cx.error(
            extra,
            "`#[on_stop]` takes no arguments besides the receiver: it runs when the actor \
             stops, with no caller to pass them",
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        cx.error(
            ty,
            "`#[on_stop]` returns nothing: no caller is waiting for it",
        );
    }
    let ok = plain && receiver_ok && extra.is_none() && matches!(sig.output, ReturnType::Default);
    ok.then(|| OnStop {
        ident: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
    })
}
