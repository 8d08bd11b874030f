//! `Actor<A>`: the typed handle of a running actor.

use std::{
    borrow::Cow,
    fmt,
    hash::{Hash, Hasher},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
};

use futures::task::AtomicWaker;

use tokio::sync::mpsc::{UnboundedSender, error::SendError};

use crate::{
    ActorClass, ActorError, ActorState, ObjectRef,
    call::{Body, Call, Exec, Kind, Outcome},
    error::{ActorLabel, DeathCause},
    object_ref::{Completer, PendingGuard, pair},
};

/// A process-unique actor id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(u64);

impl ActorId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ActorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the handles and the dispatcher of one actor share.
pub(crate) struct ActorShared {
    pub(crate) id: ActorId,
    pub(crate) label: ActorLabel,
    pub(crate) max_pending_calls: Option<usize>,
    /// The actor's `max_task_retries`, for calls that set none of their own.
    pub(crate) max_task_retries: i64,
    /// Set to `Dead` before the mailbox closes, when the actor dies.
    state: Mutex<ActorState>,
    restarts: AtomicU32,
    /// A pending `kill`: `KILL_RESTART` or `KILL_FOR_GOOD`, the stronger one winning.
    kill: AtomicU8,
    kill_waker: AtomicWaker,
}

const KILL_RESTART: u8 = 1;
const KILL_FOR_GOOD: u8 = 2;

impl ActorShared {
    pub(crate) fn new(
        label: ActorLabel,
        max_pending_calls: Option<usize>,
        max_task_retries: i64,
        state: ActorState,
    ) -> Self {
        ActorShared {
            id: ActorId::next(),
            label,
            max_pending_calls,
            max_task_retries,
            state: Mutex::new(state),
            restarts: AtomicU32::new(0),
            kill: AtomicU8::new(0),
            kill_waker: AtomicWaker::new(),
        }
    }

    pub(crate) fn state(&self) -> ActorState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_state(&self, state: ActorState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// The cause of death, once dead.
    pub(crate) fn death(&self) -> Option<DeathCause> {
        match &*self.state.lock().unwrap_or_else(PoisonError::into_inner) {
            ActorState::Dead(cause) => Some(cause.clone()),
            _ => None,
        }
    }

    pub(crate) fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Acquire)
    }

    pub(crate) fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::AcqRel);
    }

    /// Asks the dispatcher to kill the actor: for good with `no_restart`, else as a crash.
    pub(crate) fn request_kill(&self, no_restart: bool) {
        let kind = if no_restart {
            KILL_FOR_GOOD
        } else {
            KILL_RESTART
        };
        self.kill.fetch_max(kind, Ordering::AcqRel);
        self.kill_waker.wake();
    }

    /// Takes a pending kill request, if any: `Some(true)` for a kill for good.
    pub(crate) fn take_kill(&self) -> Option<bool> {
        if self.kill.load(Ordering::Acquire) == 0 {
            return None;
        }
        match self.kill.swap(0, Ordering::AcqRel) {
            0 => None,
            kind => Some(kind == KILL_FOR_GOOD),
        }
    }

    /// Wakes `cx` on the next kill request.
    pub(crate) fn register_kill_waker(&self, cx: &std::task::Context<'_>) {
        self.kill_waker.register(cx.waker());
    }
}

/// Owned by the handles; the mailbox closes when the last one goes.
pub(crate) struct ActorCell<A> {
    pub(crate) mailbox: UnboundedSender<Call<A>>,
    pub(crate) shared: Arc<ActorShared>,
}

/// A typed handle to a running actor: `actor.methods().some_method().remote(args)`.
///
/// Cheap to clone; equal, ordered and hashed by actor id. Each clone is a separate handle for
/// `max_pending_calls`. An anonymous actor stops once every handle is dropped and its queued
/// calls are done.
pub struct Actor<A> {
    cell: Arc<ActorCell<A>>,
    /// This handle's count of calls in flight, when the actor has `max_pending_calls`.
    pending: Option<Arc<AtomicUsize>>,
}

impl<A: ActorClass> Actor<A> {
    pub(crate) fn from_cell(cell: Arc<ActorCell<A>>) -> Self {
        let pending = cell
            .shared
            .max_pending_calls
            .map(|_| Arc::new(AtomicUsize::new(0)));
        Actor { cell, pending }
    }

    /// The actor's remote methods: `actor.methods().add().remote(1)`.
    pub fn methods(&self) -> A::Methods<'_> {
        A::methods(self)
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.shared.id
    }

    /// Where the actor is in its life: pending, alive, restarting or dead (with the cause).
    pub fn state(&self) -> ActorState {
        self.cell.shared.state()
    }

    /// How often the actor has restarted so far.
    pub fn restarts(&self) -> u32 {
        self.cell.shared.restarts()
    }

    /// Kills the actor, like Ray's `ray.kill`: see [`crate::kill`].
    pub(crate) fn kill(&self, no_restart: bool) {
        self.cell.shared.request_kill(no_restart);
    }

    /// The actor's type and name, as errors show them.
    pub fn label(&self) -> &ActorLabel {
        &self.cell.shared.label
    }

    /// Resolves once the actor's constructor has run (after the calls queued before it).
    ///
    /// # Errors
    /// [`ActorError::InitFailed`] when the constructor failed; `ActorDied` when the actor died
    /// for another reason.
    pub fn ready(&self) -> ObjectRef<()> {
        self.submit("ready", None, |done| {
            Body(
                Kind::SyncRef(Box::new(move |exec: Exec<&A>| match exec {
                    Exec::Run(_) => {
                        done.complete(Ok(()));
                        Outcome::Returned
                    }
                    Exec::Fail(ActorError::ActorDied {
                        actor,
                        cause: DeathCause::InitFailed(message),
                        ..
                    }) => {
                        done.complete(Err(ActorError::InitFailed { actor, message }));
                        Outcome::NotRun
                    }
                    Exec::Fail(err) => {
                        done.complete(Err(err));
                        Outcome::NotRun
                    }
                })),
                None,
            )
        })
    }

    /// The actor's `max_task_retries`.
    pub(crate) fn max_task_retries(&self) -> i64 {
        self.cell.shared.max_task_retries
    }

    /// Sends one call. `make` builds its body around the result's completer.
    pub(crate) fn submit<R>(
        &self,
        method: &'static str,
        group: Option<Cow<'static, str>>,
        make: impl FnOnce(Completer<R>) -> Body<A>,
    ) -> ObjectRef<R> {
        match self.prepare(method) {
            Ok((result, done)) => {
                self.send(method, group, make(done));
                result
            }
            Err(rejected) => rejected,
        }
    }

    /// The result ref and completer of a new call, counted against this handle's
    /// `max_pending_calls`; `Err` with the resolved rejection when the limit is reached.
    pub(crate) fn prepare<R>(
        &self,
        method: &'static str,
    ) -> Result<(ObjectRef<R>, Completer<R>), ObjectRef<R>> {
        let shared = &self.cell.shared;
        let pending = match (&self.pending, shared.max_pending_calls) {
            (Some(counter), Some(limit)) => match PendingGuard::acquire(counter, limit) {
                Some(guard) => Some(guard),
                None => {
                    return Err(ObjectRef::ready(Err(
                        ActorError::PendingCallsLimitExceeded {
                            actor: shared.label.clone(),
                            method,
                            limit,
                        },
                    )));
                }
            },
            _ => None,
        };
        Ok(pair(shared.label.clone(), method, pending))
    }

    /// Puts a prepared call in the mailbox.
    pub(crate) fn send(
        &self,
        method: &'static str,
        group: Option<Cow<'static, str>>,
        body: Body<A>,
    ) {
        let call = Call {
            method,
            group,
            body,
        };
        if let Err(SendError(call)) = self.cell.mailbox.send(call) {
            let shared = &self.cell.shared;
            let cause = shared.death().unwrap_or(DeathCause::Shutdown);
            call.fail_died(&shared.label, cause);
        }
    }
}

impl<A> Clone for Actor<A> {
    fn clone(&self) -> Self {
        Actor {
            cell: Arc::clone(&self.cell),
            pending: self.pending.as_ref().map(|_| Arc::new(AtomicUsize::new(0))),
        }
    }
}

impl<A> fmt::Debug for Actor<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.cell.shared;
        write!(f, "Actor({} {})", shared.label, shared.id)
    }
}

impl<A> PartialEq for Actor<A> {
    fn eq(&self, other: &Self) -> bool {
        self.cell.shared.id == other.cell.shared.id
    }
}

impl<A> Eq for Actor<A> {}

impl<A> Hash for Actor<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.cell.shared.id.hash(state);
    }
}
