//! A `#[remote_method]` and its rules: a `&self` or `&mut self` receiver, owned arguments and
//! result (or a stream), and options that fit the method (a declared concurrency group for a
//! `&self` method, `blocking` only when sync, `stream_buffer` only for a stream).

use syn::{Attribute, Ident, ImplItemFn, LitStr, ReceiverKind, Type, Visibility};

use super::{
    owned::{owned_output, owned_params, replace_self},
    signature::{check_plain_fn, declared_params, param_names, stream_item},
};
use crate::{attr::MethodAttr, ctxt::Ctxt};

/// How a remote method borrows the actor's state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `&self`: runs concurrently with other `&self` calls, within its group's limit.
    Shared,
    /// `&mut self`: runs alone.
    Exclusive,
}

/// One `#[remote_method]`, checked, with its options.
pub(crate) struct RemoteMethod {
    pub(crate) ident: Ident,
    pub(crate) vis: Visibility,
    pub(crate) docs: Vec<Attribute>,
    pub(crate) receiver: Receiver,
    pub(crate) is_async: bool,
    pub(crate) blocking: bool,
    pub(crate) params: Vec<Type>,
    /// The parameters' names, at their spans: see [`param_names`].
    pub(crate) param_names: Vec<Ident>,
    /// The parameters as the method declares them (`reader_id: String`), for the accessor's
    /// doc: rustdoc shows the accessor's type only as an argument tuple.
    pub(crate) signature: String,
    pub(crate) output: Type,
    pub(crate) group: Option<LitStr>,
    pub(crate) max_task_retries: Option<i64>,
    /// For a streaming method: the item type, and the buffer size.
    pub(crate) stream: Option<(Type, u64)>,
}

/// `f` as a remote method with `options`; `None` (and errors in `cx`) if it breaks a rule.
pub(super) fn remote_method_of(
    f: &ImplItemFn,
    options: MethodAttr,
    declared_groups: &[String],
    self_ty: &Type,
    cx: &mut Ctxt,
) -> Option<RemoteMethod> {
    let sig = &f.sig;
    let plain = check_plain_fn(sig, "a remote method", cx);
    let receiver = match sig.receiver() {
        None => {
            cx.error(
                &sig.ident,
                format_args!(
                    "remote method `{}` needs a `&self` or `&mut self` receiver: it runs on the actor's state",
                    sig.ident
                ),
            );
            None
        }
        Some(r) if matches!(r.kind, ReceiverKind::Typed(..)) => {
            cx.error(
                r,
                "a remote method takes `&self` or `&mut self`, without an explicit type",
            );
            None
        }
        Some(r) if !matches!(r.kind, ReceiverKind::Reference(..)) => {
            cx.error(
                r,
                "a remote method cannot take `self` by value: the actor keeps its state across calls; \
                 take `&self` or `&mut self`",
            );
            None
        }
        Some(syn::Receiver {
            kind: ReceiverKind::Reference(_, _, Some(_)),
            ..
        }) => Some(Receiver::Exclusive),
        Some(_) => Some(Receiver::Shared),
    };
    let is_async = sig.asyncness.is_some();
    if let (Some(span), true) = (options.blocking, is_async) {
        cx.syn_error(syn::Error::new(
            span,
            "`blocking` is for sync methods; an async method already yields while it waits",
        ));
    }
    let mut group = options.concurrency_group;
    if let Some(lit) = &group {
        let name = lit.value();
        if receiver == Some(Receiver::Exclusive) {
            cx.error(
                lit,
                "a `&mut self` method runs alone, outside every concurrency group; \
                 remove `concurrency_group` or take `&self`",
            );
            group = None;
        } else if !declared_groups.contains(&name) {
            let declared = if declared_groups.is_empty() {
                format!(
                    "this actor declares no concurrency groups; declare it with \
                     `#[actor(concurrency_groups = {{ {name} = 1 }})]`"
                )
            } else {
                format!("the declared groups are: {}", declared_groups.join(", "))
            };
            cx.error(
                lit,
                format_args!(
                    "concurrency group \"{name}\" is not declared in `#[actor]`; {declared}"
                ),
            );
            group = None;
        }
    }
    let params = owned_params(sig, "remote method", self_ty, cx);
    let item = stream_item(sig).map(|item| replace_self(&item, self_ty));
    let output = match &item {
        Some(item) => Some(syn::parse_quote!(::helio::__private::BoxStream<'static, #item>)),
        None => owned_output(sig, "a remote method", self_ty, cx),
    };
    if let (Some(buffer), None) = (&options.stream_buffer, &item) {
        cx.syn_error(syn::Error::new(
            buffer.span,
            "`stream_buffer` is for methods that return a stream \
             (`impl Stream<Item = T> + Send + 'static` or `BoxStream<'static, T>`)",
        ));
    }
    let stream = item.map(|item| (item, options.stream_buffer.map_or(16, |b| b.value)));
    Some(RemoteMethod {
        ident: sig.ident.clone(),
        vis: f.vis.clone(),
        docs: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
        receiver: receiver?,
        is_async,
        blocking: options.blocking.is_some() && !is_async,
        params: params?,
        param_names: param_names(sig),
        signature: declared_params(sig),
        output: output?,
        group,
        max_task_retries: options.max_task_retries.map(|n| n.value),
        stream,
    })
    .filter(|_| plain)
}
