//! The actor's constructor: `new`, or the associated fn marked `#[init]`, and its rules (an
//! associated fn, plain, with owned arguments).

use syn::{Ident, ImplItemFn, Type, Visibility};

use super::{
    owned::owned_params,
    signature::{check_plain_fn, param_names},
};
use crate::ctxt::Ctxt;

/// The actor's constructor, checked: what `new_actor().remote(..)` runs on the actor.
pub(crate) struct Constructor {
    pub(crate) ident: Ident,
    pub(crate) vis: Visibility,
    pub(crate) is_async: bool,
    pub(crate) params: Vec<Type>,
    /// The parameters' names, at their spans: see [`param_names`].
    pub(crate) param_names: Vec<Ident>,
}

/// `f` as the constructor; `None` (and errors in `cx`) if it breaks a rule.
pub(super) fn constructor_of(f: &ImplItemFn, self_ty: &Type, cx: &mut Ctxt) -> Option<Constructor> {
    let sig = &f.sig;
    let plain = check_plain_fn(sig, "an actor constructor", cx);
    if let Some(receiver) = sig.receiver() {
        cx.error(
            receiver,
            "an actor constructor is an associated fn: it cannot take `self`",
        );
        return None;
    }
    let params = owned_params(sig, "constructor", self_ty, cx);
    Some(Constructor {
        ident: sig.ident.clone(),
        vis: f.vis.clone(),
        is_async: sig.asyncness.is_some(),
        params: params?,
        param_names: param_names(sig),
    })
    .filter(|_| plain)
}
