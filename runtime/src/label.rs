//! How an actor is named in handles and errors: its process-unique id and its label.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// An actor's id: unique in its process, and in cluster mode across the cluster (it names
/// the node that hosts the actor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId {
    /// The hosting node's id; 0 outside cluster mode.
    node: u64,
    local: u64,
}

/// This process's node id in cluster mode, else 0.
static NODE: AtomicU64 = AtomicU64::new(0);

/// Sets the node id new actors get (when this process joins or leaves a cluster).
pub fn set_node(node: u64) {
    NODE.store(node, Ordering::Relaxed);
}

/// This process's node id in cluster mode, else 0.
pub(crate) fn node() -> u64 {
    NODE.load(Ordering::Relaxed)
}

impl ActorId {
    /// A fresh id on this node.
    pub fn next() -> Self {
        // Once per actor, not per call.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ActorId {
            node: NODE.load(Ordering::Relaxed),
            local: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The id of actor `local` on `node`.
    pub fn of(node: u64, local: u64) -> Self {
        ActorId { node, local }
    }

    /// The node the id was made on (0 outside cluster mode).
    pub fn node(self) -> u64 {
        self.node
    }

    /// The id within its hosting process.
    pub fn local(self) -> u64 {
        self.local
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            0 => write!(f, "#{}", self.local),
            node => write!(f, "#{}@{node:016x}", self.local),
        }
    }
}

/// Names an actor in error messages: its type and, for a named actor, its name. A task's
/// errors name the task the same way ([`is_task`](ActorLabel::is_task)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActorLabel {
    type_name: &'static str,
    name: Option<Arc<str>>,
    task: bool,
}

impl ActorLabel {
    /// The label of an actor of type `type_name`, named `(namespace, name)` if it has one.
    pub fn new(type_name: &'static str, name: Option<(&str, &str)>) -> Self {
        let name = name.map(|(namespace, name)| Arc::from(format!("{namespace}/{name}")));
        ActorLabel {
            type_name,
            name,
            task: false,
        }
    }

    /// The label of the `#[remote]` fn at `path`, with the name its options gave the call.
    pub(crate) fn task(path: &'static str, name: Option<&str>) -> Self {
        ActorLabel {
            type_name: path,
            name: name.map(Arc::from),
            task: true,
        }
    }

    /// Whether this names a task (a `#[remote]` fn) rather than an actor; its
    /// [`type_name`](ActorLabel::type_name) is then the fn's path.
    ///
    /// ```
    /// // `put` refs have no origin: their errors name no actor, and no task either.
    /// let r = helio_runtime::put(1);
    /// assert!(r.cancel() == false);
    /// ```
    pub fn is_task(&self) -> bool {
        self.task
    }

    /// The Rust type of the actor, as `std::any::type_name` spells it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// `namespace/name` for a named actor.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for ActorLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.task {
            f.write_str("task ")?;
        }
        match &self.name {
            Some(name) => write!(f, "`{}` (named \"{name}\")", self.type_name),
            None => write!(f, "`{}`", self.type_name),
        }
    }
}
