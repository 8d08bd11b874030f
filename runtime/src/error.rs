//! Errors reported by calls, lookups and the runtime itself.

use std::{borrow::Cow, fmt, time::Duration};

use crate::label::ActorLabel;

/// Why an actor stopped serving calls.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeathCause {
    /// The constructor returned an error or panicked.
    InitFailed(String),
    /// A method panicked (the actor crashed); the text is the panic message.
    Panicked(String),
    /// The options given at creation were invalid.
    InvalidOptions(String),
    /// Another actor already holds the requested `(namespace, name)`.
    NameTaken {
        /// The namespace of the name.
        namespace: String,
        /// The name that is taken.
        name: String,
    },
    /// Killed with `helio::kill` (for good, or with no restarts left).
    Killed,
    /// The helio runtime was shut down.
    Shutdown,
    /// Cluster mode: the node that hosted it died (its id, in hex), and it cannot run
    /// elsewhere: it was not detached, or had no restarts left.
    NodeDied(String),
    /// Cluster mode: its node was cut off from the cluster (no word from the NATS server for
    /// two thirds of `node_timeout`), so it stopped there, to never run twice. Once the node
    /// is back, the actor starts again there, unless another node restarted it meanwhile:
    /// look it up again with `get_actor`.
    Fenced,
    /// It asks for more of a resource (`num_cpus`, `num_gpus` or a custom one) than its node
    /// (or, placed with `Placement::Any`, any node) has in all, or waited longer than its
    /// `resource_timeout` for them to be free; the text says which.
    Unschedulable(String),
    /// A broken invariant inside helio: a bug to report.
    Internal(&'static str),
}

impl fmt::Display for DeathCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeathCause::InitFailed(message) => write!(f, "its constructor failed: {message}"),
            DeathCause::Panicked(message) => write!(f, "a method panicked: {message}"),
            DeathCause::Internal(what) => {
                write!(f, "internal error in helio (please report it): {what}")
            }
            DeathCause::InvalidOptions(message) => write!(f, "invalid actor options: {message}"),
            DeathCause::NameTaken { namespace, name } => write!(
                f,
                "the name \"{namespace}/{name}\" is taken by another actor \
                 (use `get_if_exists(true)` to reuse it)"
            ),
            DeathCause::Unschedulable(message) => {
                write!(f, "it cannot get its resources: {message}")
            }
            DeathCause::Killed => f.write_str("it was killed"),
            DeathCause::Shutdown => f.write_str("the helio runtime was shut down"),
            DeathCause::NodeDied(node) => write!(
                f,
                "its node {node} died, and it cannot run elsewhere (not detached, or no \
                 restarts left)"
            ),
            DeathCause::Fenced => f.write_str(
                "its node was cut off from the cluster, so it stopped there to never run \
                 twice (it starts again once the node is back, or already runs on another \
                 node: look it up again with `get_actor`)",
            ),
        }
    }
}

/// The error a call, an object ref or an actor lookup resolves to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// The actor could not run the call: it is dead, or died while the call was running, or
    /// never started (its name was taken, or its options were invalid).
    #[error("{}", died_message(actor, method, cause))]
    ActorDied {
        /// The actor.
        actor: ActorLabel,
        /// The method that was called.
        method: &'static str,
        /// Why the actor died.
        cause: DeathCause,
    },
    /// The method panicked. The call is not retried; the actor restarts if it may.
    #[error("{} panicked: {message}", subject(actor, method))]
    TaskPanicked {
        /// The actor.
        actor: ActorLabel,
        /// The method that panicked.
        method: &'static str,
        /// The panic message.
        message: String,
    },
    /// The call was cancelled before it returned.
    #[error("{} was cancelled", subject(actor, method))]
    Cancelled {
        /// The actor.
        actor: ActorLabel,
        /// The method that was called.
        method: &'static str,
    },
    /// The handle already had `max_pending_calls` calls in flight.
    #[error(
        "`{method}` of actor {actor} was rejected: this handle already has {limit} pending \
         calls (max_pending_calls = {limit})"
    )]
    PendingCallsLimitExceeded {
        /// The actor.
        actor: ActorLabel,
        /// The method that was called.
        method: &'static str,
        /// The handle's limit.
        limit: usize,
    },
    /// A bounded `get` ran out of time.
    #[error("no result within {timeout:?}")]
    GetTimeout {
        /// The bound that elapsed.
        timeout: Duration,
    },
    /// The ref's result was already taken: an awaited [`ObjectRef`](crate::ObjectRef) polled
    /// again after it returned its result.
    #[error("this object ref's result was already taken by an earlier `get` or `.await`")]
    AlreadyConsumed,
    /// A sync method blocked on a call to its own actor, which can only start after the method
    /// returns: waiting would never end.
    #[error(
        "a sync method of actor {actor} blocked on its own actor's `{method}`, which cannot run \
         until that method returns; make the method `async` and `.await` the call, or send it \
         without waiting"
    )]
    SelfDeadlock {
        /// The actor.
        actor: ActorLabel,
        /// The method that was waited for.
        method: &'static str,
    },
    /// The actor's constructor failed (reported by [`Actor::ready`](crate::Actor::ready)).
    #[error("actor {actor} failed to start: {message}")]
    InitFailed {
        /// The actor.
        actor: ActorLabel,
        /// What the constructor reported.
        message: String,
    },
    /// Cluster mode: the actor could not be reached (its host process is gone, or has not
    /// started serving it). Transient: the same call may succeed later.
    #[error("actor {actor} is unavailable for `{method}`: {message}")]
    ActorUnavailable {
        /// The actor.
        actor: ActorLabel,
        /// The method that was called.
        method: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Cluster mode: the value of an `ObjectRef` lives in another process, its owner, which
    /// died (or left the cluster) before this process read it.
    #[error(
        "the value of an ObjectRef cannot be read: its owner, node {owner}, died or left the \
         cluster before this process read it (keep the owner alive until its readers are done)"
    )]
    OwnerDied {
        /// The node that owned the value.
        owner: String,
    },
    /// Cluster mode: a call, its arguments or its result could not cross processes.
    #[error("a call could not cross processes: {message}")]
    Wire {
        /// What went wrong.
        message: String,
    },
    /// The task or actor asks for more of a resource (`num_cpus`, `num_gpus` or a custom one)
    /// than any node has in all: it can never run, so it fails at once instead of waiting.
    #[error(
        "{} can never run: it {shortfall}; ask for less, or add a node that has it",
        subject(actor, method)
    )]
    Unschedulable {
        /// The task or actor.
        actor: ActorLabel,
        /// The task's fn or the method called.
        method: &'static str,
        /// What is missing, e.g. `needs 2 GPU, the node has none`.
        shortfall: String,
    },
    /// The call names a concurrency group the actor does not have (reported at `.remote(..)`).
    #[error(
        "`{method}` of actor {actor} asks for concurrency group \"{group}\", which the actor \
         does not declare (declared: {declared})"
    )]
    UnknownConcurrencyGroup {
        /// The actor.
        actor: ActorLabel,
        /// The method that was called.
        method: &'static str,
        /// The group asked for.
        group: String,
        /// The groups the actor has, comma-separated.
        declared: String,
    },
}

/// What an error is about: `` `add` of actor `Counter` ``, or `` task `double` ``.
fn subject(actor: &ActorLabel, method: &str) -> String {
    if actor.is_task() {
        actor.to_string()
    } else {
        format!("`{method}` of actor {actor}")
    }
}

/// `ActorDied`'s message: an actor that never started says so, rather than "died".
fn died_message(actor: &ActorLabel, method: &str, cause: &DeathCause) -> String {
    if actor.is_task() {
        return match cause {
            DeathCause::InvalidOptions(message) => {
                format!("{actor} was never started: its options are invalid: {message}")
            }
            DeathCause::Shutdown => {
                format!("{actor} did not finish: the helio runtime was shut down")
            }
            DeathCause::NodeDied(node) => format!(
                "{actor} did not finish: its node {node} died while it ran, and it has no \
                 retries left (`max_retries`)"
            ),
            other => format!("{actor} did not finish: {other}"),
        };
    }
    match cause {
        DeathCause::NameTaken { .. }
        | DeathCause::InvalidOptions(_)
        | DeathCause::Unschedulable(_) => {
            format!("actor {actor} was never started, so `{method}` cannot run: {cause}")
        }
        _ => format!("actor {actor} died before `{method}` returned: {cause}"),
    }
}

/// Why a named actor could not be looked up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No live actor has this name.
    #[error("no actor is named \"{namespace}/{name}\"")]
    NotFound {
        /// The namespace searched.
        namespace: String,
        /// The name searched.
        name: String,
    },
    /// The actor of this name has another type.
    #[error("the actor named \"{namespace}/{name}\" is a `{actual}`, not a `{expected}`")]
    WrongType {
        /// The namespace searched.
        namespace: String,
        /// The name searched.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The actor's type (across processes, as its host process names it).
        actual: Cow<'static, str>,
    },
    /// Cluster mode: the actor's type is not registered in this process, so its calls cannot
    /// be encoded.
    #[error(
        "the actor named \"{namespace}/{name}\" lives in another process; call \
         `helio::register::<{type_name}>()` in this process to call it from here"
    )]
    NotRegistered {
        /// The namespace searched.
        namespace: String,
        /// The name searched.
        name: String,
        /// The type asked for.
        type_name: &'static str,
    },
    /// Cluster mode: the cluster's registry could not be read.
    #[error("the cluster registry could not be read: {0}")]
    Cluster(String),
}

/// An error starting or configuring the embedded runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// `helio::init` was called while the runtime was already running.
    #[error("the helio runtime is already running; call `helio::init` before any other helio call")]
    AlreadyRunning,
    /// The configuration is invalid.
    #[error("invalid helio configuration: {0}")]
    InvalidConfig(String),
    /// Cluster mode: the cluster could not be joined.
    #[error("could not join the helio cluster at {url}: {message}")]
    Cluster {
        /// The NATS server's url, as configured.
        url: String,
        /// What went wrong (unreachable, credentials refused, no JetStream, ...).
        message: String,
    },
    /// The operating system refused to start the runtime's threads.
    #[error("could not start the helio runtime: {0}")]
    Io(#[from] std::io::Error),
}
