//! # helio: typed, fault-tolerant actors with Ray's semantics
//!
//! Annotate an `impl` block with [`#[actor]`](actor) and its remote methods with
//! [`#[remote_method]`](remote_method); you get a typed handle, [`Actor<A>`], whose every call is
//! checked by the compiler, and a runtime that gives those calls Ray's behaviour: concurrency
//! limits and groups, pending-call limits, named actors, object refs with get/wait/put, and
//! restarts after a crash.
//!
//! ```
//! use helio::prelude::*;
//!
//! pub struct Counter { value: i64 }
//!
//! #[actor(max_restarts = 1)]
//! impl Counter {
//!     pub fn new(start: i64) -> Self { Counter { value: start } }
//!
//!     /// Adds `by` and returns the new value.
//!     #[remote_method]
//!     pub fn add(&mut self, by: i64) -> i64 { self.value += by; self.value }
//!
//!     #[remote_method]
//!     pub async fn echo(&self, msg: String) -> String { msg }
//! }
//!
//! # fn main() -> Result<(), ActorError> {
//! let counter: Actor<Counter> = Counter::new_actor().remote(1);
//! let r: ObjectRef<i64> = counter.methods().add().remote(2);
//! assert_eq!(helio::get(r)?, 3);
//! assert_eq!(counter.methods().echo().remote("hi".to_string()).get()?, "hi");
//! # Ok(()) }
//! ```
//!
//! ## What `#[actor]` generates
//! For `impl Counter` it generates:
//! - `Counter::new_actor()`, an [`ActorBuilder`] whose `.remote(..)` takes the constructor's
//!   arguments (the fn `new`, or the fn marked `#[init]`) and returns an [`Actor<Counter>`];
//!   `.options(ActorOptions)` overrides the attribute's options first;
//! - `CounterMethods<'_>`, returned by [`Actor::methods`], with one accessor per remote method;
//!   each returns a reusable [`Method`] whose `.remote(args)` returns an [`ObjectRef`] of the
//!   method's return type, and whose `.options(CallOptions)` sets per-call overrides;
//! - an implementation of [`ActorClass`] tying them together.
//!
//! Generated code goes through the hidden module `helio::__private` only.
//!
//! ## Semantics
//! - Calls start in arrival order. `&mut self` methods run alone; `&self` methods run
//!   concurrently up to `max_concurrency` (default 1, or 1000 when the actor has async methods),
//!   or up to the size of their concurrency group.
//! - Sync methods run on the actor's task; mark a long one `#[remote_method(blocking)]` to move it
//!   to the blocking pool. Async `&self` methods need the actor type to be `Sync`.
//! - A panic in a method resolves that call to [`ActorError::TaskPanicked`] and crashes the actor,
//!   which restarts (constructor re-run) while `max_restarts` allows. Calls queued meanwhile
//!   are delivered to the new instance; once out of restarts every call resolves to
//!   [`ActorError::ActorDied`]. Every object ref resolves.

//!
//! ## Streaming methods
//! A remote method returning `impl Stream<Item = T> + Send + 'static` (or `BoxStream<'static,
//! T>`, or an `async fn` building either) streams its items: `.remote(..)` returns an
//! [`ObjectRefStream<T>`], a `Stream` of `Result<T, ActorError>` with a blocking iterator. Items
//! arrive as they are produced through a bounded buffer (`#[remote_method(stream_buffer = N)]`,
//! default 16), so a slow consumer holds the producer back; dropping the stream stops the
//! producer. The stream outlives the call, so it cannot borrow `self`: clone what it needs.
//!
//! ```
//! use std::sync::Arc;
//!
//! use futures::{Stream, StreamExt, stream};
//! use helio::prelude::*;
//!
//! pub struct Log { lines: Arc<Vec<String>> }
//!
//! #[actor]
//! impl Log {
//!     pub fn new(lines: Vec<String>) -> Self { Log { lines: Arc::new(lines) } }
//!
//!     /// The lines containing `needle`, streamed. The stream owns a clone of the `Arc`.
//!     #[remote_method(stream_buffer = 4)]
//!     pub fn grep(&self, needle: String) -> impl Stream<Item = String> + Send + 'static {
//!         let lines = Arc::clone(&self.lines);
//!         stream::iter(0..lines.len())
//!             .map(move |i| lines[i].clone())
//!             .filter(move |line| std::future::ready(line.contains(&needle)))
//!     }
//! }
//!
//! let log = Log::new_actor().remote(vec!["a1".into(), "b".into(), "a2".into()]);
//! let found: Vec<String> = log
//!     .methods()
//!     .grep()
//!     .remote("a")
//!     .blocking_iter()
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(found, ["a1", "a2"]);
//! ```
//!
//! A result tuple splits into one ref per element with [`ObjectRef::unpack`] (2 to 10
//! elements).
//!
//! ## Refs as arguments
//! A parameter of type `T` takes any [`IntoArg<T>`]: a `T`, the [`ObjectRef<T>`] of another
//! call (the call is sent once it resolves, without blocking the caller, and fails with its
//! error if it fails), or for `String` a `&str` or `&String`. Calls chain into pipelines:
//!
//! ```
//! use helio::prelude::*;
//!
//! pub struct Math;
//!
//! #[actor]
//! impl Math {
//!     pub fn new() -> Self { Math }
//!     #[remote_method]
//!     pub fn add(&self, a: i64, b: i64) -> i64 { a + b }
//! }
//!
//! let m = Math::new_actor().remote();
//! let three = m.methods().add().remote(1, 2);
//! let ten = m.methods().add().remote(three, 7); // a ref and a literal in one call
//! assert_eq!(helio::get(ten).unwrap(), 10);
//! ```

pub use helio_macros::{actor, remote_method};
pub use helio_runtime::{
    Actor, ActorBuilder, ActorClass, ActorError, ActorId, ActorInfo, ActorLabel, ActorOptions,
    ActorState, BlockingIter, CallOptions, Config, DeathCause, Gettable, IntoArg, Lifetime,
    LookupError, Method, ObjectRef, ObjectRefFuture, ObjectRefStream, RuntimeError, StreamMethod,
    WaitResult, cancel, current_actor, get, get_actor, get_actor_in, get_all, init,
    keep_across_restarts, kill, kill_named_in, list_actors, put, shutdown, wait, wait_blocking,
    wait_owned, wait_owned_blocking,
};

/// The names most programs need: `use helio::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Actor, ActorError, ActorOptions, ActorState, CallOptions, DeathCause, Lifetime, ObjectRef,
        ObjectRefStream, actor, remote_method,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use helio_runtime::__private::*;
}
