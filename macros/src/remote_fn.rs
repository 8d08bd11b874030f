//! `#[remote]` on a free fn: the fn's name becomes a constant task handle of a hidden type,
//! `remote_fn_<fn>__call_<fn>_remote_or_<fn>_call_local` (the name rustc reports for a direct
//! call `f(..)`, so that it says what to write), which wraps
//! `::helio::__private::Task<Self, (Args,), R>` (and derefs to it), implements `RemoteFn` with
//! the fn's argument tuple and the attribute's options, and has the fn's own `.remote(..)` and
//! `.call_local(..)` (which holds the fn's body; a task's run calls it): named and spanned as
//! the user's fn, with its parameter names, so a call with the wrong arguments is reported at
//! the fn.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, ItemFn, Type, spanned::Spanned as _};

use crate::{
    ast::{check_plain_fn, owned_output, owned_params, param_names, stream_item},
    attr::{TaskAttr, int_literal},
    ctxt::Ctxt,
};

/// The expansion of `#[remote(..)]` on `item`; errors are collected in `cx`.
pub(crate) fn expand(attr: &TaskAttr, item: ItemFn, cx: &mut Ctxt) -> TokenStream {
    let sig = &item.sig;
    let plain = check_plain_fn(sig, "a `#[remote]` fn", cx);
    let self_ty: Type = syn::parse_quote!(Self);
    let params = owned_params(sig, "task", &self_ty, cx);
    // A fn returning `impl Stream<Item = X>` (or `BoxStream<'_, X>`) is a streaming task: its
    // result is the boxed stream, pumped into an `ObjectRefStream<X>`.
    let streamed = stream_item(sig);
    let output = match &streamed {
        Some(item) => Some(syn::parse_quote!(::helio::__private::BoxStream<'static, #item>)),
        None => owned_output(sig, "a `#[remote]` fn", &self_ty, cx),
    };
    let (Some(params), Some(output), true) = (params, output, plain) else {
        // Keep the fn as written, so that its other uses do not cascade into more errors.
        return quote!(#item);
    };
    let ident = &sig.ident;
    let vis = &item.vis;
    // Its name is what rustc says of `double(2)` ("expected function, found `..`"), the one
    // part of that error a macro chooses: it says what to write instead.
    let marker = format_ident!(
        "remote_fn_{}__call_{}_remote_or_{}_call_local",
        ident,
        ident,
        ident
    );
    let names = param_names(sig);
    let name = ident.to_string();
    let docs = item.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let mut inner = item.clone();
    inner.vis = syn::Visibility::Inherited;
    inner.attrs.retain(|a| !a.path().is_ident("doc"));
    // `.call_local(..)` runs the fn as written, here and now: what a task runs (its stream
    // boxed, its future `'static`).
    let (local_output, local_body) = match &streamed {
        Some(item) if sig.asyncness.is_some() => (
            quote!(impl ::core::future::Future<Output = ::helio::__private::BoxStream<'static, #item>> + use<>),
            quote!(async move { ::helio::__private::box_stream(#ident(#(#names),*).await) }),
        ),
        Some(item) => (
            quote!(::helio::__private::BoxStream<'static, #item>),
            quote!(::helio::__private::box_stream(#ident(#(#names),*))),
        ),
        None if sig.asyncness.is_some() => (
            quote!(impl ::core::future::Future<Output = #output> + use<>),
            quote!(#ident(#(#names),*)),
        ),
        None => (quote!(#output), quote!(#ident(#(#names),*))),
    };
    let call_local = Ident::new("call_local", ident.span());
    let body = quote!(Self(::helio::__private::Task::new()).#call_local(#(#names),*));
    let call = if sig.asyncness.is_some() {
        quote_spanned!(sig.span()=> ::helio::__private::TaskRun::Async(
            ::std::boxed::Box::pin(#body)
        ))
    } else {
        quote_spanned!(sig.span()=> ::helio::__private::TaskRun::Sync(
            ::std::boxed::Box::new(move || #body)
        ))
    };
    // What `.remote(..)` returns, and how: a ref, or for a streaming fn its items.
    let (returns, start) = match &streamed {
        Some(item) => (
            quote!(::helio::__private::ObjectRefStream<#item>),
            quote!(submit_stream((#(::helio::__private::IntoArg::into_arg(#names),)*), 16)),
        ),
        None => (
            quote!(::helio::__private::ObjectRef<#output>),
            quote!(submit((#(::helio::__private::IntoArg::into_arg(#names),)*))),
        ),
    };
    // What crosses threads: the arguments, and the result or the stream's items.
    let crossing = streamed.as_ref().unwrap_or(&output).clone();
    let defaults = defaults(attr);
    let args = quote!((#(#params,)*));
    let remote = Ident::new("remote", ident.span());
    let remote_params = names
        .iter()
        .zip(&params)
        .map(|(name, ty)| quote_spanned!(ty.span()=> #name: impl ::helio::__private::IntoArg<#ty>));
    // The runtime asks `Send + 'static` of the types. Stated on the impls, so their bodies are
    // not checked against them: where a type is not `Send`, rustc reports it once, at the type.
    let sendable = params
        .iter()
        .chain([&crossing])
        .map(|ty| quote_spanned!(ty.span()=> #ty: ::helio::__private::Sendable<'__helio>));
    let sendable = quote!(#(#sendable,)*);
    // What `register_task` checks first: each type serde, reported at the type.
    let crosses = params
        .iter()
        .chain([&crossing])
        .map(|ty| quote_spanned!(ty.span()=> #ty: ::helio::__private::CrossesProcesses<__W>));
    let crosses = quote!(#(#crosses,)*);
    quote! {
        #(#docs)*
        #[allow(non_upper_case_globals)]
        #vis const #ident: #marker = #marker(::helio::__private::Task::new());

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone)]
        #vis struct #marker(::helio::__private::Task<#marker, #args, #output>);

        impl<'__helio> #marker where #sendable {
            /// Runs the fn as a task and returns the ref of its result at once.
            #[allow(clippy::too_many_arguments)]
            #vis fn #remote(&self, #(#remote_params),*) -> #returns {
                self.0.#start
            }

            /// This task with `options` over its defaults.
            #vis fn options(&self, options: ::helio::__private::TaskOptions) -> Self {
                #marker(self.0.options(options))
            }
        }

        impl #marker {
            /// Runs the plain fn here and now, as written: no task, no ref (for tests).
            #[allow(clippy::too_many_arguments, clippy::unused_unit)]
            #vis fn #call_local(&self, #(#names: #params),*) -> #local_output {
                #inner
                #local_body
            }
        }

        impl<__W> ::helio::__private::TaskCrosses<__W> for #marker where #crosses {}

        impl ::core::ops::Deref for #marker {
            type Target = ::helio::__private::Task<#marker, #args, #output>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl<'__helio> ::helio::__private::RemoteFn for #marker where #sendable {
            type Args = #args;
            type Output = #output;
            const NAME: &'static str = ::core::concat!(::core::module_path!(), "::", #name);

            fn defaults() -> ::helio::__private::TaskOptions {
                ::helio::__private::TaskOptions::new() #defaults
            }

            fn cloner() -> ::core::option::Option<fn(&Self::Args) -> Self::Args> {
                #[allow(unused_imports)]
                use ::helio::__private::{ViaClone as _, ViaNoClone as _};
                (&&::helio::__private::CloneProbe::<Self::Args>::new()).cloner()
            }

            #[allow(unused_parens, clippy::unused_unit, clippy::redundant_closure)]
            fn run((#(#names,)*): Self::Args) -> ::helio::__private::TaskRun<Self::Output> {
                #call
            }
        }
    }
}

/// `.option(value)` for each option of the attribute.
fn defaults(attr: &TaskAttr) -> TokenStream {
    let mut out = TokenStream::new();
    if let Some(n) = &attr.max_retries {
        let n = int_literal(n.value, n.span);
        out.extend(quote!(.max_retries(#n)));
    }
    if let Some(b) = &attr.retry_on_panic {
        out.extend(quote!(.retry_on_panic(#b)));
    }
    out.extend(attr.resources.calls());
    if let Some(name) = &attr.name {
        out.extend(quote!(.name(#name)));
    }
    out
}
