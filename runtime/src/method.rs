//! `Method`: a reusable handle on one remote method of one actor.

use std::{borrow::Cow, fmt};

use crate::{
    Actor, ActorClass, CallOptions, ObjectRef,
    arg::{IntoArg, PendingArgs},
    call::Body,
    object_ref::Completer,
};

/// Builds a call's body from its arguments and its result's completer.
/// The `i64` is the call's effective `max_task_retries`.
type MakeBody<A, Args, R> = for<'x> fn(Args, Completer<'x, R>, i64) -> Body<A>;

/// A remote method of an actor, ready to be called with `.remote(args)`.
///
/// The accessors of `actor.methods()` return it wrapped in the actor's generated handle type,
/// which derefs to it and gives each method a `.remote(..)` with its own parameter names
/// (`.into_inner()` unwraps it). It borrows the actor's handle and is reusable; its type
/// parameters are the actor, the argument types as a tuple, and the result type.
///
/// The last type parameter, `T`, is what the method was picked from: the actor's handle
/// (`Actor<A>`, the default), whose method is called with `.remote(..)`; or a DAG node that
/// creates the actor (`DagNode<Actor<A>, I>`, through [`DagNode::methods`]), whose method is
/// bound into the DAG with `.bind(..)`.
///
/// [`DagNode::methods`]: crate::DagNode::methods
///
/// ```
/// use std::time::Duration;
///
/// use helio::prelude::*;
///
/// pub struct Counter { value: i64 }
///
/// #[actor]
/// impl Counter {
///     pub fn new() -> Self { Counter { value: 0 } }
///
///     #[remote_method]
///     pub fn add(&mut self, by: i64) -> i64 { self.value += by; self.value }
/// }
///
/// let counter = Counter::new_actor().remote();
/// // The accessor's handle wraps the `Method` (`into_inner`) and derefs to it.
/// let add = counter.methods().add();
/// let _: &helio::Method<'_, Counter, (i64,), i64> = &add;
/// assert_eq!(add.name(), "add");
/// let refs: Vec<ObjectRef<i64>> = (1..=4).map(|i| add.remote(i)).collect();
/// // Calls from one handle start in the order they were sent.
/// let sums: Vec<i64> = refs
///     .into_iter()
///     .map(|r| r.get_timeout(Duration::from_secs(10)).unwrap())
///     .collect();
/// assert_eq!(sums, [1, 3, 6, 10]);
///
/// // Per-call overrides: a copy of the handle with other options.
/// let retried = add.clone().options(CallOptions::new().max_task_retries(2));
/// assert_eq!(retried.remote(5).get_timeout(Duration::from_secs(10)).unwrap(), 15);
/// ```
pub struct Method<'a, A, Args, R, T = Actor<A>> {
    actor: &'a T,
    name: &'static str,
    group: Option<Cow<'static, str>>,
    /// The method's or the call's `max_task_retries`; the actor's when `None`.
    max_task_retries: Option<i64>,
    make: MakeBody<A, Args, R>,
}

impl<'a, A: ActorClass, Args, R: Send + 'static, T> Method<'a, A, Args, R, T> {
    #[doc(hidden)]
    pub fn new(
        actor: &'a T,
        name: &'static str,
        group: Option<&'static str>,
        max_task_retries: Option<i64>,
        make: MakeBody<A, Args, R>,
    ) -> Self {
        Method {
            actor,
            name,
            group: group.map(Cow::Borrowed),
            max_task_retries,
            make,
        }
    }
}

impl<'a, A: ActorClass, Args, R, T> Method<'a, A, Args, R, T> {
    /// This method with per-call overrides.
    pub fn options(mut self, options: CallOptions) -> Self {
        if let Some(group) = options.concurrency_group {
            self.group = Some(group);
        }
        if let Some(n) = options.max_task_retries {
            self.max_task_retries = Some(n);
        }
        self
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<'a, A, Args, R, T> Method<'a, A, Args, R, T> {
    /// This method with a target of its own, to call later (a DAG node keeps it).
    pub(crate) fn to_owned_method(&self) -> OwnedMethod<A, Args, R, T>
    where
        T: Clone,
    {
        OwnedMethod {
            actor: self.actor.clone(),
            name: self.name,
            group: self.group.clone(),
            max_task_retries: self.max_task_retries,
            make: self.make,
        }
    }

    /// What it was picked from.
    pub(crate) fn target(&self) -> &'a T {
        self.actor
    }

    /// The same method (name, options and body) of the actor behind `actor`.
    pub(crate) fn on<'b>(&self, actor: &'b Actor<A>) -> Method<'b, A, Args, R> {
        Method {
            actor,
            name: self.name,
            group: self.group.clone(),
            max_task_retries: self.max_task_retries,
            make: self.make,
        }
    }
}

impl<A: ActorClass, Args, R> Method<'_, A, Args, R> {
    /// The handle the method calls.
    pub(crate) fn actor(&self) -> &Actor<A> {
        self.actor
    }

    /// Calls with `args`, once every ref among them has resolved, in this handle's
    /// submission order: a call behind one that waits for its refs waits behind it.
    #[inline]
    pub(crate) fn call_with<P>(&self, args: P) -> ObjectRef<R>
    where
        P: PendingArgs<Values = Args>,
        A: ActorClass,
        Args: Send + 'static,
        R: Send + 'static,
    {
        match args.now() {
            Ok(values) if self.actor.order().is_clear() => self.call(values),
            Ok(values) => self.call_deferred(Deferred::<P>::Ready(values)),
            Err(pending) => self.call_deferred(Deferred::Waiting(pending)),
        }
    }

    /// [`call_with`](Method::call_with) for a call that must wait: for its ref arguments, or
    /// behind an earlier call of this handle that waits for its own.
    #[inline(never)]
    fn call_deferred<P>(&self, args: Deferred<P>) -> ObjectRef<R>
    where
        P: PendingArgs<Values = Args>,
        A: ActorClass,
        Args: Send + 'static,
        R: Send + 'static,
    {
        let (result, done) = match self.actor.prepare(self.name) {
            Ok(prepared) => prepared,
            Err(rejected) => return rejected,
        };
        let handle = match crate::embedded::spawn_handle() {
            Ok(handle) => handle,
            Err(err) => {
                // `done` drops: the call resolves to `ActorDied(Shutdown)`.
                tracing::error!(%err, "no runtime to resolve call arguments");
                return result;
            }
        };
        let mut place = self.actor.order().defer();
        let remote = self.actor.link().is_some();
        // A remote call's group is checked by its host.
        let group = match self
            .actor
            .shared()
            .group_index(self.name, self.group.as_deref())
        {
            Ok(group) => group,
            Err(_) if remote => 0,
            Err(err) => return ObjectRef::ready(Err(err)),
        };
        let (actor, name, make) = (self.actor.clone(), self.name, self.make);
        let retries = self.retries();
        let overrides = self.overrides();
        handle.spawn(async move {
            place.turn().await;
            if remote {
                // Refs another process owns cross as refs; the rest as values.
                let args: Result<Box<dyn std::any::Any + Send>, _> = match args {
                    Deferred::Ready(values) => Ok(Box::new(values)),
                    Deferred::Waiting(pending) => {
                        crate::seam::remote::Args::of(pending).get().await
                    }
                };
                match (args, actor.link()) {
                    (Ok(args), Some(link)) => {
                        let reply = crate::seam::remote::Reply::new(name, done);
                        link.call(actor.label(), name, overrides, args, reply);
                    }
                    (Ok(_), None) => {}
                    (Err(upstream), _) => done.complete(Err(upstream)),
                }
                return place.done();
            }
            let values = match args {
                Deferred::Ready(values) => Ok(values),
                Deferred::Waiting(pending) => pending.resolve().await,
            };
            match values {
                Ok(values) => actor.send(name, group, make(values, done.into(), retries)),
                Err(upstream) => done.complete(Err(upstream)),
            }
            place.done();
        });
        result
    }

    /// The call's group and retries, for a remote host (which knows the actor's defaults).
    pub(crate) fn overrides(&self) -> CallOptions {
        CallOptions {
            concurrency_group: self.group.clone(),
            max_task_retries: self.max_task_retries,
        }
    }

    fn retries(&self) -> i64 {
        self.max_task_retries
            .unwrap_or_else(|| self.actor.max_task_retries())
    }

    #[inline]
    pub(crate) fn call(&self, args: Args) -> ObjectRef<R>
    where
        Args: Send + 'static,
        R: Send + 'static,
    {
        if let Some(link) = self.actor.link() {
            return match self.actor.prepare(self.name) {
                Ok((result, done)) => {
                    let overrides = self.overrides();
                    link.call(
                        self.actor.label(),
                        self.name,
                        overrides,
                        Box::new(args),
                        crate::seam::remote::Reply::new(self.name, done),
                    );
                    result
                }
                Err(rejected) => rejected,
            };
        }
        let make = self.make;
        let retries = self.retries();
        self.actor
            .submit(self.name, self.group.as_deref(), move |done| {
                make(args, done, retries)
            })
    }
}

/// Awaiting a method handle is a mistake: the compiler says to call `.remote(..)` first.
///
/// A `Future` impl whose bound never holds, rather than an `IntoFuture` one: `IntoFuture` has
/// a blanket impl for futures, so an impl of its own would be rejected among two candidates
/// with the compiler's generic "is not a future"; this way the unmet bound is what it reports.
impl<A, Args, R, T> std::future::Future for Method<'_, A, Args, R, T>
where
    crate::hints::NotACall<Self>: crate::hints::CallRemoteBeforeAwait<R>,
{
    type Output = Result<R, crate::ActorError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        <crate::hints::NotACall<Self> as crate::hints::CallRemoteBeforeAwait<R>>::never(self, cx)
    }
}

impl<A, Args, R, T> Clone for Method<'_, A, Args, R, T> {
    fn clone(&self) -> Self {
        Method {
            actor: self.actor,
            name: self.name,
            group: self.group.clone(),
            max_task_retries: self.max_task_retries,
            make: self.make,
        }
    }
}

impl<A, Args, R, T: fmt::Debug> fmt::Debug for Method<'_, A, Args, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Method")
            .field("actor", self.actor)
            .field("name", &self.name)
            .field("group", &self.group)
            .finish()
    }
}

macro_rules! remote_arities {
    ($( ($($arg:ident: $ty:ident),*) )*) => {$(
        impl<A: ActorClass, R: Send + 'static, $($ty: Send + 'static),*> Method<'_, A, ($($ty,)*), R> {
            /// Calls the method on the actor. Returns at once; the result arrives in the
            /// [`ObjectRef`]. Each argument is a value or the [`ObjectRef`] of another call's
            /// result; the call is sent once those have resolved, without blocking the caller.
            #[allow(clippy::too_many_arguments)]
            pub fn remote(&self, $($arg: impl IntoArg<$ty>),*) -> ObjectRef<R> {
                self.call_with(($($arg.into_arg(),)*))
            }
        }
    )*};
}

crate::for_each_arity!(remote_arities);

/// A [`Method`] that owns its target (the actor's handle, or the DAG node that creates it).
pub(crate) struct OwnedMethod<A, Args, R, T = Actor<A>> {
    actor: T,
    name: &'static str,
    group: Option<Cow<'static, str>>,
    max_task_retries: Option<i64>,
    make: MakeBody<A, Args, R>,
}

impl<A, Args, R, T: Clone> Clone for OwnedMethod<A, Args, R, T> {
    fn clone(&self) -> Self {
        self.method().to_owned_method()
    }
}

impl<A, Args, R, T> OwnedMethod<A, Args, R, T> {
    /// The method, borrowing the target kept here.
    pub(crate) fn method(&self) -> Method<'_, A, Args, R, T> {
        Method {
            actor: &self.actor,
            name: self.name,
            group: self.group.clone(),
            max_task_retries: self.max_task_retries,
            make: self.make,
        }
    }
}

/// A call's arguments while it waits for its turn.
enum Deferred<P: PendingArgs> {
    Ready(P::Values),
    Waiting(P),
}
