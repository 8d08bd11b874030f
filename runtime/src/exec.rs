//! How the driver asks a call's body to run, and how the body ended.

use crate::error::ActorError;

/// Run the body, or fail it without running.
pub(crate) enum Exec<T> {
    Run(T),
    Fail(ActorError),
}

/// How a body ended.
pub(crate) enum Outcome {
    Returned,
    /// The method panicked; its caller already has `TaskPanicked`. The actor crashed.
    Panicked(String),
    /// The body could not run (its caller has the error); the actor is unaffected.
    NotRun,
}
