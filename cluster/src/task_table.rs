//! Registered tasks: the table `register_task` (`tasks.rs`) fills.
//!
//! A [`TaskEntry`] records how to call a registered fn from here (encode its arguments, decode
//! its result) and how to run it for another node, as functions made for that fn when it was
//! registered; its fingerprint names it on the wire.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use futures::future::BoxFuture;

use crate::{
    ActorError, TaskOptions,
    seam::{Held, WireError},
};

/// Runs a task here from its encoded arguments (on resources it holds already, when given);
/// its future gives the encoded result, and the canceller stops it when its caller cancels.
pub(crate) type RunFn = fn(TaskOptions, &[u8], Option<Held>) -> Result<Running, WireError>;

/// A task running here for another node.
pub(crate) struct Running {
    pub(crate) result: BoxFuture<'static, Result<Vec<u8>, ActorError>>,
    pub(crate) cancel: crate::seam::Canceller,
}

/// Encodes a task's boxed arguments.
pub(crate) type EncodeFn = fn(Box<dyn Any + Send>) -> Result<Vec<u8>, WireError>;

/// Decodes a task's result into a boxed value.
pub(crate) type DecodeFn = fn(&[u8]) -> Result<Box<dyn Any + Send>, WireError>;

/// A registered task: how to call it from here, and how to run it for others.
#[derive(Clone, Copy)]
pub(crate) struct TaskEntry {
    pub(crate) fingerprint: u64,
    pub(crate) encode: EncodeFn,
    pub(crate) decode: DecodeFn,
    pub(crate) run: RunFn,
}

static TASKS: Mutex<Option<HashMap<TypeId, TaskEntry>>> = Mutex::new(None);

fn tasks() -> std::sync::MutexGuard<'static, Option<HashMap<TypeId, TaskEntry>>> {
    TASKS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records `entry` as the registration of the fn `task`; `false` when it was registered
/// already.
pub(crate) fn insert(task: TypeId, entry: TaskEntry) -> bool {
    tasks()
        .get_or_insert_with(HashMap::new)
        .insert(task, entry)
        .is_none()
}

/// The registration of the fn `task`, if this process made one.
pub(crate) fn get(task: TypeId) -> Option<TaskEntry> {
    tasks().as_ref().and_then(|tasks| tasks.get(&task).copied())
}

/// Every registered task.
pub(crate) fn all() -> Vec<TaskEntry> {
    tasks()
        .as_ref()
        .map(|tasks| tasks.values().copied().collect())
        .unwrap_or_default()
}

/// The fingerprints of the tasks registered here.
pub(crate) fn registered() -> Vec<u64> {
    tasks()
        .as_ref()
        .map(|tasks| tasks.values().map(|entry| entry.fingerprint).collect())
        .unwrap_or_default()
}
