//! Arguments of remote calls: a value, or the ref of another call's result.
//!
//! `method.remote(r)` with `r: ObjectRef<T>` where the method takes a `T` sends the call once
//! `r` resolves, without blocking the caller, so calls chain into pipelines; a failed `r`
//! resolves the call to `r`'s error.

use futures::future::BoxFuture;

use crate::{ActorError, ObjectRef};

/// What a remote method's argument of type `T` accepts at the call site: a `T`, an
/// `ObjectRef<T>`, or for `String` also `&str` and `&String`.
#[diagnostic::on_unimplemented(
    message = "expected `{T}` or `ObjectRef<{T}>`, found `{Self}`",
    label = "expected `{T}` or `ObjectRef<{T}>`"
)]
pub trait IntoArg<T> {
    #[doc(hidden)]
    fn into_arg(self) -> Arg<T>;
}

/// An argument as the call site gave it.
#[doc(hidden)]
pub enum Arg<T> {
    Value(T),
    Ref(ObjectRef<T>),
}

impl<T: Send + 'static> Arg<T> {
    async fn resolve(self) -> Result<T, ActorError> {
        match self {
            Arg::Value(value) => Ok(value),
            Arg::Ref(r) => r.await,
        }
    }
}

impl<T> IntoArg<T> for T {
    fn into_arg(self) -> Arg<T> {
        Arg::Value(self)
    }
}

impl<T> IntoArg<T> for ObjectRef<T> {
    fn into_arg(self) -> Arg<T> {
        Arg::Ref(self)
    }
}

impl IntoArg<String> for &str {
    fn into_arg(self) -> Arg<String> {
        Arg::Value(self.to_owned())
    }
}

impl IntoArg<String> for &String {
    fn into_arg(self) -> Arg<String> {
        Arg::Value(self.clone())
    }
}

/// A tuple of [`Arg`]s: its values now, or a future resolving them all.
#[doc(hidden)]
pub trait PendingArgs: Sized + Send + 'static {
    /// The argument values.
    type Values;
    /// The values, if no argument is a ref still pending.
    fn now(self) -> Result<Self::Values, Self>;
    /// Waits for every ref; the first error wins.
    fn resolve(self) -> BoxFuture<'static, Result<Self::Values, ActorError>>;
}

macro_rules! pending_arities {
    ($( ($($arg:ident: $ty:ident),*) )*) => {$(
        impl<$($ty: Send + 'static),*> PendingArgs for ($(Arg<$ty>,)*) {
            type Values = ($($ty,)*);

            #[allow(unreachable_patterns, clippy::unused_unit)]
            fn now(self) -> Result<Self::Values, Self> {
                match self {
                    ($(Arg::Value($arg),)*) => Ok(($($arg,)*)),
                    pending => Err(pending),
                }
            }

            #[allow(unused_variables, clippy::unused_unit)]
            fn resolve(self) -> BoxFuture<'static, Result<Self::Values, ActorError>> {
                let ($($arg,)*) = self;
                Box::pin(async move { Ok(($($arg.resolve().await?,)*)) })
            }
        }
    )*};
}

crate::for_each_arity!(pending_arities);
