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

    /// Whether this argument crosses to another process as it is: a value, or the ref of a
    /// value another process owns and has not sent here (the callee reads it from its owner,
    /// so it never passes through this process).
    fn crosses_as_is(&self) -> bool {
        match self {
            Arg::Value(_) => true,
            Arg::Ref(r) => r.borrowed_from().is_some() && !r.is_ready(),
        }
    }

    /// This argument as it crosses to another process: see [`crosses_as_is`]; any other ref
    /// is waited for and crosses as its value (this process has it, so the bytes move once
    /// either way).
    async fn for_wire(self) -> Result<Arg<T>, ActorError> {
        if self.crosses_as_is() {
            return Ok(self);
        }
        self.resolve().await.map(Arg::Value)
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
    /// The arguments as they cross to another process, now, or a future of them: a ref whose
    /// value another process owns crosses as a ref (its reader fetches it from the owner),
    /// every other ref is waited for and crosses as its value.
    ///
    /// # Errors
    /// The future, when the arguments must wait for refs of this process.
    fn for_wire(self) -> Result<Self, BoxFuture<'static, Result<Self, ActorError>>>;
}

/// A tuple of argument values, and the tuple of [`Arg`]s that carries it across processes.
#[doc(hidden)]
pub trait ArgValues: Sized + Send + 'static {
    /// The tuple of [`Arg`]s.
    type Args: PendingArgs<Values = Self>;
    /// Each value as an [`Arg::Value`].
    fn into_args(self) -> Self::Args;
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

            #[allow(unused_variables, clippy::unused_unit)]
            fn for_wire(self) -> Result<Self, BoxFuture<'static, Result<Self, ActorError>>> {
                let ($($arg,)*) = self;
                if true $(&& $arg.crosses_as_is())* {
                    return Ok(($($arg,)*));
                }
                Err(Box::pin(async move { Ok(($($arg.for_wire().await?,)*)) }))
            }
        }

        impl<$($ty: Send + 'static),*> ArgValues for ($($ty,)*) {
            type Args = ($(Arg<$ty>,)*);

            #[allow(unused_variables, clippy::unused_unit)]
            fn into_args(self) -> Self::Args {
                let ($($arg,)*) = self;
                ($(Arg::Value($arg),)*)
            }
        }
    )*};
}

crate::for_each_arity!(pending_arities);
