//! Procedural macros of [helio](https://docs.rs/helio): `#[actor]` and `#[remote_method]`.
//!
//! Use them through the `helio` crate (`use helio::prelude::*;`); the generated code names only
//! `::helio::__private`, so this crate is not meant to be depended on directly.
//!
//! The pipeline follows serde's and thiserror's split: `attr` parses the attributes into typed
//! options that keep their spans, `ast` checks the impl block, both collecting every error in a
//! `ctxt::Ctxt`; `expand` generates the code. On errors the impl block is still emitted, with
//! every method whose signature is valid, so call sites do not cascade into noise.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod suggest;

use proc_macro::TokenStream;
use quote::quote;

/// Turns an inherent impl block into an actor: see the `helio` crate docs.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let mut item: syn::ItemImpl = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[actor]` goes on the impl block of the actor type: `#[actor] impl Counter { .. }`",
            )
            .to_compile_error();
            return quote!(#err #input).into();
        }
    };
    let mut cx = ctxt::Ctxt::default();
    let attr = attr::ActorAttr::parse(args.into(), &mut cx);
    let actor = ast::ActorImpl::from_item(&mut item, &attr, &mut cx);
    let generated = actor.map(|actor| expand::generate(&actor, &attr));
    let errors = cx.into_compile_errors();
    quote!(#item #generated #errors).into()
}

/// Marks a method of an `#[actor]` impl block as callable through the actor's handle.
///
/// Options: `concurrency_group = "name"`, `max_task_retries = n`, `blocking`.
/// Outside an `#[actor]` impl block it is an error.
#[proc_macro_attribute]
pub fn remote_method(_args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[remote_method]` only works on a method inside an `#[actor]` impl block",
    )
    .to_compile_error();
    quote!(#err #input).into()
}
