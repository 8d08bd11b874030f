//! How an actor is named in handles and errors: its process-unique id and its label.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// A process-unique actor id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(u64);

impl ActorId {
    pub(crate) fn next() -> Self {
        // Once per actor, not per call.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ActorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Names an actor in error messages: its type and, for a named actor, its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActorLabel {
    type_name: &'static str,
    name: Option<Arc<str>>,
}

impl ActorLabel {
    pub(crate) fn new(type_name: &'static str, name: Option<(&str, &str)>) -> Self {
        let name = name.map(|(namespace, name)| Arc::from(format!("{namespace}/{name}")));
        ActorLabel { type_name, name }
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
        match &self.name {
            Some(name) => write!(f, "`{}` (named \"{name}\")", self.type_name),
            None => write!(f, "`{}`", self.type_name),
        }
    }
}
