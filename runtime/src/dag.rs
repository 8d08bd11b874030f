//! DAGs: lazy, typed graphs of tasks and actor calls, built with `.bind(..)` and run with
//! `execute` (Ray's `.bind()`, `InputNode` and `execute`).
//!
//! A [`DagNode<R, I>`] is a value: a task, a method call or an actor's creation, with its
//! arguments bound to constants, to other nodes, or to the DAG's input (an [`InputNode<I>`]).
//! `execute(input)` walks it once and submits ordinary tasks and calls with refs as arguments,
//! so the graph runs as fast as its dependencies allow; it has no scheduler of its own. Each
//! node runs once per `execute`, however many nodes use its result; an actor bound with
//! `A::new_actor().bind(..)` is created anew on each `execute` (its methods bind as
//! `node.methods().add().bind(..)`), while a method of an actor that exists already keeps
//! calling that actor, whose state carries over from one run to the next.
//!
//! Results are `Clone`: a result that several nodes use is shared, as Ray shares its objects.

use std::{any::Any, collections::HashMap, fmt, future::Future, marker::PhantomData, sync::Arc};

use crate::{
    Actor, ActorBuilder, ActorError, IntoArg, ObjectRef,
    arg::{Arg, PendingArgs},
    method::{Method, OwnedMethod},
    object_ref::detached_pair,
};

/// One node of a DAG: it produces an `R` once the DAG runs with an input of type `I`.
///
/// Built by `.bind(..)` on a task (`#[remote]` fn), on a method of an actor
/// (`actor.methods().add().bind(..)`), or on an actor's builder (`A::new_actor().bind(..)`);
/// each argument of a bind is a value, another node, or the [`InputNode`]. Cloning a node is
/// cheap and gives the same node: used twice in a DAG, it still runs once per `execute`.
///
/// ```
/// use helio::prelude::*;
///
/// #[remote]
/// fn double(x: u64) -> u64 { 2 * x }
/// #[remote]
/// fn add(a: u64, b: u64) -> u64 { a + b }
///
/// let input = InputNode::<u64>::new();
/// let doubled = double.bind(&input);
/// let dag = add.bind(&doubled, &doubled); // `double` runs once per execute
/// assert_eq!(helio::get(dag.execute(3)).unwrap(), 12);
/// assert_eq!(helio::get(dag.execute(5)).unwrap(), 20);
/// ```
pub struct DagNode<R, I = ()> {
    node: Arc<dyn Node<R, I>>,
}

/// What a node does when its DAG runs.
trait Node<R, I>: Send + Sync + 'static {
    /// Submits this node's task or call, with its arguments' results; a constant is its value.
    fn submit(&self, run: &mut Run<I>) -> Arg<R>;
}

/// One `execute`: the input, and the ref each node gave (so it runs once).
#[doc(hidden)]
pub struct Run<I> {
    input: ObjectRef<I>,
    refs: HashMap<usize, Box<dyn Any + Send>>,
}

impl<R, I> Clone for DagNode<R, I> {
    fn clone(&self) -> Self {
        DagNode {
            node: Arc::clone(&self.node),
        }
    }
}

impl<R, I> fmt::Debug for DagNode<R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DagNode")
            .field("output", &std::any::type_name::<R>())
            .field("input", &std::any::type_name::<I>())
            .finish_non_exhaustive()
    }
}

impl<R, I> DagNode<R, I>
where
    R: Clone + Send + 'static,
    I: Clone + Send + 'static,
{
    fn new(node: impl Node<R, I>) -> Self {
        DagNode {
            node: Arc::new(node),
        }
    }

    /// Runs the DAG that ends in this node on `input` (a value, or the `ObjectRef` of one:
    /// the nodes that take the input wait for it); returns the ref of this node's result at
    /// once. Every node it depends on runs once; a failed node fails the nodes that use its
    /// result with its error.
    ///
    /// ```
    /// use helio::prelude::*;
    ///
    /// #[remote]
    /// fn inc(x: u64) -> u64 {
    ///     x + 1
    /// }
    ///
    /// let input = InputNode::<u64>::new();
    /// let dag = inc.bind(&input);
    /// assert_eq!(helio::get(dag.execute(1)).unwrap(), 2);
    /// // A ref as the input: Ray's `dag.execute(ref)`.
    /// assert_eq!(helio::get(dag.execute(inc.remote(1))).unwrap(), 3);
    /// ```
    pub fn execute(&self, input: impl IntoArg<I>) -> ObjectRef<R> {
        let mut run = Run {
            input: input_ref(input),
            refs: HashMap::new(),
        };
        match self.arg(&mut run) {
            Arg::Value(value) => ObjectRef::ready(Ok(value)),
            Arg::Ref(r) => r,
        }
    }

    /// This node's result in `run`, as an argument of the nodes that use it.
    fn arg(&self, run: &mut Run<I>) -> Arg<R> {
        let key = Arc::as_ptr(&self.node).cast::<()>() as usize;
        if let Some(r) = run
            .refs
            .get(&key)
            .and_then(|r| r.downcast_ref::<ObjectRef<R>>())
        {
            return Arg::Ref(r.clone());
        }
        match self.node.submit(run) {
            Arg::Ref(r) => {
                run.refs.insert(key, Box::new(r.clone()));
                Arg::Ref(r)
            }
            value => value,
        }
    }
}

impl<A, I> DagNode<Actor<A>, I>
where
    A: crate::ActorClass,
    I: Clone + Send + 'static,
{
    /// The remote methods of the actor this node creates, to bind into the DAG:
    /// `counter.methods().add().bind(&input)`, as on the actor's handle (the same accessors,
    /// with the same argument types) but with `.bind(..)` for `.remote(..)`. Each bound call
    /// goes to the actor this node creates in that run: a new one each `execute`.
    ///
    /// ```
    /// use helio::prelude::*;
    ///
    /// pub struct Counter { total: u64 }
    ///
    /// #[actor]
    /// impl Counter {
    ///     pub fn new(start: u64) -> Self { Counter { total: start } }
    ///     #[remote_method]
    ///     pub fn add(&mut self, x: u64) -> u64 { self.total += x; self.total }
    /// }
    ///
    /// let input = InputNode::<u64>::new();
    /// let counter = Counter::new_actor().bind(10);
    /// let dag = counter.methods().add().bind(&input);
    /// assert_eq!(helio::get(dag.execute(1)).unwrap(), 11);
    /// assert_eq!(helio::get(dag.execute(1)).unwrap(), 11); // a new actor each run
    /// ```
    pub fn methods(&self) -> A::Methods<'_, Self> {
        A::methods(self)
    }
}

impl<A, I> DagNode<Actor<A>, I>
where
    A: Send + 'static,
    I: Clone + Send + 'static,
{
    /// A method of the actor this node creates, picked by a closure from the handle:
    /// `counter.method(|c| c.methods().add().into_inner())`. Prefer
    /// [`methods`](DagNode::methods), which gives the same method as
    /// `counter.methods().add()`.
    ///
    /// ```
    /// use helio::prelude::*;
    ///
    /// pub struct Counter { total: u64 }
    ///
    /// #[actor]
    /// impl Counter {
    ///     pub fn new(start: u64) -> Self { Counter { total: start } }
    ///     #[remote_method]
    ///     pub fn add(&mut self, x: u64) -> u64 { self.total += x; self.total }
    /// }
    ///
    /// let input = InputNode::<u64>::new();
    /// let counter = Counter::new_actor().bind(10);
    /// // The same as `counter.methods().add().bind(&input)`.
    /// let dag = counter.method(|c| c.methods().add().into_inner()).bind(&input);
    /// assert_eq!(helio::get(dag.execute(1)).unwrap(), 11);
    /// assert_eq!(helio::get(dag.execute(1)).unwrap(), 11); // a new actor each run
    /// ```
    pub fn method<Args, R>(
        &self,
        f: for<'a> fn(&'a Actor<A>) -> Method<'a, A, Args, R>,
    ) -> NodeMethod<A, Args, R, I> {
        NodeMethod {
            actor: self.clone(),
            f,
        }
    }
}

/// The stand-in for a DAG's input: each node bound to it gets the value `execute` is given.
///
/// ```
/// use helio::prelude::*;
///
/// #[remote]
/// fn double(x: u64) -> u64 { 2 * x }
///
/// let input = InputNode::<u64>::new();
/// let dag = double.bind(&input);
/// assert_eq!(helio::get(dag.execute(4)).unwrap(), 8);
/// ```
pub struct InputNode<T>(PhantomData<fn() -> T>);

impl<T> InputNode<T> {
    /// The input of a DAG whose `execute` takes a `T`.
    pub fn new() -> Self {
        InputNode(PhantomData)
    }
}

impl<T> Default for InputNode<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for InputNode<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for InputNode<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InputNode<{}>", std::any::type_name::<T>())
    }
}

/// What a bound argument of type `T` accepts, in a DAG whose input is an `I`: a `T`, an
/// `ObjectRef<T>`, a `DagNode<T, I>` (or a reference to one), the [`InputNode<T>`] (when
/// `T` is the input), or for `String` also `&str`.
#[diagnostic::on_unimplemented(
    message = "expected `{T}`, `ObjectRef<{T}>` or `DagNode<{T}, {I}>`, found `{Self}`",
    label = "expected `{T}`, `ObjectRef<{T}>` or a node that gives a `{T}`"
)]
pub trait IntoNode<I, T> {
    #[doc(hidden)]
    fn into_node(self) -> DagNode<T, I>;
}

/// A constant argument.
struct Const<T>(T);

impl<T: Clone + Send + Sync + 'static, I> Node<T, I> for Const<T> {
    fn submit(&self, _: &mut Run<I>) -> Arg<T> {
        Arg::Value(self.0.clone())
    }
}

/// The DAG's input.
struct Input;

impl<T: Clone + Send + 'static> Node<T, T> for Input {
    fn submit(&self, run: &mut Run<T>) -> Arg<T> {
        Arg::Ref(run.input.clone())
    }
}

/// A ref bound as an argument: each run uses it.
struct Bound<T>(ObjectRef<T>);

impl<T: Clone + Send + Sync + 'static, I> Node<T, I> for Bound<T> {
    fn submit(&self, _: &mut Run<I>) -> Arg<T> {
        Arg::Ref(self.0.clone())
    }
}

impl<I, T> IntoNode<I, T> for T
where
    T: Clone + Send + Sync + 'static,
    I: Clone + Send + 'static,
{
    fn into_node(self) -> DagNode<T, I> {
        DagNode::new(Const(self))
    }
}

impl<I, T> IntoNode<I, T> for DagNode<T, I> {
    fn into_node(self) -> DagNode<T, I> {
        self
    }
}

impl<I, T> IntoNode<I, T> for &DagNode<T, I> {
    fn into_node(self) -> DagNode<T, I> {
        self.clone()
    }
}

impl<T: Clone + Send + 'static> IntoNode<T, T> for InputNode<T> {
    fn into_node(self) -> DagNode<T, T> {
        DagNode::new(Input)
    }
}

impl<T: Clone + Send + 'static> IntoNode<T, T> for &InputNode<T> {
    fn into_node(self) -> DagNode<T, T> {
        DagNode::new(Input)
    }
}

impl<I, T> IntoNode<I, T> for ObjectRef<T>
where
    T: Clone + Send + Sync + 'static,
    I: Clone + Send + 'static,
{
    fn into_node(self) -> DagNode<T, I> {
        DagNode::new(Bound(self))
    }
}

impl<I: Clone + Send + 'static> IntoNode<I, String> for &str {
    fn into_node(self) -> DagNode<String, I> {
        DagNode::new(Const(self.to_owned()))
    }
}

/// A tuple of nodes: the bound arguments of a task or call.
#[doc(hidden)]
pub trait NodeArgs<I>: Send + Sync + 'static {
    /// The arguments, as the call takes them.
    type Args: PendingArgs;
    /// Each argument's result in `run`.
    fn args(&self, run: &mut Run<I>) -> Self::Args;
}

/// Per arity: a tuple of nodes as a call's arguments (`NodeArgs`) and as a DAG's outputs
/// (`Outputs`), and the `bind` of methods, tasks and actor builders.
macro_rules! node_arities {
    ($( ($($arg:ident: $ty:ident),*) )*) => {$(
        impl<I, $($ty),*> NodeArgs<I> for ($(DagNode<$ty, I>,)*)
        where
            I: Clone + Send + 'static,
            $($ty: Clone + Send + 'static,)*
        {
            type Args = ($(Arg<$ty>,)*);

            #[allow(unused_variables, clippy::unused_unit)]
            fn args(&self, run: &mut Run<I>) -> Self::Args {
                let ($($arg,)*) = self;
                ($($arg.arg(run),)*)
            }
        }

        impl<'m, A, R, $($ty),*> Method<'m, A, ($($ty,)*), R>
        where
            A: crate::ActorClass,
            R: Clone + Send + 'static,
            $($ty: Clone + Send + 'static,)*
        {
            /// A DAG node that calls this method of this actor with the bound arguments each
            /// time the DAG runs; the actor's state carries over between runs.
            #[allow(clippy::too_many_arguments)]
            pub fn bind<I: Clone + Send + 'static>(
                &self,
                $($arg: impl IntoNode<I, $ty>),*
            ) -> DagNode<R, I> {
                DagNode::new(MethodNode {
                    method: self.to_owned_method(),
                    args: ($($arg.into_node(),)*),
                })
            }
        }

        impl<'m, A, R, I, $($ty),*> Method<'m, A, ($($ty,)*), R, DagNode<Actor<A>, I>>
        where
            A: crate::ActorClass,
            R: Clone + Send + 'static,
            I: Clone + Send + 'static,
            $($ty: Clone + Send + 'static,)*
        {
            /// A DAG node that calls this method, with the bound arguments, on the actor that
            /// the node it was picked from creates: a new actor each time the DAG runs.
            #[allow(clippy::too_many_arguments)]
            pub fn bind(&self, $($arg: impl IntoNode<I, $ty>),*) -> DagNode<R, I> {
                DagNode::new(ActorMethodNode {
                    pick: Pick::Method(self.to_owned_method()),
                    args: ($($arg.into_node(),)*),
                })
            }
        }

        impl<F, R, $($ty),*> crate::Task<F, ($($ty,)*), R>
        where
            F: crate::task::RemoteFn<Args = ($($ty,)*), Output = R>,
            R: Clone + Send + 'static,
            $($ty: Clone + Send + 'static,)*
        {
            /// A DAG node that runs the task on the bound arguments each time the DAG runs.
            /// Its arguments and result must be `Clone`: a DAG shares a node's result among
            /// the nodes that use it.
            #[allow(clippy::too_many_arguments)]
            pub fn bind<I: Clone + Send + 'static>(
                &self,
                $($arg: impl IntoNode<I, $ty>),*
            ) -> DagNode<R, I> {
                self.bind_nodes(($($arg.into_node(),)*))
            }
        }

        impl<A, $($ty),*> ActorBuilder<A, ($($ty,)*)>
        where
            A: crate::ActorClass,
            $($ty: Clone + Send + Sync + 'static,)*
        {
            /// A DAG node that creates the actor with the bound constructor arguments, anew
            /// each time the DAG runs; bind its methods with [`DagNode::methods`].
            #[allow(clippy::too_many_arguments)]
            pub fn bind<I: Clone + Send + 'static>(
                &self,
                $($arg: impl IntoNode<I, $ty>),*
            ) -> DagNode<Actor<A>, I> {
                DagNode::new(ActorNode {
                    builder: self.clone(),
                    args: ($($arg.into_node(),)*),
                })
            }
        }

        impl<A, R, I, $($ty),*> NodeMethod<A, ($($ty,)*), R, I>
        where
            A: crate::ActorClass,
            R: Clone + Send + 'static,
            I: Clone + Send + 'static,
            $($ty: Clone + Send + 'static,)*
        {
            /// A DAG node that calls the method, with the bound arguments, on the actor the
            /// node creates.
            #[allow(clippy::too_many_arguments)]
            pub fn bind(&self, $($arg: impl IntoNode<I, $ty>),*) -> DagNode<R, I> {
                DagNode::new(ActorMethodNode {
                    pick: Pick::Fn(self.actor.clone(), self.f),
                    args: ($($arg.into_node(),)*),
                })
            }
        }

        impl<I, $($ty),*> Outputs<I> for ($(DagNode<$ty, I>,)*)
        where
            I: Clone + Send + 'static,
            $($ty: Clone + Send + 'static,)*
        {
            type Refs = ($(ObjectRef<$ty>,)*);

            #[allow(unused_variables, clippy::unused_unit)]
            fn refs(&self, run: &mut Run<I>) -> Self::Refs {
                let ($($arg,)*) = self;
                ($(match $arg.arg(run) {
                    Arg::Value(value) => ObjectRef::ready(Ok(value)),
                    Arg::Ref(r) => r,
                },)*)
            }
        }
    )*};
}

crate::for_each_arity!(node_arities);

/// A task with its bound arguments: see `Task::bind`.
pub(crate) struct TaskNode<T, N> {
    pub(crate) submit: T,
    pub(crate) args: N,
}

impl<R, I, T, N> Node<R, I> for TaskNode<T, N>
where
    R: Send + 'static,
    N: NodeArgs<I>,
    T: Fn(N::Args) -> ObjectRef<R> + Send + Sync + 'static,
{
    fn submit(&self, run: &mut Run<I>) -> Arg<R> {
        Arg::Ref((self.submit)(self.args.args(run)))
    }
}

impl<R, I> DagNode<R, I>
where
    R: Clone + Send + 'static,
    I: Clone + Send + 'static,
{
    /// A node that runs `submit` on its bound arguments (a task's submission).
    pub(crate) fn task<N, T>(submit: T, args: N) -> Self
    where
        N: NodeArgs<I>,
        T: Fn(N::Args) -> ObjectRef<R> + Send + Sync + 'static,
    {
        DagNode::new(TaskNode { submit, args })
    }
}

impl<F, Args, R> crate::Task<F, Args, R>
where
    F: crate::task::RemoteFn<Args = Args, Output = R>,
{
    /// A DAG node that runs the task on its bound arguments (nodes, the input, or values)
    /// each time the DAG runs: what `.bind(..)` calls.
    fn bind_nodes<I, N>(&self, args: N) -> DagNode<R, I>
    where
        I: Clone + Send + 'static,
        N: NodeArgs<I>,
        N::Args: crate::arg::PendingArgs<Values = Args>,
        Args: Send + 'static,
        R: Clone + Send + 'static,
    {
        let task = self.clone();
        DagNode::task(move |args| task.submit(args), args)
    }
}

/// A method of an existing actor with its bound arguments.
struct MethodNode<A, Args, R, N> {
    method: OwnedMethod<A, Args, R>,
    args: N,
}

impl<A, Args, R, I, N> Node<R, I> for MethodNode<A, Args, R, N>
where
    A: crate::ActorClass,
    Args: Send + 'static,
    R: Send + 'static,
    N: NodeArgs<I>,
    N::Args: PendingArgs<Values = Args>,
{
    fn submit(&self, run: &mut Run<I>) -> Arg<R> {
        Arg::Ref(self.method.method().call_with(self.args.args(run)))
    }
}

/// An actor's creation with its bound constructor arguments.
struct ActorNode<A, Args, N> {
    builder: ActorBuilder<A, Args>,
    args: N,
}

impl<A, Args, I, N> Node<Actor<A>, I> for ActorNode<A, Args, N>
where
    A: crate::ActorClass,
    Args: Send + 'static,
    N: NodeArgs<I>,
    N::Args: PendingArgs<Values = Args>,
{
    fn submit(&self, run: &mut Run<I>) -> Arg<Actor<A>> {
        let builder = self.builder.clone();
        // A ref, even when created at once: each run creates the actor once, for every node
        // that uses it.
        match self.args.args(run).now() {
            Ok(values) => Arg::Ref(ObjectRef::ready(Ok(builder.remote_tuple(values)))),
            Err(pending) => Arg::Ref(spawn_resolved(async move {
                let values = pending.resolve().await?;
                Ok(builder.remote_tuple(values))
            })),
        }
    }
}

/// A method, picked by [`DagNode::method`], of the actor a node creates.
pub struct NodeMethod<A, Args, R, I> {
    actor: DagNode<Actor<A>, I>,
    f: for<'a> fn(&'a Actor<A>) -> Method<'a, A, Args, R>,
}

impl<A, Args, R, I> fmt::Debug for NodeMethod<A, Args, R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeMethod")
            .field("actor", &std::any::type_name::<A>())
            .finish_non_exhaustive()
    }
}

/// How a DAG picks a method of the actor a node creates, once the actor exists.
enum Pick<A, Args, R, I> {
    /// By a closure on the handle: [`DagNode::method`].
    Fn(
        DagNode<Actor<A>, I>,
        for<'a> fn(&'a Actor<A>) -> Method<'a, A, Args, R>,
    ),
    /// By an accessor of [`DagNode::methods`]: the method, kept with the node as its target.
    Method(OwnedMethod<A, Args, R, DagNode<Actor<A>, I>>),
}

impl<A, Args, R, I> Pick<A, Args, R, I> {
    /// The node that creates the actor.
    fn actor(&self) -> &DagNode<Actor<A>, I> {
        match self {
            Pick::Fn(actor, _) => actor,
            Pick::Method(method) => method.method().target(),
        }
    }

    /// The method of `actor`, the actor the node created.
    fn pick<'a>(&self, actor: &'a Actor<A>) -> Method<'a, A, Args, R> {
        match self {
            Pick::Fn(_, f) => f(actor),
            Pick::Method(method) => method.method().on(actor),
        }
    }
}

impl<A, Args, R, I> Clone for Pick<A, Args, R, I> {
    fn clone(&self) -> Self {
        match self {
            Pick::Fn(actor, f) => Pick::Fn(actor.clone(), *f),
            Pick::Method(method) => Pick::Method(method.clone()),
        }
    }
}

/// A method call on the actor a node creates, with its bound arguments.
struct ActorMethodNode<A, Args, R, I, N> {
    pick: Pick<A, Args, R, I>,
    args: N,
}

impl<A, Args, R, I, N> Node<R, I> for ActorMethodNode<A, Args, R, I, N>
where
    A: crate::ActorClass,
    Args: Send + 'static,
    R: Send + 'static,
    I: Clone + Send + 'static,
    N: NodeArgs<I>,
    N::Args: PendingArgs<Values = Args>,
{
    fn submit(&self, run: &mut Run<I>) -> Arg<R> {
        let actor = self.pick.actor().arg(run);
        let args = self.args.args(run);
        let pick = self.pick.clone();
        Arg::Ref(spawn_resolved(async move {
            let actor = match actor {
                Arg::Value(actor) => actor,
                Arg::Ref(r) => r.await?,
            };
            pick.pick(&actor).call_with(args).await
        }))
    }
}

/// A ref that `fut` resolves, run on helio's runtime.
pub(crate) fn spawn_resolved<R: Send + 'static>(
    fut: impl Future<Output = Result<R, ActorError>> + Send + 'static,
) -> ObjectRef<R> {
    let (result, done) = detached_pair();
    match crate::embedded::spawn_handle() {
        Ok(handle) => {
            handle.spawn(async move { done.complete(fut.await) });
        }
        // `done` drops: the ref resolves to `ActorDied(Shutdown)`.
        Err(err) => tracing::error!(%err, "no runtime to run a DAG node on"),
    }
    result
}

/// Several nodes of one DAG, run together: `execute` gives a ref for each, and a node they
/// share runs once.
///
/// ```
/// use helio::prelude::*;
///
/// #[remote]
/// fn double(x: u64) -> u64 { 2 * x }
/// #[remote]
/// fn add(a: u64, b: u64) -> u64 { a + b }
///
/// let input = InputNode::<u64>::new();
/// let both = MultiOutputNode::new((double.bind(&input), add.bind(&input, 1)));
/// let (doubled, next) = both.execute(3);
/// assert_eq!((helio::get(doubled).unwrap(), helio::get(next).unwrap()), (6, 4));
/// ```
#[derive(Clone, Debug)]
pub struct MultiOutputNode<O> {
    outputs: O,
}

impl<O> MultiOutputNode<O> {
    /// The nodes `outputs` (a tuple of `DagNode`s with the same input), run together.
    pub fn new(outputs: O) -> Self {
        MultiOutputNode { outputs }
    }
}

/// A tuple of nodes with one input: what [`MultiOutputNode`] runs.
#[doc(hidden)]
pub trait Outputs<I> {
    /// A ref for each node.
    type Refs;
    /// Submits every node in `run`.
    fn refs(&self, run: &mut Run<I>) -> Self::Refs;
}

impl<O> MultiOutputNode<O> {
    /// Runs the nodes on `input` (a value, or the `ObjectRef` of one); returns a ref for
    /// each, at once.
    pub fn execute<I: Clone + Send + 'static>(&self, input: impl IntoArg<I>) -> O::Refs
    where
        O: Outputs<I>,
    {
        let mut run = Run {
            input: input_ref(input),
            refs: HashMap::new(),
        };
        self.outputs.refs(&mut run)
    }
}

/// A DAG's input as the ref its input nodes read: a value, ready; a ref, as it is.
fn input_ref<I>(input: impl IntoArg<I>) -> ObjectRef<I> {
    match input.into_arg() {
        Arg::Value(value) => ObjectRef::ready(Ok(value)),
        Arg::Ref(r) => r,
    }
}
