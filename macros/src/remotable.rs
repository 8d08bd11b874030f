//! The `Remotable` impl: the actor's table of remote methods for cluster mode.
//!
//! ```ignore
//! impl<__W> Remotable<__W> for Counter
//! where
//!     i64: CrossesProcesses<__W>, // each parameter and result, spanned at its type
//!     i64: CrossesProcesses<__W>,
//!     __W: Codec<(Arg<i64>,)> + Codec<i64>,
//! {
//!     const SIGNATURE: &'static str = "add((i64,))->i64;";
//!     fn remote_methods() -> Vec<RemoteMethod<Self>> {
//!         vec![RemoteMethod::new::<__W, (i64,), i64>("add", |actor, args, options| {
//!             serve::<__W, _, _, _>(actor.methods().add().into_inner(), args, options)
//!         })]
//!     }
//!     // With a constructor `new(start: i64)`, also `__W: Codec<(i64,)>` and
//!     // `encode_constructor_args` / `spawn_encoded`, to create the actor on another node.
//! }
//! ```
//! A call's arguments cross as a tuple of `Arg`s: each a value, or a ref whose value a third
//! process owns (the host reads it from there). Generic over the codec, so the serde bounds are checked only where a codec is named
//! (`helio::register::<Counter>()`), never for a local-only actor. The `CrossesProcesses`
//! bounds come first: a type that is not serde is then one error, which names it and points
//! at the parameter (see the trait). A streaming method's entry
//! (`RemoteMethod::stream`, around `serve_stream`) is bounded by its item type instead of its
//! result.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned as _;

use crate::ast::ActorImpl;

pub(crate) fn generate(actor: &ActorImpl) -> TokenStream {
    let self_ty = &actor.self_ty;
    let wire = format_ident!("__W");
    let mut generics = actor.generics.clone();
    generics.params.push(syn::parse_quote!(#wire));
    let methods = &actor.methods;
    let where_clause = generics.make_where_clause();
    // First, one `T: CrossesProcesses<__W>` per parameter and result, spanned at its type: an
    // unmet one is the error rustc reports (it leaves out the `Codec` errors it implies).
    let ctor_params = actor.constructor.iter().flat_map(|ctor| &ctor.params);
    let crossing = methods
        .iter()
        .flat_map(|method| {
            let output = match &method.stream {
                Some((item, _)) => item,
                None => &method.output,
            };
            method.params.iter().chain([output])
        })
        .chain(ctor_params);
    for ty in crossing {
        where_clause
            .predicates
            .push(syn::parse_quote_spanned!(ty.span()=>
                #ty: ::helio::__private::CrossesProcesses<#wire>
            ));
    }
    let mut signature = String::new();
    for method in methods {
        let params = &method.params;
        // What crosses back: the result, or a stream's items.
        let output = match &method.stream {
            Some((item, _)) => item,
            None => &method.output,
        };
        where_clause
            .predicates
            .push(syn::parse_quote!(#wire: ::helio::__private::Codec<(#(::helio::__private::Arg<#params>,)*)> + ::helio::__private::Codec<#output>));
        signature.push_str(&format!(
            "{}{}({})->{};",
            if method.stream.is_some() {
                "stream "
            } else {
                ""
            },
            method.ident,
            quote!(#(#params),*),
            quote!(#output)
        ));
    }
    // The constructor's arguments cross too, to create the actor on another node.
    let constructor = actor.constructor.as_ref().map(|ctor| {
        let tys = &ctor.params;
        let args = quote!((#(#tys,)*));
        where_clause
            .predicates
            .push(syn::parse_quote!(#wire: ::helio::__private::Codec<#args>));
        quote! {
            fn encode_constructor_args(
                args: ::std::boxed::Box<dyn ::core::any::Any + ::core::marker::Send>,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, ::helio::__private::WireError> {
                ::helio::__private::encode_args::<#wire, #args>(args)
            }
            fn spawn_encoded(
                options: ::helio::__private::ActorOptions,
                args: &[u8],
            ) -> ::core::result::Result<::helio::__private::Actor<Self>, ::helio::__private::WireError> {
                let args = <#wire as ::helio::__private::Codec<#args>>::decode(args)?;
                ::core::result::Result::Ok(Self::new_actor().into_inner().options(options).remote_tuple(args))
            }
        }
    });
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let entries = methods.iter().map(|method| {
        let ident = &method.ident;
        let name = ident.to_string();
        let params = &method.params;
        match &method.stream {
            None => {
                let output = &method.output;
                quote! {
                    ::helio::__private::RemoteMethod::new::<#wire, (#(#params,)*), #output>(
                        #name,
                        |__actor, __args, __options| ::helio::__private::serve::<#wire, _, _, _>(
                            __actor.methods().#ident().into_inner(), __args, __options),
                    )
                }
            }
            Some((item, _)) => quote! {
                ::helio::__private::RemoteMethod::stream::<#wire, (#(#params,)*), #item>(
                    #name,
                    |__actor, __args, __options| ::helio::__private::serve_stream::<#wire, _, _, _>(
                        __actor.methods().#ident().into_inner(), __args, __options),
                )
            },
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::helio::__private::Remotable<#wire> for #self_ty #where_clause {
            const SIGNATURE: &'static str = #signature;
            fn remote_methods() -> ::std::vec::Vec<::helio::__private::RemoteMethod<Self>> {
                ::std::vec![#(#entries),*]
            }
            #constructor
        }
    }
}
