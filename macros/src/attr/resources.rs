//! `num_cpus`, `num_gpus` and `resources = { .. }`: what an actor or a task holds from its node,
//! shared by `#[actor]` and `#[remote]`.

use proc_macro2::TokenStream;
use syn::{Ident, ext::IdentExt};

use super::{
    Spanned,
    brace_list::RESOURCES,
    option::{RawOption, duplicate},
    value::{amount, require},
};
use crate::ctxt::Ctxt;

/// `num_cpus`, `num_gpus` and `resources = { .. }`, shared by `#[actor]` and `#[remote]`.
#[derive(Default)]
pub(crate) struct ResourceAttr {
    num_cpus: Option<Spanned<f64>>,
    num_gpus: Option<Spanned<f64>>,
    custom: Option<Vec<(Ident, Spanned<f64>)>>,
}

impl ResourceAttr {
    /// Parses `option`, one of `num_cpus`, `num_gpus` or `resources`.
    pub(super) fn parse(&mut self, cx: &mut Ctxt, option: &RawOption) {
        let key = &option.key;
        let amount_of = |cx: &mut Ctxt| {
            require(cx, option, "an amount such as 1 or 0.5").and_then(|e| amount(cx, key, e))
        };
        match key.unraw().to_string().as_str() {
            "num_cpus" if !duplicate(cx, key, &self.num_cpus) => self.num_cpus = amount_of(cx),
            "num_gpus" if !duplicate(cx, key, &self.num_gpus) => self.num_gpus = amount_of(cx),
            "resources" if !duplicate(cx, key, &self.custom) => {
                self.custom = Some(RESOURCES.read(cx, option));
            }
            _ => {} // a duplicate, reported above
        }
    }

    /// The builder calls that set them: `.num_cpus(1.0).resource("ssd", 1.0)`.
    pub(crate) fn calls(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if let Some(x) = &self.num_cpus {
            let x = x.value;
            out.extend(quote::quote!(.num_cpus(#x)));
        }
        if let Some(x) = &self.num_gpus {
            let x = x.value;
            out.extend(quote::quote!(.num_gpus(#x)));
        }
        for (name, amount) in self.custom.iter().flatten() {
            let (name, x) = (name.unraw().to_string(), amount.value);
            out.extend(quote::quote!(.resource(#name, #x)));
        }
        out
    }
}
