//! Collects every error of one expansion, so the user sees them all at once.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    /// An error spanning `tokens`.
    pub(crate) fn error(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn syn_error(&mut self, err: syn::Error) {
        self.errors.push(err);
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Every error as `compile_error!` invocations.
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        let combined = self.errors.into_iter().reduce(|mut all, err| {
            all.combine(err);
            all
        });
        combined.map(|e| e.to_compile_error()).unwrap_or_default()
    }
}
