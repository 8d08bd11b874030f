//! What every fn a handle calls must be (not `const`, `unsafe`, `extern`, variadic or
//! generic), and what the generated code reads from its signature: the parameters' names, and
//! a stream's item type. Shared by `#[actor]` and `#[remote]`.

use syn::{FnArg, Ident, ReturnType, Signature, Type, spanned::Spanned};

use crate::ctxt::Ctxt;

/// Errors for signature features a handle cannot call; `false` if there were any.
pub(crate) fn check_plain_fn(sig: &Signature, what: &str, cx: &mut Ctxt) -> bool {
    let before = cx.error_count();
    if let Some(token) = &sig.constness {
        cx.error(token, format_args!("{what} cannot be `const`"));
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        cx.error(
            token,
            format_args!(
                "{what} cannot be `unsafe`: callers would have no way to uphold its contract"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error(abi, format_args!("{what} cannot have an `extern` ABI"));
    }
    if let Some(variadic) = &sig.variadic {
        cx.error(variadic, format_args!("{what} cannot be variadic"));
    }
    if !sig.generics.params.is_empty() {
        cx.error(
            &sig.generics,
            format_args!("{what} cannot be generic: its handle needs concrete argument types"),
        );
    }
    cx.error_count() == before
}

/// The names of a fn's parameters, for the generated `.remote(..)`, so that an arity error
/// names them and points at them: a pattern other than a name becomes `argN` (from 1) at its
/// span.
pub(crate) fn param_names(sig: &Signature) -> Vec<Ident> {
    let typed = sig.inputs.iter().filter_map(|input| match input {
        FnArg::Typed(pat_type) => Some(&*pat_type.pat),
        FnArg::Receiver(_) => None,
    });
    typed
        .enumerate()
        .map(|(i, pat)| match pat {
            syn::Pat::Ident(p) => p.ident.clone(),
            _ => Ident::new(&format!("arg{}", i + 1), pat.span()),
        })
        .collect()
}

/// `name: Type, ..` of a method's parameters, as declared (patterns other than a name as `_`).
pub(super) fn declared_params(sig: &Signature) -> String {
    let params = sig.inputs.iter().filter_map(|input| {
        let FnArg::Typed(pat_type) = input else {
            return None;
        };
        let name = match &*pat_type.pat {
            syn::Pat::Ident(p) => p.ident.to_string(),
            _ => "_".to_owned(),
        };
        let ty = &pat_type.ty;
        let ty = quote::quote!(#ty)
            .to_string()
            .replace(" < ", "<")
            .replace(" >", ">");
        Some(format!("{name}: {ty}"))
    });
    params.collect::<Vec<_>>().join(", ")
}

/// The item type of a method returning `impl Stream<Item = X> ..` or `BoxStream<'_, X>`.
pub(crate) fn stream_item(sig: &Signature) -> Option<Type> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let generic_args = |segment: &syn::PathSegment| match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => Some(args.args.clone()),
        _ => None,
    };
    match &**ty {
        Type::ImplTrait(impl_trait) => impl_trait.bounds.iter().find_map(|bound| {
            let syn::TypeParamBound::Trait(t) = bound else {
                return None;
            };
            let segment = t.path.segments.last().filter(|s| s.ident == "Stream")?;
            generic_args(segment)?
                .into_iter()
                .find_map(|arg| match arg {
                    syn::GenericArgument::AssocType(assoc) if assoc.ident == "Item" => {
                        Some(assoc.ty)
                    }
                    _ => None,
                })
        }),
        Type::Path(path) => {
            let segment = path
                .path
                .segments
                .last()
                .filter(|s| s.ident == "BoxStream")?;
            generic_args(segment)?
                .into_iter()
                .find_map(|arg| match arg {
                    syn::GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
        }
        _ => None,
    }
}
