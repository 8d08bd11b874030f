//! Procedural macros of [helio](https://docs.rs/helio): `#[actor]` and `#[remote_method]`.
//!
//! Use them through the `helio` crate (`use helio::prelude::*;`); the generated code names only
//! `::helio::__private`, so this crate is not meant to be depended on directly.
//!
//! The pipeline follows serde's and thiserror's split: `attr` parses the attributes into typed
//! options that keep their spans, `ast` checks the impl block, both collecting every error in a
//! `ctxt::Ctxt`; `expand` generates the code. On errors the impl block is still emitted, with
//! every method whose signature is valid, so call sites do not cascade into noise.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod remotable;
mod remote_fn;
mod suggest;

use proc_macro::TokenStream;
use quote::quote;

/// Turns an inherent impl block into an actor: a type whose instances run on their own task,
/// called through a typed handle, [`Actor<Self>`](https://docs.rs/helio/latest/helio/struct.Actor.html),
/// with Ray's semantics.
///
/// ```ignore
/// use helio::prelude::*;
///
/// pub struct Counter { value: i64 }
///
/// #[actor(max_restarts = 2, concurrency_groups = { io = 2 })]
/// impl Counter {
///     pub fn new(start: i64) -> Self { Counter { value: start } }
///
///     #[remote_method]
///     pub fn add(&mut self, by: i64) -> i64 { self.value += by; self.value }
///
///     #[remote_method(concurrency_group = "io")]
///     pub async fn echo(&self, msg: String) -> String { msg }
/// }
///
/// let counter: Actor<Counter> = Counter::new_actor().remote(1);
/// assert_eq!(counter.methods().add().remote(2).get().unwrap(), 3);
/// assert_eq!(counter.methods().echo().remote("hi").get().unwrap(), "hi");
/// ```
///
/// The examples on this page are marked `ignore` because this crate cannot depend on `helio`;
/// each runs as a test in the [`helio` crate docs](https://docs.rs/helio/latest/helio/)
/// ([options](https://docs.rs/helio/latest/helio/#actor-options),
/// [constructors](https://docs.rs/helio/latest/helio/#constructors),
/// [`#[on_stop]`](https://docs.rs/helio/latest/helio/#stop-hook)).
///
/// # Options
///
/// `#[actor(key = value, ..)]` sets the defaults of every actor of this type;
/// `A::new_actor().options(ActorOptions::new()...)` overrides any of them for one actor. The
/// names, meanings and defaults are those of Ray's `@ray.remote(..)` / `.options(..)` for
/// actors. Values are literals; an unknown (with a "did you mean"), repeated or ill-typed
/// option is a compile error.
///
/// | option | value | default | Ray |
/// | --- | --- | --- | --- |
/// | `name = "cache"` | non-empty string | none: anonymous | `name` |
/// | `namespace = "prod"` | non-empty string; needs `name` | `"default"` | `namespace` |
/// | `max_restarts = n` | `-1` (forever) or `n >= 0` | `0` | `max_restarts` |
/// | `max_task_retries = n` | `-1` (forever) or `n >= 0` | `0` | `max_task_retries` |
/// | `max_pending_calls = n` | `-1` (unlimited) or `n >= 1` | `-1` | `max_pending_calls` |
/// | `max_concurrency = n` | `n >= 1` | `1`; `1000` if a remote method is `async` or `blocking` | `max_concurrency` |
/// | `concurrency_groups = { io = 2, .. }` | names, each with a size `>= 1` | none | `concurrency_groups={"io": 2}` |
/// | `lifetime = "detached"` | `"detached"` or `"non_detached"` | `"non_detached"` | `lifetime="detached"` |
/// | `get_if_exists = true` | `true` or `false` | `false` | `get_if_exists` |
/// | `num_cpus = x`, `num_gpus = x` | an amount `>= 0` | `0` | `num_cpus`, `num_gpus` |
/// | `resources = { ssd = 1 }` | names, each with an amount | none | `resources={"ssd": 1}` |
///
/// - **`name`, `namespace`**: register the actor under `(namespace, name)`, unique while it
///   lives, so that `helio::get_actor::<A>(name)` and `helio::get_actor_in::<A>(namespace,
///   name)` find it, checked against its type. Starting a second actor under a taken name gives
///   a handle whose calls fail with `ActorDied { cause: NameTaken { .. } }` (unless
///   `get_if_exists`).
/// - **`num_cpus`, `num_gpus`, `resources`**: what the actor holds from its node while it
///   lives (tasks there wait for the rest); see `ActorOptions::num_cpus`. With
///   `Placement::Any` only a node that has them free takes it.
/// - **`max_restarts`**: how often the actor restarts after a crash (a panic in a method, or
///   `helio::kill(&actor, false)`): the constructor runs again with its stored arguments, and
///   the calls queued meanwhile run on the new instance. Out of restarts, the actor dies and
///   every call resolves to `ActorDied`.
/// - **`max_task_retries`**: how often a call that a crash interrupted is run again on the
///   restarted actor. Only `async` and `blocking` calls can be interrupted (a sync call runs to
///   its end before the crash is handled), only those whose arguments are `Clone` are re-run,
///   and a call that panicked itself is never re-run. Overridden per method by
///   `#[remote_method(max_task_retries = n)]` and per call by `CallOptions::max_task_retries`.
/// - **`max_pending_calls`**: how many unresolved calls *one handle* may have; one more
///   resolves at once to `PendingCallsLimitExceeded`. Each clone of a handle counts its own.
/// - **`max_concurrency`**: how many `&self` calls of the default group run at once. A
///   `&mut self` call always runs alone.
/// - **`concurrency_groups`**: more groups, each with its own limit, for the `&self` methods
///   that name one with `#[remote_method(concurrency_group = "io")]` (or the calls that name
///   one with `CallOptions::concurrency_group`). `default` is the implicit group, sized by
///   `max_concurrency`; it cannot be declared here.
/// - **`lifetime = "detached"`**: a named actor outlives its handles, until `helio::kill` or
///   `helio::shutdown()` (an anonymous actor ignores it). A non-detached actor stops once
///   every handle is dropped and its queued calls are done.
/// - **`get_if_exists = true`**: when a live actor of the same type has the name,
///   `new_actor().remote(..)` returns a handle to it (the constructor arguments are ignored).
///
/// # The constructor
///
/// The associated fn `new`, or the associated fn marked `#[init]` (whatever its name; a `new`
/// beside it is then an ordinary fn). It may be sync or `async`, and returns `Self`, or
/// `Result<Self, E>` with `E: Display`: an `Err`, or a panic, kills the actor with
/// `DeathCause::InitFailed(message)`, which `actor.ready()` reports as `ActorError::InitFailed`
/// and every call as `ActorDied`.
///
/// `new_actor().remote(args)` takes the constructor's arguments and returns the handle at
/// once; the constructor runs on the actor, before any call. The arguments are kept to run the
/// constructor again at each restart, so they must be owned (no borrowed or `impl Trait`
/// types) and together `Clone + Send + 'static`. The constructor cannot take `self`, nor be
/// `const`, `unsafe`, `extern` or generic (the impl block itself may be generic). An actor
/// without a constructor is a compile error.
///
/// # Remote methods
///
/// The methods marked [`#[remote_method]`](macro@remote_method) are called through the handle;
/// the other items of the block stay as they are. A remote method takes `&self` or `&mut self`
/// and owned arguments (`Send + 'static`; no borrowed or `impl Trait` types), and returns an
/// owned `Send + 'static` value or a stream (`impl Stream<Item = T> + Send + 'static`, or
/// `BoxStream<'static, T>`). It cannot be `const`, `unsafe`, `extern` or generic.
///
/// - Calls start in arrival order. A `&mut self` call runs alone; `&self` calls run
///   concurrently, up to the limit of their concurrency group.
/// - A sync method runs on the actor's task; mark a long one `blocking` to move it to the
///   blocking thread pool. An `async fn` taking `&self` needs `Self: Sync`.
/// - A panic resolves its call to `TaskPanicked` and crashes the actor (see `max_restarts`).
///
/// # `#[on_stop]`
///
/// At most one method may be marked `#[on_stop]`: `fn name(&mut self)` or `fn name(&self)`,
/// sync or `async`, with no other argument and no return type (and not also `#[remote_method]`
/// or `#[init]`). It is not callable through the handle.
///
/// It runs at a **graceful stop only**: once every handle of the actor has been dropped and
/// every call queued or running has finished. It runs on the actor's task with the state,
/// which is dropped right after it. It may take at most **10 seconds**: a hook still running
/// then is dropped and the actor stops without it. A panic in it is logged; the actor stops
/// all the same.
///
/// It does **not** run:
/// - at `helio::kill(&actor, no_restart)` (either kind) or `helio::kill_named_in`; a kill
///   while the hook runs cuts it short;
/// - at `helio::shutdown()`, or when the tokio runtime the actor runs on shuts down;
/// - at a crash: a restarted actor's old state, and a dead one's, are dropped without it;
/// - when the constructor failed (there is no state);
/// - for a detached actor, which never stops gracefully (its registration keeps it alive until
///   it is killed or shut down).
///
/// # What it generates
///
/// For `impl Counter`, besides the impl block as written (less the `#[remote_method]`,
/// `#[init]` and `#[on_stop]` attributes):
/// - `Counter::new_actor()`, with the constructor's visibility, returning a handle around an
///   `ActorBuilder<Counter, (Args,)>`: `.options(ActorOptions)` overrides the attribute's
///   options, and `.remote(args)` starts the actor and returns its `Actor<Counter>`. The name
///   `new_actor` is reserved: the block cannot define it.
/// - `pub struct CounterMethods<'a>`, returned by `actor.methods()`, with one accessor per
///   remote method, of the same name, visibility and doc comment. An accessor returns a
///   reusable handle around a `Method<'a, Counter, (Args,), R>` (for a stream of `T`:
///   `StreamMethod<'a, Counter, (Args,), T>`) whose `.remote(args)` sends a call and returns an
///   `ObjectRef<R>` (an `ObjectRefStream<T>`), and whose `.options(CallOptions)` sets per-call
///   overrides. Each argument may be a value or the `ObjectRef` of another call.
///
///   The struct is generic over what its accessors pick the method from: `CounterMethods<'a,
///   T = Actor<Counter>>`. `node.methods()`, on a `DagNode<Actor<Counter>, I>` (from
///   `Counter::new_actor().bind(..)`), gives the same accessors with the node as `T`: their
///   `Method<'a, Counter, (Args,), R, DagNode<Actor<Counter>, I>>` has `.bind(args)` instead of
///   `.remote(args)`. Streaming methods are the handle's only.
///
///   The handle (`CounterMethod<H, N>`, one generated type per actor) gives each method and
///   the constructor a `.remote(..)` of its own, with the method's parameter names: a call
///   with too many or too few arguments is reported at the method. It derefs to the wrapped
///   handle `H`, and `.into_inner()` returns it.
/// - `impl ActorClass for Counter`, tying them together; its `default_options()` are the
///   attribute's options.
///
/// Generated code names only `::helio::__private`: the crate using `#[actor]` depends on
/// `helio`.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let mut item: syn::ItemImpl = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[actor]` goes on the impl block of the actor type: `#[actor] impl Counter { .. }`",
            )
            .to_compile_error();
            return quote!(#err #input).into();
        }
    };
    let mut cx = ctxt::Ctxt::default();
    let attr = attr::ActorAttr::parse(args.into(), &mut cx);
    let actor = ast::ActorImpl::from_item(&mut item, &attr, &mut cx);
    let generated = actor.map(|actor| expand::generate(&actor, &attr));
    let errors = cx.into_compile_errors();
    quote!(#item #generated #errors).into()
}

/// Marks a method of an [`#[actor]`](macro@actor) impl block as callable through the actor's
/// handle: `actor.methods().name().remote(args)`, which returns an `ObjectRef` of the result at
/// once. See [`#[actor]`](macro@actor#remote-methods) for the rules a remote method follows.
///
/// Written `#[remote_method]` or `#[remote_method(option = value, ..)]`; outside an `#[actor]`
/// impl block it is a compile error. The options:
///
/// | option | value | default | Ray |
/// | --- | --- | --- | --- |
/// | `concurrency_group = "io"` | a group declared by the actor | the default group | `@ray.method(concurrency_group="io")` |
/// | `max_task_retries = n` | `-1` (forever) or `n >= 0` | the actor's `max_task_retries` | `@ray.method(max_task_retries=n)` |
/// | `blocking` (or `blocking = true`) | a flag | off | none (Ray's threaded actors) |
/// | `stream_buffer = n` | `n >= 1` | `16` | `_generator_backpressure_num_objects` |
///
/// - **`concurrency_group`**: runs the method's calls in this group, which
///   `#[actor(concurrency_groups = { io = 2 })]` must declare, within the group's limit instead
///   of `max_concurrency`. Only for `&self` methods: a `&mut self` method runs alone, outside
///   every group. A call may name another group with `CallOptions::concurrency_group`.
/// - **`max_task_retries`**: how often a call of this method that a crash interrupted is run
///   again on the restarted actor, instead of the actor's `max_task_retries`. It matters only
///   for `async` and `blocking` methods (a sync call is never interrupted) whose arguments are
///   `Clone`. A call may override it with `CallOptions::max_task_retries`.
/// - **`blocking`**: for a sync method that blocks or runs long: it runs on the blocking thread
///   pool instead of the actor's task, which keeps serving other calls meanwhile (a `&mut self`
///   one still runs alone). Like an `async` method, it can be interrupted by a crash, and it
///   makes the actor's default `max_concurrency` 1000. An `async` method cannot be `blocking`.
/// - **`stream_buffer`**: for a method returning a stream: how many items may wait for the
///   consumer before the producer is held back. Only for streaming methods.
#[proc_macro_attribute]
pub fn remote_method(_args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[remote_method]` only works on a method inside an `#[actor]` impl block",
    )
    .to_compile_error();
    quote!(#err #input).into()
}

/// Turns a free fn into a task, Ray's remote function: the fn's name becomes a handle,
/// [`Task`](https://docs.rs/helio/latest/helio/struct.Task.html), whose `.remote(args)` runs
/// the fn on helio's runtime and returns an `ObjectRef` of its result at once.
///
/// ```ignore
/// use helio::prelude::*;
///
/// #[remote]
/// fn double(x: u64) -> u64 { 2 * x }
///
/// #[remote(num_cpus = 0.5, max_retries = 1, retry_on_panic = true)]
/// async fn add(a: u64, b: u64) -> u64 { a + b }
///
/// let four = double.remote(2);
/// let six = add.remote(four, 2); // runs once `four` resolves
/// assert_eq!(helio::get(six).unwrap(), 6);
/// ```
///
/// The fn may be sync (it runs where blocking is allowed, so `helio::get` may block) or
/// `async`. One that returns `impl Stream<Item = T> + Send + 'static` (or a `BoxStream<'static,
/// T>`) is a streaming task: `.remote(..)` gives an `ObjectRefStream<T>` whose items come as the
/// stream yields them, at most 16 ahead of the consumer (its resources are held while the fn
/// runs, not while the stream is drained). A streaming task runs where it is called: its stream
/// cannot cross processes, so `helio::register_task` does not compile for it. Its arguments follow the rules of remote methods: owned, `Send + 'static`, and at
/// the call site each takes a value or an `ObjectRef` of one (a `String` also takes `&str`).
/// It cannot be generic, `const`, `unsafe` or `extern`.
///
/// # Options
///
/// `#[remote(key = value, ..)]` sets the defaults of the task's calls; `f.options(TaskOptions)`
/// overrides them. Names, meanings and defaults are Ray's:
///
/// | option | value | default | Ray |
/// | --- | --- | --- | --- |
/// | `max_retries = n` | `-1` (forever) or `n >= 0` | `3` | `max_retries` |
/// | `retry_on_panic = true` | `true` or `false` | `false` | `retry_exceptions` |
/// | `num_cpus = x` | an amount `>= 0` | `1` | `num_cpus` |
/// | `num_gpus = x` | an amount `>= 0` | `0` | `num_gpus` |
/// | `resources = { ssd = 1 }` | names, each with an amount | none | `resources={"ssd": 1}` |
/// | `name = "resize"` | a string | the fn's path | `name` |
///
/// # What it generates
///
/// `const double: remote_fn_double__call_double_remote_or_double_call_local` with the fn's
/// visibility and docs: a hidden type that derefs to `Task<Self, (u64,), u64>` and holds the fn
/// (called `double` inside it, so the fn may call itself). The fn cannot be called directly any
/// more (the type's name is what rustc reports for `double(2)`): call `.remote(..)` to run it as
/// a task, or `.call_local(..)` to run the plain fn here (for tests).
/// As a constant, the name is also a pattern where it is in scope: a local variable needs
/// another name (`let double = 2;` would try to match the constant).
#[proc_macro_attribute]
pub fn remote(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let item: syn::ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[remote]` goes on a free fn: `#[remote] fn double(x: u64) -> u64 { 2 * x }` \
                 (for an actor, put `#[actor]` on its impl block and `#[remote_method]` on its \
                 methods)",
            )
            .to_compile_error();
            return quote!(#err #input).into();
        }
    };
    let mut cx = ctxt::Ctxt::default();
    let attr = attr::TaskAttr::parse(args.into(), &mut cx);
    let generated = remote_fn::expand(&attr, item, &mut cx);
    let errors = cx.into_compile_errors();
    quote!(#generated #errors).into()
}
