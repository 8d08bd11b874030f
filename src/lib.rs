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
//! - `Counter::new_actor()`, a handle on an [`ActorBuilder`] whose `.remote(..)` takes the
//!   constructor's arguments (the fn `new`, or the fn marked `#[init]`) and returns an
//!   [`Actor<Counter>`]; `.options(ActorOptions)` overrides the attribute's options first;
//! - `CounterMethods<'_>`, returned by [`Actor::methods`], with one accessor per remote method;
//!   each returns a reusable handle on a [`Method`] whose `.remote(args)` returns an
//!   [`ObjectRef`] of the method's return type, and whose `.options(CallOptions)` sets per-call
//!   overrides (`.into_inner()` gives the [`Method`] itself). A DAG node that creates the actor
//!   has the same accessors ([`DagNode::methods`]), whose handles have `.bind(args)`;
//! - an implementation of [`ActorClass`] tying them together.
//!
//! Generated code goes through the hidden module `helio::__private` only.
//!
//! ## Semantics
//! - Calls start in arrival order. `&mut self` methods run alone; `&self` methods run
//!   concurrently up to `max_concurrency` (default 1, or 1000 when the actor has async or
//!   `blocking` methods), or up to the size of their concurrency group.
//! - Sync methods run on the actor's task; mark a long one `#[remote_method(blocking)]` to move it
//!   to the blocking pool. Async `&self` methods need the actor type to be `Sync`.
//! - A panic in a method resolves that call to [`ActorError::TaskPanicked`] and crashes the actor,
//!   which restarts (constructor re-run) while `max_restarts` allows. Calls queued meanwhile
//!   are delivered to the new instance; once out of restarts every call resolves to
//!   [`ActorError::ActorDied`]. Every object ref resolves.
//!
//! ## Actor options
//! `#[actor(..)]` takes Ray's actor options, with Ray's names and defaults (the table is in the
//! docs of [`#[actor]`](actor#options)), and `#[remote_method(..)]` the per-method ones (see
//! [`#[remote_method]`](remote_method)). [`ActorOptions`] overrides the actor's for one actor,
//! and [`CallOptions`] the method's for one call.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use helio::prelude::*;
//!
//! pub struct Cache { entries: HashMap<String, String> }
//!
//! #[actor(
//!     name = "cache",
//!     namespace = "docs",
//!     max_restarts = -1,               // restart after every crash
//!     max_task_retries = 1,            // run an interrupted async or blocking call once more
//!     max_pending_calls = 100,         // unresolved calls per handle
//!     max_concurrency = 4,             // `&self` calls of the default group at once
//!     concurrency_groups = { io = 2 }, // another group, of 2
//!     lifetime = "detached",           // lives until killed, with or without handles
//!     get_if_exists = true,            // `new_actor()` gives the live "docs/cache" back
//! )]
//! impl Cache {
//!     pub fn new() -> Self { Cache { entries: HashMap::new() } }
//!
//!     #[remote_method]
//!     pub fn insert(&mut self, key: String, value: String) -> Option<String> {
//!         self.entries.insert(key, value)
//!     }
//!
//!     /// Runs in the `io` group; re-run up to 3 times if a crash interrupts it.
//!     #[remote_method(concurrency_group = "io", max_task_retries = 3)]
//!     pub async fn fetch(&self, url: String) -> String { format!("<{url}>") }
//!
//!     /// Runs on the blocking thread pool, leaving the actor's task free.
//!     #[remote_method(blocking)]
//!     pub fn len(&self) -> usize { self.entries.len() }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = Cache::new_actor().remote();
//! assert_eq!(cache.methods().insert().remote("k", "v").get()?, None);
//! assert_eq!(cache.methods().len().remote().get()?, 1);
//! assert_eq!(cache.methods().fetch().remote("a").get()?, "<a>");
//! // `get_if_exists`: the same actor. It is found by name too, checked to be a `Cache`.
//! assert_eq!(Cache::new_actor().remote(), cache);
//! assert_eq!(helio::get_actor_in::<Cache>("docs", "cache")?, cache);
//! // One call in another group; one actor under another name.
//! let fetch = cache.methods().fetch().options(CallOptions::new().concurrency_group("default"));
//! assert_eq!(fetch.remote("b").get()?, "<b>");
//! let other = Cache::new_actor().options(ActorOptions::new().name("other")).remote();
//! assert_ne!(other, cache);
//! // Detached actors outlive their handles: kill them when done.
//! helio::kill(&cache, true);
//! helio::kill(&other, true);
//! # Ok(()) }
//! ```
//!
//! ## Constructors
//! The constructor is the associated fn `new`, or the one marked `#[init]`; sync or `async`;
//! returning `Self`, or `Result<Self, E>` with `E: Display`. `new_actor().remote(args)` returns
//! the handle at once, and the constructor runs on the actor, before any call. Its arguments
//! are kept to run it again at each restart, so they must be `Clone + Send + 'static`.
//!
//! ```
//! use helio::prelude::*;
//!
//! pub struct Conn { addr: String }
//!
//! #[actor]
//! impl Conn {
//!     #[init]
//!     pub async fn connect(addr: String) -> Result<Self, String> {
//!         if addr.is_empty() {
//!             return Err("no address".to_owned());
//!         }
//!         Ok(Conn { addr })
//!     }
//!
//!     #[remote_method]
//!     pub fn addr(&self) -> String { self.addr.clone() }
//! }
//!
//! let conn = Conn::new_actor().remote("db:5432".to_owned());
//! conn.ready().get().unwrap(); // waits for the constructor
//! assert_eq!(conn.methods().addr().remote().get().unwrap(), "db:5432");
//!
//! // A constructor's `Err` kills the actor: `ready()` reports it, every call fails.
//! let failed = Conn::new_actor().remote(String::new());
//! assert!(matches!(
//!     failed.ready().get(),
//!     Err(ActorError::InitFailed { message, .. }) if message == "no address"
//! ));
//! assert!(matches!(
//!     failed.methods().addr().remote().get(),
//!     Err(ActorError::ActorDied { cause: DeathCause::InitFailed(_), .. })
//! ));
//! ```
//!
//! ## Stop hook
//! A method marked `#[on_stop]` (`&mut self` or `&self`, sync or `async`, no other argument,
//! no result) runs at a graceful stop only: once every handle is dropped and every queued call
//! is done, for at most 10 seconds, before the state is dropped. It does not run when the actor
//! is killed ([`kill`]), crashes, or is stopped by [`shutdown`].
//!
//! ```
//! use std::{sync::mpsc, time::Duration};
//!
//! use helio::prelude::*;
//!
//! pub struct Journal { lines: Vec<String>, out: mpsc::Sender<String> }
//!
//! #[actor]
//! impl Journal {
//!     pub fn new(out: mpsc::Sender<String>) -> Self { Journal { lines: Vec::new(), out } }
//!
//!     #[remote_method]
//!     pub fn write(&mut self, line: String) { self.lines.push(line) }
//!
//!     /// Sends out what was written.
//!     #[on_stop]
//!     fn flush(&mut self) {
//!         for line in self.lines.drain(..) {
//!             let _ = self.out.send(line);
//!         }
//!     }
//! }
//!
//! impl Drop for Journal {
//!     fn drop(&mut self) { let _ = self.out.send("dropped".to_owned()); }
//! }
//!
//! let bound = Duration::from_secs(10);
//! let (out, flushed) = mpsc::channel();
//! let journal = Journal::new_actor().remote(out.clone());
//! let _ = journal.methods().write().remote("a"); // queued; dropping its ref does not cancel it
//! drop(journal); // the last handle: the queued call runs, then `flush`, then the drop
//! assert_eq!(flushed.recv_timeout(bound).unwrap(), "a");
//! assert_eq!(flushed.recv_timeout(bound).unwrap(), "dropped");
//!
//! let journal = Journal::new_actor().remote(out);
//! journal.methods().write().remote("lost").get().unwrap();
//! helio::kill(&journal, true); // not a graceful stop: the state is dropped without `flush`
//! assert_eq!(flushed.recv_timeout(bound).unwrap(), "dropped");
//! ```
//!
//! ## Streaming methods
//! A remote method returning `impl Stream<Item = T> + Send + 'static` (or `BoxStream<'static,
//! T>`, or an `async fn` building either) streams its items: `.remote(..)` returns an
//! [`ObjectRefStream<T>`], a `Stream` of `Result<T, ActorError>` with a blocking iterator. Items
//! arrive as they are produced through a bounded buffer (`#[remote_method(stream_buffer = N)]`,
//! default 16), so a slow consumer holds the producer back; dropping the stream stops the
//! producer. The stream outlives the call, so it cannot borrow `self`: clone what it needs.
//! [`helio::stream`](crate::stream) re-exports what you need from `futures` to write one.
//!
//! ```
//! use std::sync::Arc;
//!
//! use helio::prelude::*;
//! use helio::stream::{Stream, StreamExt, stream};
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
//!
//! ## Tasks
//! `#[remote]` on a free fn makes it a task, Ray's remote function: the fn's name becomes a
//! handle whose `.remote(args)` runs the fn on helio's runtime and returns an [`ObjectRef`] at
//! once (a sync fn on a thread where blocking is allowed, an `async` one as a task). Arguments follow the
//! rules above, so tasks and calls chain. [`TaskOptions`] (or `#[remote(..)]`) sets Ray's
//! `max_retries`, `retry_exceptions` (here `retry_on_panic`), `num_cpus`, `num_gpus` and custom
//! `resources`. A node runs at most [`Config::num_cpus`] CPUs' worth of tasks at once (the core
//! count by default; a task asks for 1); a task asking for more than the node has fails at
//! once with [`ActorError::Unschedulable`]. A sync task blocked in [`get`] lends its CPUs back
//! meanwhile, so tasks inside tasks never starve the node.
//!
//! ```
//! use helio::prelude::*;
//!
//! #[remote]
//! fn double(x: u64) -> u64 { 2 * x }
//!
//! /// Sums the doubles of `0..n`, each a subtask.
//! #[remote(num_cpus = 1)]
//! fn sum_of_doubles(n: u64) -> u64 {
//!     (0..n).map(|i| helio::get(double.remote(i)).unwrap()).sum()
//! }
//!
//! #[remote(max_retries = 2, retry_on_panic = true)]
//! async fn add(a: u64, b: u64) -> u64 { a + b }
//!
//! let four = double.remote(2);
//! let six = add.remote(four, 2); // runs once `four` resolves
//! assert_eq!(helio::get(six).unwrap(), 6);
//! assert_eq!(helio::get(sum_of_doubles.remote(4)).unwrap(), 12);
//! let light = double.options(TaskOptions::new().num_cpus(0.5));
//! assert_eq!(helio::get(light.remote(5)).unwrap(), 10);
//! let greedy = double.options(TaskOptions::new().num_gpus(1.0)); // this node has none
//! assert!(matches!(helio::get(greedy.remote(1)), Err(ActorError::Unschedulable { .. })));
//! ```
//!
//! ## DAGs
//! `.bind(args)` on a task, on a method of an actor, or on `A::new_actor()` builds a lazy,
//! typed [`DagNode`] instead of running anything; nodes are arguments of other binds, and an
//! [`InputNode`] stands for the input. `dag.execute(input)` runs the graph and returns the ref
//! of its result: each node runs once per `execute`, an actor bound with `new_actor().bind(..)`
//! is created anew each time, and an existing actor's methods keep its state across runs.
//! [`MultiOutputNode`] runs several outputs together.
//!
//! ```
//! use helio::prelude::*;
//!
//! #[remote]
//! fn double(x: u64) -> u64 { 2 * x }
//! #[remote]
//! fn add(a: u64, b: u64) -> u64 { a + b }
//!
//! pub struct Counter { total: u64 }
//!
//! #[actor]
//! impl Counter {
//!     pub fn new(start: u64) -> Self { Counter { total: start } }
//!     #[remote_method]
//!     pub fn add(&mut self, x: u64) -> u64 { self.total += x; self.total }
//! }
//!
//! let input = InputNode::<u64>::new();
//! let doubled = double.bind(&input);
//! let dag = add.bind(&doubled, &doubled); // `double` runs once per execute
//! assert_eq!(helio::get(dag.execute(3)).unwrap(), 12);
//!
//! // An existing actor keeps its state from one run to the next.
//! let counter = Counter::new_actor().remote(0);
//! let tally = counter.methods().add().bind(&dag);
//! assert_eq!(helio::get(tally.execute(1)).unwrap(), 4);
//! assert_eq!(helio::get(tally.execute(1)).unwrap(), 8);
//!
//! // An actor bound in the DAG is new on each run.
//! let fresh = Counter::new_actor().bind(100);
//! let once = fresh.methods().add().bind(&input);
//! assert_eq!(helio::get(once.execute(1)).unwrap(), 101);
//! assert_eq!(helio::get(once.execute(1)).unwrap(), 101);
//!
//! let both = MultiOutputNode::new((doubled, dag));
//! let (two, four) = both.execute(1);
//! assert_eq!((helio::get(two).unwrap(), helio::get(four).unwrap()), (2, 4));
//! ```
//!
//! ## Cluster mode
//! With the `cluster` feature, handles work across the processes of a cluster, over NATS:
//! [`init`] with `Config::cluster(url)`, then `register::<A>()` each actor type that crosses
//! processes (in every process that hosts, creates or calls it; the serde requirements on its
//! arguments and results are checked there, at compile time). Named actors of registered types
//! are found from any process with [`get_actor`]; `ActorOptions::placement` creates an actor on
//! another node; `Actor<A>` is `Serialize + Deserialize`, so a handle can be passed to a method
//! in another process. Calls, errors, cancel, streams (with backpressure) and
//! `max_pending_calls` behave as in process; a call to an actor whose host is gone resolves to
//! [`ActorError::ActorUnavailable`]. Without the feature nothing of NATS is compiled in.
#![cfg_attr(
    feature = "cluster",
    doc = r#"
```no_run
use helio::prelude::*;

pub struct Counter { value: i64 }

#[actor]
impl Counter {
    pub fn new(start: i64) -> Self { Counter { value: start } }
    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 { self.value += by; self.value }
}

# fn main() -> Result<(), Box<dyn std::error::Error>> {
helio::init(helio::Config::cluster("nats://127.0.0.1:4222").cluster_name("prod"))?;
helio::register::<Counter>();
let c = Counter::new_actor()
    .options(ActorOptions::new().name("c").lifetime(Lifetime::Detached).placement(Placement::Any))
    .remote(1);
// In any process of the cluster:
let c = helio::get_actor::<Counter>("c")?;
assert_eq!(helio::get(c.methods().add().remote(2))?, 3);
# Ok(()) }
```
"#
)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// docs.rs (nightly, `--cfg docsrs`): each item behind a feature is marked with it.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Cluster mode (feature `cluster`): see [`Config::cluster`] and [`register`]. [`Config`] and
/// [`init`] are then the cluster crate's: the runtime's settings, plus where the cluster is.
#[cfg(feature = "cluster")]
pub use helio_cluster::{
    ClusterConfig, Config, NodeDeaths, NodeInfo, NodeState, ObjectStats, PlacementGroupInfo,
    ResourceUse, delete_durable, init, is_node_dead, node_deaths, nodes, object_stats,
    placement_groups, put_durable, register, register_task,
};
pub use helio_macros::{actor, remote, remote_method};
pub use helio_runtime::{
    Actor, ActorBuilder, ActorClass, ActorError, ActorId, ActorInfo, ActorLabel, ActorOptions,
    ActorState, BlockingIter, CallOptions, DEFAULT_NAMESPACE, DagNode, DeathCause, Gettable,
    InputNode, IntoArg, IntoNode, Lifetime, LookupError, Method, MultiOutputNode, NodeMethod,
    ObjectRef, ObjectRefFuture, ObjectRefStream, RuntimeError, StreamMethod, Task, TaskOptions,
    WaitResult, cancel, current_actor, get, get_actor, get_actor_in, get_all, get_all_timeout,
    keep_across_restarts, kill, kill_named_in, list_actors, list_dead_actors, put, shutdown, wait,
    wait_blocking, wait_owned, wait_owned_blocking, was_current_actor_reconstructed,
};
pub use helio_runtime::{
    ActorContext, RuntimeContext, TaskContext, available_resources, cluster_resources, get_gpu_ids,
    runtime_context,
};
pub use helio_runtime::{
    Bundle, PlacementGroup, PlacementGroupError, PlacementGroupId, PlacementGroupState,
    PlacementStrategy, placement_group, remove_placement_group,
};
#[cfg(not(feature = "cluster"))]
pub use helio_runtime::{Config, init};
#[cfg(feature = "cluster")]
pub use helio_runtime::{NodeId, Placement, current_node};

/// What streaming methods and [`ObjectRefStream`] need from `futures`, so that you need not
/// depend on it yourself: `use helio::stream::{Stream, StreamExt};`.
///
/// ```
/// use helio::stream::{StreamExt, stream};
/// let doubled: Vec<u32> = futures::executor::block_on(stream::iter([1, 2]).map(|x| x * 2).collect());
/// assert_eq!(doubled, [2, 4]);
/// ```
pub mod stream {
    pub use futures::stream::{self, BoxStream, Stream, StreamExt};
}

/// Utilities over actors, as Ray's `ray.util`: [`ActorPool`](util::ActorPool).
pub mod util {
    pub use helio_runtime::ActorPool;
}

/// The names most programs need: `use helio::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "cluster")]
    pub use crate::Placement;
    pub use crate::{
        Actor, ActorError, ActorOptions, ActorState, CallOptions, DagNode, DeathCause, InputNode,
        Lifetime, MultiOutputNode, ObjectRef, ObjectRefStream, TaskOptions, actor, remote,
        remote_method,
    };
}

#[doc(hidden)]
pub mod __private {
    /// The NATS client, for the raw baseline of the cluster benchmarks.
    #[cfg(feature = "cluster")]
    pub use helio_cluster::async_nats;
    pub use helio_runtime::__private::*;
}
