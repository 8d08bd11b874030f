//! The actor runtime behind [helio](https://docs.rs/helio): typed actor handles, object refs,
//! and a scheduler per actor with Ray's semantics.
//!
//! Users depend on the `helio` facade, which re-exports this crate and the `#[actor]` macro.
//!
//! # Where actors run
//! An actor runs on the tokio runtime it is created from, when that runtime is multi-threaded:
//! its calls and replies then stay on that runtime's workers. With callers on one runtime and
//! actors on another, every wake-up would cross into the other runtime's shared inject queue,
//! which on many cores costs most of the throughput. Created anywhere else (sync code, a
//! current-thread runtime, another executor), an actor runs on helio's embedded multi-thread
//! runtime, which starts on first use. [`Config::runtime`] pins every actor to one runtime.
//!
//! Blocking [`get`] works from sync code, from inside a current-thread runtime, and on a
//! multi-thread runtime's worker (through `block_in_place`).
//!
//! # How it is built
//! Each actor is one task, its *driver* (`driver`), around a pure scheduling core
//! (`scheduler`: queues, concurrency groups, the exclusive barrier, the restart budget) that
//! decides which call starts next. `restart` owns re-running calls a crash interrupted and the
//! restart and retry budgets; `unwind` guards every place user code runs; `mailbox` is the
//! actor's queue of calls. Cluster mode (the `helio-cluster` crate) plugs in at [`seam`]; the
//! repository's ARCHITECTURE.md maps the rest.

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod actor;
mod actor_pool;
mod arg;
mod asked;
mod available;
mod blocking;
mod builder;
mod call;
mod class;
mod context;
mod dag;
mod driver;
mod embedded;
mod error;
mod exec;
mod feed;
mod handle_order;
mod hints;
mod instance;
mod kept;
mod label;
mod lifecycle;
mod limit;
mod loom;
mod mailbox;
mod method;
#[cfg(feature = "serde")]
mod msgpack;
mod node;
mod object_ref;
mod options;
mod pending;
mod placement_group;
mod registry;
mod remote;
mod resource_pool;
mod resources;
mod restart;
mod roster;
mod scheduler;
#[cfg(test)]
mod scheduler_model;
#[doc(hidden)]
pub mod seam;
mod state;
mod stream;
mod sync_call;
mod sync_runner;
mod system;
mod take_once;
mod task;
mod task_options;
mod unpack;
mod unwind;
mod wait;
mod waiters;

pub use actor::Actor;
pub use actor_pool::ActorPool;
pub use arg::IntoArg;
pub use available::{available_resources, cluster_resources};
pub use builder::ActorBuilder;
pub use class::ActorClass;
pub use context::{ActorContext, RuntimeContext, TaskContext, get_gpu_ids, runtime_context};
pub use dag::{DagNode, InputNode, IntoNode, MultiOutputNode, NodeMethod};
pub use error::{ActorError, DeathCause, LookupError, RuntimeError};
pub use hints::Gettable;
pub use kept::{keep_across_restarts, was_current_actor_reconstructed};
pub use label::{ActorId, ActorLabel};
pub use lifecycle::{
    current_actor, get_actor, get_actor_in, kill, kill_named_in, list_actors, list_dead_actors,
};
pub use method::Method;
pub use node::{NodeId, current_node};
pub use object_ref::{ObjectRef, ObjectRefFuture};
pub use options::{ActorOptions, CallOptions, DEFAULT_NAMESPACE, Lifetime, Placement};
pub use placement_group::{
    Bundle, InGroup, PlacementGroup, PlacementGroupError, PlacementGroupId, PlacementGroupState,
    PlacementStrategy, placement_group, remove_placement_group,
};
pub use state::{ActorInfo, ActorState};
pub use stream::{BlockingIter, ObjectRefStream, StreamMethod};
pub use system::{Config, init, shutdown};
pub use task::Task;
pub use task_options::TaskOptions;
pub use wait::{
    WaitResult, Waitable, cancel, get, get_all, get_all_timeout, put, wait, wait_blocking,
    wait_owned, wait_owned_blocking,
};

/// What macro-generated code uses. Not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "serde")]
    pub use crate::msgpack::MsgPack;
    pub use crate::{
        Actor, ActorBuilder, ActorClass, ActorOptions, DagNode, IntoArg, IntoNode, Lifetime,
        Method, ObjectRef, ObjectRefStream, Task, TaskOptions,
        arg::Arg,
        builder::ConstructorArgs,
        call::{Body, CloneProbe, RemoteArg, RemoteReturn, ViaClone, ViaNoClone},
        class::ConstructorOutput,
        hints::{NotARemoteMethod, Overridable, Sendable},
        instance::Shared,
        object_ref::Completer,
        remote::{
            Codec, CrossesProcesses, Remotable, RemoteMethod, WireError, encode_args, serve,
            serve_stream,
        },
        restart::RetryPolicy,
        task::{RemoteFn, TaskCrosses, TaskRun},
    };
    pub use crate::{StreamMethod, stream::box_stream};
    pub use futures::{future::BoxFuture, stream::BoxStream};

    /// Wraps a sync constructor's output as the future the runtime expects.
    pub fn construct_sync<A, O: ConstructorOutput<A>>(
        output: O,
    ) -> BoxFuture<'static, Result<A, String>>
    where
        A: Send + 'static,
    {
        Box::pin(std::future::ready(output.into_state()))
    }

    /// Wraps an async constructor's future.
    pub fn construct_async<A, O, F>(future: F) -> BoxFuture<'static, Result<A, String>>
    where
        A: Send + 'static,
        O: ConstructorOutput<A>,
        F: std::future::Future<Output = O> + Send + 'static,
    {
        Box::pin(async move { future.await.into_state() })
    }
}

/// Calls `$m!` with the argument lists of every supported arity (0 to 12).
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_arity {
    ($m:ident) => {
        $m! {
            ()
            (a0: A0)
            (a0: A0, a1: A1)
            (a0: A0, a1: A1, a2: A2)
            (a0: A0, a1: A1, a2: A2, a3: A3)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8, a9: A9)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8, a9: A9, a10: A10)
            (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8, a9: A9, a10: A10, a11: A11)
        }
    };
}
