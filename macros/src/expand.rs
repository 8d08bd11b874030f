//! Code generation for `#[actor]`.
//!
//! Input:
//! ```ignore
//! #[actor(max_restarts = 4)]
//! impl Counter {
//!     pub fn new(start: i64) -> Self { .. }
//!     #[remote_method]
//!     pub fn add(&mut self, by: i64) -> i64 { .. }
//! }
//! ```
//! Output (paths shortened: every runtime path is `::helio::__private::..`):
//! ```ignore
//! impl Counter { /* the items as written, less `#[remote_method]`, `#[init]`, `#[on_stop]` */ }
//!
//! /// The remote methods of [`Counter`], returned by `actor.methods()`: ..
//! // Generic over the target the accessors pick from: the handle, or (`node.methods()`) a
//! // `DagNode<Actor<Counter>, I>`. A generic actor's struct also has a `PhantomData` of it.
//! pub struct CounterMethods<'a, __Target = Actor<Counter>> { actor: &'a __Target }
//!
//! const _: () = {
//!     impl ActorClass for Counter {
//!         type Methods<'a, __Target: 'a> = CounterMethods<'a, __Target> where Self: 'a;
//!         fn methods<__Target>(actor: &__Target) -> Self::Methods<'_, __Target> {
//!             CounterMethods { actor }
//!         }
//!         fn default_options() -> ActorOptions {
//!             ActorOptions::new().max_restarts(4).max_concurrency(1)
//!         }
//!         // With an `#[on_stop] fn stop(&mut self)`:
//!         // fn on_stop(state: &mut Self) -> Option<BoxFuture<'_, ()>> {
//!         //     Some(Box::pin(async move { <Counter>::stop(state) }))
//!         // }
//!     }
//!     impl Counter {
//!         /// Starts building a [`Counter`] actor: ..
//!         pub fn new_actor() -> CounterMethod<ActorBuilder<Self, (i64,)>, 0> {
//!             CounterMethod(ActorBuilder::new(|(__a0,)| construct_sync(<Counter>::new(__a0))))
//!         }
//!     }
//!     /// The handle the accessors and `new_actor()` return; with `Deref<Target = H>`, `Clone`,
//!     /// `Debug`, `Future` (awaiting the wrapped handle), `.options(..)`, `.into_inner()`.
//!     pub struct CounterMethod<H, const N: usize>(H);
//!     // Each `.remote(..)` named and spanned as the user's fn, with its parameter names:
//!     impl CounterMethod<ActorBuilder<Counter, (i64,)>, 0> {
//!         pub fn remote(self, start: i64) -> Actor<Counter> { self.0.remote(start) }
//!     }
//!     impl<'a> CounterMethod<Method<'a, Counter, (i64,), i64>, 0>
//!     where i64: Sendable<'a> /* each argument type and the result */ {
//!         pub fn remote(&self, by: impl IntoArg<i64>) -> ObjectRef<i64> { self.0.remote(by) }
//!     }
//!     // `Method<.., __Target>`: on the handle (`__Target = Actor<Counter>`) it has the
//!     // `.remote(..)` above; on a DAG node, the runtime's `.bind(..)`.
//!     impl<'a, __Target> CounterMethods<'a, __Target> {
//!         /// Calls [`Counter::add`] on the actor.
//!         pub fn add(&self) -> CounterMethod<Method<'a, Counter, (i64,), i64, __Target>, 0> {
//!             // (method name, concurrency group, `max_task_retries`, body maker)
//!             CounterMethod(Method::new(self.actor, "add", None, None, |(__a0,), __done, _| {
//!                 Body::sync_mut(__done, (RemoteArg::<i64>::new(__a0),),
//!                     |__this: &mut Counter, (__a0,): (RemoteArg<i64>,)| {
//!                         <Counter>::add(__this, __a0.into_inner())
//!                     })
//!             }))
//!         }
//!     }
//! };
//! ```
//! The const block also holds the actor's `Remotable` impl (see `remotable.rs`), its table of
//! remote methods for cluster mode.
//!
//! An `async` constructor uses `construct_async`. Async and `blocking` methods (which a crash
//! can interrupt) use `Body::{async_ref, async_mut, blocking_ref, blocking_mut}`, which take a
//! `RetryPolicy::new(__retries, cloner)` before the closure: the body maker's third argument is
//! the call's `max_task_retries`, and the cloner re-runs the call when its arguments are
//! `Clone`. A streaming method's accessor returns `StreamMethod::new(<the Method>, buffer)`, in an
//! `impl<'a> CounterMethods<'a>` of its own: streams are the handle's only.
//! Each method with a `self` receiver but no `#[remote_method]` (say `helper`) gets a hidden
//! accessor bounded by `NotARemoteMethod<add_remote_method_to_helper>`, a bound that never
//! holds, so calling it through `.methods()` is an error that says what to add.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Generics, Ident, Lifetime, LifetimeParam, spanned::Spanned};

use crate::{
    ast::{ActorImpl, Constructor, Receiver, RemoteMethod},
    attr::{ActorAttr, int_literal},
};

/// The lifetime of the borrowed handle in the generated methods struct.
fn handle_lifetime() -> Lifetime {
    Lifetime::new("'a", Span::call_site())
}

pub(crate) fn generate(actor: &ActorImpl, attr: &ActorAttr) -> TokenStream {
    let self_ty = &actor.self_ty;
    let methods_ident = format_ident!("{}Methods", actor.ident, span = actor.ident.span());
    let (impl_generics, _, where_clause) = actor.generics.split_for_impl();
    let methods_generics = with_handle_lifetime(&actor.generics);
    let (m_impl, m_ty, m_where) = methods_generics.split_for_impl();
    // The accessors are generic over the target they pick from (`T` of `Method`): the handle,
    // or a DAG node that creates the actor. The struct's target defaults to the handle.
    let target = target_param();
    let target_generics = with_target(&methods_generics, None);
    let (t_impl, t_ty, _) = target_generics.split_for_impl();
    // A generic actor's parameters are used by the struct through a marker, as the target
    // may not name them.
    let (marker, marker_init) = if actor
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, syn::GenericParam::Const(_)))
    {
        (
            quote!(__actor: ::core::marker::PhantomData<fn() -> #self_ty>,),
            quote!(__actor: ::core::marker::PhantomData,),
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let struct_generics = with_target(
        &methods_generics,
        Some(syn::parse_quote!(::helio::__private::Actor<#self_ty>)),
    );
    let lt = handle_lifetime();
    let options = default_options(actor, attr);
    let wrapper = wrapper_ident(actor);
    let constructor = actor.constructor.as_ref().map(|c| new_actor_fn(actor, c));
    let constructor_remote = actor
        .constructor
        .as_ref()
        .map(|c| constructor_remote(actor, c));
    let accessors = actor
        .methods
        .iter()
        .enumerate()
        .filter(|(_, m)| m.stream.is_none())
        .map(|(i, m)| accessor(actor, m, i));
    // A streaming method is the handle's only: its accessor is in an impl of its own.
    let stream_accessors = actor
        .methods
        .iter()
        .enumerate()
        .filter(|(_, m)| m.stream.is_some())
        .map(|(i, m)| accessor(actor, m, i))
        .collect::<Vec<_>>();
    let stream_impl = (!stream_accessors.is_empty()).then(|| {
        quote! {
            impl #m_impl #methods_ident #m_ty #m_where {
                #(#stream_accessors)*
            }
        }
    });
    let remotes = actor
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| method_remote(actor, m, i));
    let wrapper_items = wrapper_items(&wrapper);
    let not_remote = actor.local_methods.iter().map(not_remote_accessor);
    let markers = actor.local_methods.iter().map(not_remote_marker);
    let remotable = crate::remotable::generate(actor);
    let on_stop = actor.on_stop.as_ref().map(|hook| {
        let name = &hook.ident;
        let call = if hook.is_async {
            quote!(<#self_ty>::#name(state).await)
        } else {
            quote!(<#self_ty>::#name(state))
        };
        quote! {
            fn on_stop(state: &mut Self) -> ::core::option::Option<::helio::__private::BoxFuture<'_, ()>> {
                ::core::option::Option::Some(::std::boxed::Box::pin(async move { #call }))
            }
        }
    });
    let struct_doc = format!(
        "The remote methods of [`{}`], returned by `actor.methods()`: one accessor per \
         `#[remote_method]`, each returning a reusable handle with `.remote(args)`. Returned \
         by a DAG node's `.methods()` too, with the node as `{}`: its handles have `.bind(..)`.",
        actor.ident, target
    );
    // Spanned at the actor's type, so "no method named `x` found" points at `impl Counter`.
    let methods_struct = quote_spanned! {actor.ident.span()=>
        #[doc = #struct_doc]
        pub struct #methods_ident #struct_generics #m_where {
            #[allow(dead_code)] // unread when the actor has no remote methods
            actor: &#lt #target,
            #marker
        }
    };
    quote! {
        #methods_struct

        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::helio::__private::ActorClass for #self_ty #where_clause {
                type Methods<#lt, #target: #lt> = #methods_ident #t_ty where Self: #lt;

                fn methods<#target>(actor: &#target) -> Self::Methods<'_, #target> {
                    #methods_ident { actor, #marker_init }
                }

                fn default_options() -> ::helio::__private::ActorOptions {
                    #options
                }

                #on_stop
            }

            impl #impl_generics #self_ty #where_clause {
                #constructor
            }

            #wrapper_items
            #constructor_remote
            #(#remotes)*

            #remotable

            #(
                #[allow(non_camel_case_types)]
                struct #markers;
            )*

            #[allow(dead_code)]
            impl #t_impl #methods_ident #t_ty #m_where {
                #(#accessors)*
                #(#not_remote)*
            }

            #stream_impl
        };
    }
}

/// The handle type the accessors and `new_actor()` return: `{Actor}Method<H, N>` wraps the
/// runtime's handle `H` (a `Method`, `StreamMethod` or `ActorBuilder`) for the actor's method
/// number `N`, so that each method's `.remote(..)` is generated here, with the method's own
/// parameter names at their spans: an arity error then points at the user's method.
fn wrapper_ident(actor: &ActorImpl) -> Ident {
    format_ident!("{}Method", actor.ident, span = actor.ident.span())
}

/// The wrapper and what it shares with the handle it wraps: the handle's methods (through
/// `Deref`), `Clone`, `Debug`, `.options(..)` (returning the wrapper) and `.into_inner()`;
/// awaiting it awaits the handle, so awaiting a method handle says to call `.remote(..)`.
fn wrapper_items(w: &Ident) -> TokenStream {
    // At the actor's name: an error about the handle type (say, `get` of a handle) shows where
    // it comes from without pointing at the attribute.
    let strukt = quote_spanned!(w.span()=> pub struct #w<H, const N: usize>(H););
    quote! {
        /// A handle on one remote method (or the constructor) of the actor: `.remote(..)` takes
        /// the method's arguments; every method of the wrapped handle is available too.
        #[must_use = "a handle does nothing until `.remote(..)` is called"]
        #strukt

        impl<H, const N: usize> ::core::ops::Deref for #w<H, N> {
            type Target = H;
            #[inline]
            fn deref(&self) -> &H {
                &self.0
            }
        }

        impl<H: ::core::clone::Clone, const N: usize> ::core::clone::Clone for #w<H, N> {
            fn clone(&self) -> Self {
                #w(::core::clone::Clone::clone(&self.0))
            }
        }

        impl<H: ::core::fmt::Debug, const N: usize> ::core::fmt::Debug for #w<H, N> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl<H, const N: usize> ::core::future::Future for #w<H, N>
        where
            H: ::core::future::Future + ::core::marker::Unpin,
        {
            type Output = H::Output;
            fn poll(
                self: ::core::pin::Pin<&mut Self>,
                cx: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<H::Output> {
                ::core::future::Future::poll(::core::pin::Pin::new(&mut self.get_mut().0), cx)
            }
        }

        impl<H: ::helio::__private::Overridable, const N: usize> #w<H, N> {
            /// This handle with overrides (`CallOptions` for a method, `ActorOptions` for the
            /// constructor).
            pub fn options(self, options: H::Options) -> Self {
                #w(::helio::__private::Overridable::overridden(self.0, options))
            }
        }

        impl<H, const N: usize> #w<H, N> {
            /// The wrapped handle (a `Method`, `StreamMethod` or `ActorBuilder`).
            pub fn into_inner(self) -> H {
                self.0
            }
        }
    }
}

/// `remote` named and spanned as the user's fn, and its parameters as theirs.
fn remote_params(
    ident: &Ident,
    names: &[Ident],
    tys: &[syn::Type],
    wrap: impl Fn(&syn::Type) -> TokenStream,
) -> (Ident, Vec<TokenStream>) {
    let remote = Ident::new("remote", ident.span());
    let params = names
        .iter()
        .zip(tys)
        .map(|(name, ty)| {
            let ty = wrap(ty);
            quote!(#name: #ty)
        })
        .collect();
    (remote, params)
}

/// The constructor's `.remote(..)` on `new_actor()`'s handle.
fn constructor_remote(actor: &ActorImpl, ctor: &Constructor) -> TokenStream {
    let self_ty = &actor.self_ty;
    let w = wrapper_ident(actor);
    let (impl_generics, _, where_clause) = actor.generics.split_for_impl();
    let tys = &ctor.params;
    let names = &ctor.param_names;
    let (remote, params) = remote_params(&ctor.ident, names, tys, |ty| quote!(#ty));
    quote! {
        impl #impl_generics #w<::helio::__private::ActorBuilder<#self_ty, (#(#tys,)*)>, 0> #where_clause {
            /// Starts the actor with the constructor's arguments and returns its handle.
            #[allow(clippy::too_many_arguments)]
            #[inline]
            pub fn #remote(self, #(#params),*) -> ::helio::__private::Actor<#self_ty> {
                self.0.remote(#(#names),*)
            }
        }
    }
}

/// A remote method's `.remote(..)` on its accessor's handle.
fn method_remote(actor: &ActorImpl, method: &RemoteMethod, index: usize) -> TokenStream {
    let w = wrapper_ident(actor);
    let methods_generics = with_handle_lifetime(&actor.generics);
    let (m_impl, _, _) = methods_generics.split_for_impl();
    let handle_ty = handle_type(actor, method);
    let index = proc_macro2::Literal::usize_unsuffixed(index);
    let names = &method.param_names;
    let (remote, params) = remote_params(
        &method.ident,
        names,
        &method.params,
        |ty| quote_spanned!(ty.span()=> impl ::helio::__private::IntoArg<#ty>),
    );
    let (output, result) = match &method.stream {
        Some((item, _)) => (quote!(::helio::__private::ObjectRefStream<#item>), item),
        None => {
            let output = &method.output;
            (quote!(::helio::__private::ObjectRef<#output>), output)
        }
    };
    // The runtime's `remote` asks `Send + 'static` of the types. Stated on the impl, so the body
    // is not checked against them; where a type is not `Send`, rustc still reports the bound
    // (as a trivially false one, at the type, next to the declaration's own error).
    let lt = handle_lifetime();
    let mut generics = methods_generics.clone();
    let where_clause = generics.make_where_clause();
    for ty in method.params.iter().chain([result]) {
        where_clause
            .predicates
            .push(syn::parse_quote_spanned!(ty.span()=> #ty: ::helio::__private::Sendable<#lt>));
    }
    let (_, _, m_where) = generics.split_for_impl();
    quote! {
        impl #m_impl #w<#handle_ty, #index> #m_where {
            /// Calls the method on the actor; see `Method::remote`.
            #[allow(clippy::too_many_arguments)]
            #[inline]
            pub fn #remote(&self, #(#params),*) -> #output {
                self.0.remote(#(#names),*)
            }
        }
    }
}

/// The runtime handle an accessor wraps: `Method<'a, A, (Args,), R>`, or for a stream of `T`,
/// `StreamMethod<'a, A, (Args,), T>`.
fn handle_type(actor: &ActorImpl, method: &RemoteMethod) -> TokenStream {
    let self_ty = &actor.self_ty;
    let lt = handle_lifetime();
    let declared = &method.params;
    match &method.stream {
        None => {
            let output = &method.output;
            quote!(::helio::__private::Method<#lt, #self_ty, (#(#declared,)*), #output>)
        }
        Some((item, _)) => {
            quote!(::helio::__private::StreamMethod<#lt, #self_ty, (#(#declared,)*), #item>)
        }
    }
}

/// A hidden accessor for a method without `#[remote_method]`: calling it through `.methods()`
/// is an error whose message names the method and says to add the attribute (the marker
/// type's name is the message: `{Self}` in the trait's `on_unimplemented`).
fn not_remote_accessor(ident: &Ident) -> TokenStream {
    let marker = not_remote_marker(ident);
    quote_spanned! {ident.span()=>
        #[doc(hidden)]
        #[allow(private_bounds)]
        pub fn #ident(&self)
        where
            Self: ::helio::__private::NotARemoteMethod<#marker>,
        {
        }
    }
}

fn not_remote_marker(ident: &Ident) -> Ident {
    format_ident!("add_remote_method_to_{}", ident, span = ident.span())
}

/// The type parameter of the methods struct for the target its accessors pick from.
fn target_param() -> Ident {
    Ident::new("__Target", Span::call_site())
}

/// `generics` with the target parameter last, with `default` (the struct's) or without (an
/// impl's).
fn with_target(generics: &Generics, default: Option<syn::Type>) -> Generics {
    let mut generics = generics.clone();
    let mut param = syn::TypeParam::from(target_param());
    if let Some(default) = default {
        param.default = Some((Default::default(), default));
    }
    generics.params.push(syn::GenericParam::Type(param));
    generics
}

fn with_handle_lifetime(generics: &Generics) -> Generics {
    let mut generics = generics.clone();
    let param = LifetimeParam::new(handle_lifetime());
    generics
        .params
        .insert(0, syn::GenericParam::Lifetime(param));
    generics
}

fn arg_idents(n: usize) -> Vec<Ident> {
    (0..n).map(|i| format_ident!("__a{}", i)).collect()
}

fn default_options(actor: &ActorImpl, attr: &ActorAttr) -> TokenStream {
    let mut calls = Vec::new();
    if let Some(name) = &attr.name {
        calls.push(quote!(.name(#name)));
    }
    if let Some(namespace) = &attr.namespace {
        calls.push(quote!(.namespace(#namespace)));
    }
    for (setter, value) in [
        ("max_restarts", &attr.max_restarts),
        ("max_task_retries", &attr.max_task_retries),
        ("max_pending_calls", &attr.max_pending_calls),
    ] {
        if let Some(v) = value {
            let setter = Ident::new(setter, v.span);
            let lit = int_literal(v.value, v.span);
            calls.push(quote!(.#setter(#lit)));
        }
    }
    // Ray's default: 1000 for actors with async methods, 1 otherwise.
    let max_concurrency = attr
        .max_concurrency
        .as_ref()
        .map_or(if actor.any_async() { 1000 } else { 1 }, |v| v.value);
    let max_concurrency = proc_macro2::Literal::u64_unsuffixed(max_concurrency);
    calls.push(quote!(.max_concurrency(#max_concurrency)));
    for (name, size) in attr.concurrency_groups.iter().flatten() {
        let name = syn::LitStr::new(&name.to_string(), name.span());
        let size = proc_macro2::Literal::u64_unsuffixed(size.value);
        calls.push(quote!(.concurrency_group(#name, #size)));
    }
    if let Some(detached) = &attr.detached {
        let lifetime = if detached.value {
            quote!(Detached)
        } else {
            quote!(NonDetached)
        };
        calls.push(quote!(.lifetime(::helio::__private::Lifetime::#lifetime)));
    }
    if let Some(yes) = &attr.get_if_exists {
        calls.push(quote!(.get_if_exists(#yes)));
    }
    calls.push(attr.resources.calls());
    quote!(::helio::__private::ActorOptions::new() #(#calls)*)
}

fn new_actor_fn(actor: &ActorImpl, ctor: &Constructor) -> TokenStream {
    let self_ty = &actor.self_ty;
    let vis = &ctor.vis;
    let name = &ctor.ident;
    let tys = &ctor.params;
    let args = arg_idents(tys.len());
    let construct = if ctor.is_async {
        quote!(::helio::__private::construct_async(<#self_ty>::#name(#(#args),*)))
    } else {
        quote!(::helio::__private::construct_sync(<#self_ty>::#name(#(#args),*)))
    };
    let doc = format!(
        "Starts building a [`{}`] actor: `.remote(..)` takes the arguments of \
         [`{0}::{name}`], starts the actor and returns its handle.",
        actor.ident
    );
    let builder = quote_spanned!(name.span()=> ::helio::__private::ActorBuilder::new);
    let w = wrapper_ident(actor);
    quote! {
        #[doc = #doc]
        #vis fn new_actor() -> #w<::helio::__private::ActorBuilder<Self, (#(#tys,)*)>, 0> {
            #w(#builder(|(#(#args,)*)| #construct))
        }
    }
}

fn accessor(actor: &ActorImpl, method: &RemoteMethod, index: usize) -> TokenStream {
    let self_ty = &actor.self_ty;
    let RemoteMethod {
        ident,
        vis,
        docs,
        params,
        ..
    } = method;
    let args = arg_idents(params.len());
    let name = ident.to_string();
    let group = match &method.group {
        Some(group) => quote!(::core::option::Option::Some(#group)),
        None => quote!(::core::option::Option::None),
    };
    let span = ident.span();
    // Each argument is wrapped where its declared type is written, so that a type that cannot
    // be sent to the actor is reported there, once.
    let wrapped = params.iter().zip(&args).map(|(ty, arg)| {
        let arg = Ident::new(&arg.to_string(), ty.span());
        quote_spanned!(ty.span()=> ::helio::__private::RemoteArg::<#ty>::new(#arg))
    });
    let wrapped_args = quote!((#(#wrapped,)*));
    let streams = method.stream.is_some();
    // A stream that cannot be sent is reported at its item type.
    let box_stream = match &method.stream {
        Some((item, _)) => quote_spanned!(item.span()=> ::helio::__private::box_stream),
        None => quote!(::helio::__private::box_stream),
    };
    let call = |receiver: TokenStream| {
        let call = quote!(<#self_ty>::#ident(#receiver, #(#args.into_inner()),*));
        if streams && !method.is_async {
            quote!(#box_stream(#call))
        } else {
            call
        }
    };
    // The awaited result of an async method; a stream is boxed once it is built.
    let awaited = |call: TokenStream| {
        if streams {
            quote!(#box_stream(#call.await))
        } else {
            quote!(#call.await)
        }
    };
    let params = params
        .iter()
        .map(|ty| quote!(::helio::__private::RemoteArg<#ty>))
        .collect::<Vec<_>>();
    // Interruptible calls (async, blocking) may be re-run after a crash if their arguments
    // are `Clone`; the probe answers that here, where the argument types are known.
    let retry = quote! {
        ::helio::__private::RetryPolicy::new(__retries, {
            #[allow(unused_imports)]
            use ::helio::__private::{ViaClone as _, ViaNoClone as _};
            (&&::helio::__private::CloneProbe::<(#(#params,)*)>::new()).cloner()
        })
    };
    let interruptible = method.is_async || method.blocking;
    let body = match (method.receiver, method.is_async, method.blocking) {
        (Receiver::Shared, false, false) => {
            let call = call(quote!(__this));
            quote_spanned!(span=> ::helio::__private::Body::sync_ref(__done, #wrapped_args,
                |__this: &#self_ty, (#(#args,)*): (#(#params,)*)| #call))
        }
        (Receiver::Exclusive, false, false) => {
            let call = call(quote!(__this));
            quote_spanned!(span=> ::helio::__private::Body::sync_mut(__done, #wrapped_args,
                |__this: &mut #self_ty, (#(#args,)*): (#(#params,)*)| #call))
        }
        (Receiver::Shared, false, true) => {
            let call = call(quote!(__this));
            quote_spanned!(span=> ::helio::__private::Body::blocking_ref(__done, #wrapped_args, #retry,
                |__this: &#self_ty, (#(#args,)*): (#(#params,)*)| #call))
        }
        (Receiver::Exclusive, false, true) => {
            let call = call(quote!(__this));
            quote_spanned!(span=> ::helio::__private::Body::blocking_mut(__done, #wrapped_args, #retry,
                |__this: &mut #self_ty, (#(#args,)*): (#(#params,)*)| #call))
        }
        (Receiver::Shared, true, _) => {
            let call = call(quote!(&*__this));
            let awaited = awaited(call);
            quote_spanned!(span=> ::helio::__private::Body::async_ref(__done, #wrapped_args, #retry,
                |__this: ::helio::__private::Shared<#self_ty>, (#(#args,)*): (#(#params,)*)|
                    async move { #awaited }))
        }
        (Receiver::Exclusive, true, _) => {
            let call = call(quote!(__this));
            let awaited = awaited(call);
            quote_spanned!(span=> ::helio::__private::Body::async_mut(__done, #wrapped_args, #retry,
                |__this: &mut #self_ty, (#(#args,)*): (#(#params,)*)|
                    ::std::boxed::Box::pin(async move { #awaited })))
        }
    };
    let default_doc = if docs.is_empty() {
        let doc = format!("Calls [`{}::{ident}`] on the actor.", actor.ident);
        quote!(#[doc = #doc])
    } else {
        TokenStream::new()
    };
    let call_doc = format!("\n\nCall it with `.remote({})`.", method.signature);
    let retries = match method.max_task_retries {
        Some(n) => {
            let n = int_literal(n, span);
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    let retries_param = if interruptible {
        quote!(__retries)
    } else {
        quote!(_)
    };
    let call_handle = quote! {
        ::helio::__private::Method::new(
            self.actor, #name, #group, #retries,
            |(#(#args,)*), __done, #retries_param| #body,
        )
    };
    let handle = match &method.stream {
        None => call_handle,
        Some((item, buffer)) => {
            let buffer = proc_macro2::Literal::u64_unsuffixed(*buffer);
            // Spanned at the item type: an item that cannot be sent is reported there.
            let new = quote_spanned!(item.span()=> ::helio::__private::StreamMethod::new);
            quote!(#new(#call_handle, #buffer))
        }
    };
    let w = wrapper_ident(actor);
    let index = proc_macro2::Literal::usize_unsuffixed(index);
    let handle_ty = match &method.stream {
        // Picked from the target: the handle, or a DAG node (see `generate`).
        None => {
            let (lt, declared, output, target) = (
                handle_lifetime(),
                &method.params,
                &method.output,
                target_param(),
            );
            quote!(::helio::__private::Method<#lt, #self_ty, (#(#declared,)*), #output, #target>)
        }
        Some(_) => handle_type(actor, method),
    };
    let handle_ty = quote!(#w<#handle_ty, #index>);
    let handle = quote!(#w(#handle));
    quote! {
        #(#docs)*
        #default_doc
        #[doc = #call_doc]
        #vis fn #ident(&self) -> #handle_ty {
            #handle
        }
    }
}
