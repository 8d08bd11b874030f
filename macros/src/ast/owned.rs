//! Owned argument and result types: a handle's call runs later, elsewhere, so a type that
//! borrows (other than `'static`) or is `impl Trait` is an error, with the owned type to take
//! instead; `Self` is spelt out as the actor's type for use outside its impl.

use syn::{
    FnArg, ReturnType, Signature, Type,
    visit::{self, Visit},
    visit_mut::{self, VisitMut},
};

use crate::ctxt::Ctxt;

/// The parameter types, with `Self` spelt out; errors (and `None`) for borrowed or
/// `impl Trait` types.
pub(crate) fn owned_params(
    sig: &Signature,
    what: &str,
    self_ty: &Type,
    cx: &mut Ctxt,
) -> Option<Vec<Type>> {
    let mut params = Vec::new();
    let mut ok = true;
    for input in &sig.inputs {
        let FnArg::Typed(pat_type) = input else {
            continue;
        };
        let ty = &*pat_type.ty;
        let mut finder = Borrowed::default();
        finder.visit_type(ty);
        if let Some(reference) = finder.reference {
            cx.error(
                &reference,
                format_args!(
                    "{what} arguments must be owned: `{}` borrows from the caller, but the call runs \
                     later, {}; take {} instead",
                    quote::quote!(#reference).to_string().replace(" ", ""),
                    if what == "task" { "as a task" } else { "on the actor" },
                    owned_suggestion(&reference),
                ),
            );
            ok = false;
        } else if let Some(impl_trait) = finder.impl_trait {
            cx.error(
                impl_trait,
                format_args!("{what} arguments cannot be `impl Trait`: name a concrete type"),
            );
            ok = false;
        }
        params.push(replace_self(ty, self_ty));
    }
    ok.then_some(params)
}

/// The result type (`()` if none), with `Self` spelt out; an error (and `None`) for a borrowed
/// or `impl Trait` type.
pub(crate) fn owned_output(
    sig: &Signature,
    what: &str,
    self_ty: &Type,
    cx: &mut Ctxt,
) -> Option<Type> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Some(syn::parse_quote!(()));
    };
    let mut finder = Borrowed::default();
    finder.visit_type(ty);
    if let Some(reference) = finder.reference {
        cx.error(
            reference,
            format_args!(
                "{what} must return an owned value: the result travels back to the caller"
            ),
        );
        return None;
    }
    if let Some(impl_trait) = finder.impl_trait {
        cx.error(
            impl_trait,
            format_args!("{what} cannot return `impl Trait`: name a concrete type"),
        );
        return None;
    }
    Some(replace_self(ty, self_ty))
}

/// The owned type to take instead of `reference`: `String` for `&str`, `Vec<T>` for `&[T]`.
fn owned_suggestion(reference: &syn::TypeReference) -> String {
    match &*reference.elem {
        Type::Path(p) if p.path.is_ident("str") => "`String`".to_owned(),
        Type::Slice(s) => {
            let elem = &s.elem;
            format!(
                "`Vec<{}>`",
                quote::quote!(#elem).to_string().replace(" ", "")
            )
        }
        elem => format!("`{}`", quote::quote!(#elem).to_string().replace(" ", "")),
    }
}

/// Finds the first non-`'static` reference, or `impl Trait`, in a type.
#[derive(Default)]
struct Borrowed {
    reference: Option<syn::TypeReference>,
    impl_trait: Option<syn::TypeImplTrait>,
}

impl<'ast> Visit<'ast> for Borrowed {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        let is_static = r.lifetime.as_ref().is_some_and(|l| l.ident == "static");
        if !is_static && self.reference.is_none() {
            self.reference = Some(r.clone());
        }
        visit::visit_type_reference(self, r);
    }

    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        self.impl_trait.get_or_insert_with(|| t.clone());
    }
}

/// `ty` with every `Self` replaced by the actor's type, for use outside its impl.
pub(super) fn replace_self(ty: &Type, self_ty: &Type) -> Type {
    struct ReplaceSelf<'a>(&'a Type);
    impl VisitMut for ReplaceSelf<'_> {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::Path(p) = ty
                && p.qself.is_none()
                && p.path.is_ident("Self")
            {
                *ty = self.0.clone();
                return;
            }
            visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut ty = ty.clone();
    ReplaceSelf(self_ty).visit_type_mut(&mut ty);
    ty
}
