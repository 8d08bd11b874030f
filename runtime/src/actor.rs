//! `Actor<A>`: the typed handle of a running actor.

use std::{
    any::Any,
    fmt,
    hash::{Hash, Hasher},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering},
    },
};

use futures::task::AtomicWaker;
use tokio::sync::Notify;

use crate::{
    ActorClass, ActorError, ObjectRef,
    call::{Body, Call, Kind},
    error::DeathCause,
    exec::{Exec, Outcome},
    handle_order::HandleOrder,
    label::{ActorId, ActorLabel},
    mailbox::Mailbox,
    object_ref::{Completer, Fresh, Origin, Resolver, pair},
    options::DEFAULT_GROUP,
    pending::PendingGuard,
    state::ActorState,
    sync_call::RefBody,
};

/// What the handles and the driver of one actor share.
///
/// Laid out in field order from a cache line's start: the first three fields, which every
/// call a handle makes reads, fill that line (64 bytes), so a call to an actor whose handle is
/// not in the caller's cache costs one miss here, not one per field.
#[repr(C, align(64))]
pub struct ActorShared {
    /// Its type and name.
    pub label: ActorLabel,
    /// Its id.
    pub id: ActorId,
    /// The actor's `max_task_retries`, for calls that set none of their own.
    pub max_task_retries: i64,
    /// Read only by handles that count their calls (`pending` is `Some`).
    pub max_pending_calls: Option<usize>,
    /// The declared concurrency groups: group `i + 1` (0 is the default group).
    groups: Box<[String]>,
    /// Set to `Dead` before the mailbox closes, when the actor dies.
    state: Mutex<ActorState>,
    restarts: AtomicU32,
    /// A pending kill (`Kill` as a number), the strongest one winning.
    kill: AtomicU8,
    /// A method panicked and its caller may know already, but the driver has not yet put
    /// the crash in `state` and `restarts`: handles wait for it before they read them.
    crashing: AtomicBool,
    kill_waker: AtomicWaker,
    /// Notified at every crash and at death, for streams that must end with their actor.
    changed: Notify,
    /// Values the constructor keeps across restarts (`keep_across_restarts`), one per type.
    /// Boxed, and only once there is one: most actors keep nothing, and the struct stays within
    /// four cache lines.
    kept: Mutex<Option<Box<Kept>>>,
    /// How a handle to an actor hosted by another process reaches it (cluster mode).
    link: Option<Arc<dyn crate::seam::remote::RemoteActor>>,
}

impl crate::unwind::HearsPanics for ActorShared {
    /// Its caller learns it now, before the driver handles the crash: handles wait for that.
    fn method_panicked(&self) {
        self.crashing.store(true, Ordering::Release);
    }
}

/// The values an actor keeps across restarts, one per type.
type Kept = Vec<Arc<dyn Any + Send + Sync>>;

/// What a kill request asks for, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kill {
    /// A crash: restart while `max_restarts` allows.
    Crash = 1,
    /// Dead for good, with cause `Killed`.
    ForGood = 2,
    /// Dead for good, with cause `Fenced`: its node is cut off from the cluster.
    Fenced = 3,
    /// Dead for good, with cause `Shutdown`.
    Shutdown = 4,
}

impl ActorShared {
    pub(crate) fn new(
        id: ActorId,
        label: ActorLabel,
        max_pending_calls: Option<usize>,
        max_task_retries: i64,
        groups: Box<[String]>,
        state: ActorState,
    ) -> Self {
        ActorShared {
            id,
            label,
            max_pending_calls,
            max_task_retries,
            groups,
            state: Mutex::new(state),
            restarts: AtomicU32::new(0),
            kill: AtomicU8::new(0),
            crashing: AtomicBool::new(false),
            kill_waker: AtomicWaker::new(),
            changed: Notify::new(),
            kept: Mutex::new(None),
            link: None,
        }
    }

    /// Where the actor is in its life.
    pub fn state(&self) -> ActorState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the state; a dead actor stays dead.
    pub fn set_state(&self, state: ActorState) {
        let mut current = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*current, ActorState::Dead(_)) {
            *current = state;
        }
        drop(current);
        self.changed.notify_waiters();
    }

    /// The cause of death, once dead.
    pub fn death(&self) -> Option<DeathCause> {
        match &*self.state.lock().unwrap_or_else(PoisonError::into_inner) {
            ActorState::Dead(cause) => Some(cause.clone()),
            _ => None,
        }
    }

    /// How often it restarted so far.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Acquire)
    }

    /// Sets the restart count (an actor restarted on another node keeps its count).
    pub fn set_restarts(&self, n: u32) {
        self.restarts.store(n, Ordering::Release);
    }

    pub(crate) fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::AcqRel);
    }

    /// The driver put the crash in the state (restarting, or dead).
    pub(crate) fn crash_handled(&self) {
        self.crashing.store(false, Ordering::Release);
    }

    /// Waits, at most a second, while a crash a caller may know of is not in the state yet:
    /// the driver handles it right after the panicking call resolves, on another thread.
    fn settled(&self) -> &Self {
        if self.crashing.load(Ordering::Acquire) {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while self.crashing.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        self
    }

    /// The index of the concurrency group a call asks for (`None`: the method's default).
    ///
    /// # Errors
    /// `UnknownConcurrencyGroup` when the actor declares no such group.
    #[inline]
    pub(crate) fn group_index(
        &self,
        method: &'static str,
        group: Option<&str>,
    ) -> Result<usize, ActorError> {
        match group {
            None => Ok(0),
            Some(name) => self.named_group_index(method, name),
        }
    }

    fn named_group_index(&self, method: &'static str, name: &str) -> Result<usize, ActorError> {
        if name == DEFAULT_GROUP {
            return Ok(0);
        }
        match self.groups.iter().position(|g| g == name) {
            Some(index) => Ok(index + 1),
            None => {
                let declared = std::iter::once(DEFAULT_GROUP)
                    .chain(self.groups.iter().map(String::as_str))
                    .collect::<Vec<_>>();
                Err(ActorError::UnknownConcurrencyGroup {
                    actor: self.label.clone(),
                    method,
                    group: name.to_owned(),
                    declared: declared.join(", "),
                })
            }
        }
    }

    /// The value of type `T` kept across this actor's restarts, made by `init` the first time.
    pub(crate) fn kept<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = kept.get_or_insert_with(Box::default);
        if let Some(value) = kept.iter().find_map(|v| Arc::clone(v).downcast::<T>().ok()) {
            return value;
        }
        let value = Arc::new(init());
        kept.push(Arc::clone(&value) as Arc<dyn Any + Send + Sync>);
        value
    }

    /// The value of type `T` this actor keeps across restarts, if its constructor made one.
    pub(crate) fn find_kept<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.as_deref()?
            .iter()
            .find_map(|v| Arc::clone(v).downcast::<T>().ok())
    }

    /// Lets go of the kept values: the actor is dead for good.
    pub(crate) fn take_kept(&self) -> Kept {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        kept.map(|kept| *kept).unwrap_or_default()
    }

    /// Notified at every crash and at death.
    pub fn changed(&self) -> &Notify {
        &self.changed
    }

    /// Asks the driver to kill the actor.
    pub fn request_kill(&self, kill: Kill) {
        self.kill.fetch_max(kill as u8, Ordering::AcqRel);
        self.kill_waker.wake();
        if kill >= Kill::ForGood {
            // Dead for good from now on: whoever else holds a kept value learns it at once
            // from the value's `Drop`, not only when the driver gets to the kill.
            crate::unwind::drop_quietly(self.take_kept());
        }
    }

    /// Takes a pending kill request, if any.
    pub(crate) fn take_kill(&self) -> Option<Kill> {
        if self.kill.load(Ordering::Acquire) == 0 {
            return None;
        }
        match self.kill.swap(0, Ordering::AcqRel) {
            0 => None,
            1 => Some(Kill::Crash),
            2 => Some(Kill::ForGood),
            3 => Some(Kill::Fenced),
            _ => Some(Kill::Shutdown),
        }
    }

    /// Wakes `cx` on the next kill request.
    pub(crate) fn register_kill_waker(&self, cx: &std::task::Context<'_>) {
        self.kill_waker.register(cx.waker());
    }
}

/// Owned by the handles; the mailbox learns that no more calls come when the last one goes.
pub struct ActorCell<A> {
    pub(crate) mailbox: Arc<Mailbox<Call<A>>>,
    pub(crate) shared: Arc<ActorShared>,
}

impl<A> ActorCell<A> {
    /// What the actor's handles and driver share.
    pub fn shared(&self) -> &Arc<ActorShared> {
        &self.shared
    }
}

impl<A> Drop for ActorCell<A> {
    fn drop(&mut self) {
        self.mailbox.senders_gone();
    }
}

/// A typed handle to a running actor: `actor.methods().some_method().remote(args)`.
///
/// Cheap to clone; equal and hashed by actor id, so handles to one actor are equal (it is not
/// `Ord`: sort by [`id`](Actor::id) where an order is needed). Each clone is a separate handle
/// for `max_pending_calls`. An anonymous actor stops once every handle is dropped and its
/// queued calls are done.
pub struct Actor<A> {
    cell: Arc<ActorCell<A>>,
    /// This handle's count of calls in flight, when the actor has `max_pending_calls`.
    pending: Option<Arc<AtomicUsize>>,
    /// This handle's calls that wait for ref arguments, to keep submission order.
    order: HandleOrder,
}

impl<A: ActorClass> Actor<A> {
    pub(crate) fn from_cell(cell: Arc<ActorCell<A>>) -> Self {
        let pending = cell
            .shared
            .max_pending_calls
            .map(|_| Arc::new(AtomicUsize::new(0)));
        Actor {
            cell,
            pending,
            order: HandleOrder::default(),
        }
    }

    /// A handle to the actor `id`, hosted by another process of the cluster.
    pub(crate) fn remote(
        label: ActorLabel,
        id: ActorId,
        max_pending_calls: Option<usize>,
        max_task_retries: i64,
        link: Arc<dyn crate::seam::remote::RemoteActor>,
    ) -> Self {
        let mailbox = Arc::new(Mailbox::new());
        drop(mailbox.close());
        let mut shared = ActorShared::new(
            id,
            label,
            max_pending_calls,
            max_task_retries,
            Box::default(),
            ActorState::Alive,
        );
        shared.link = Some(link);
        Actor::from_cell(Arc::new(ActorCell {
            mailbox,
            shared: Arc::new(shared),
        }))
    }

    /// The handles' shared cell.
    pub(crate) fn cell(&self) -> &Arc<ActorCell<A>> {
        &self.cell
    }

    /// How to reach the actor when another process hosts it.
    pub(crate) fn link(&self) -> Option<&Arc<dyn crate::seam::remote::RemoteActor>> {
        self.cell.shared.link.as_ref()
    }

    /// The actor's remote methods: `actor.methods().add().remote(1)`.
    pub fn methods(&self) -> A::Methods<'_, Self> {
        A::methods(self)
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.shared.id
    }

    /// Where the actor is in its life: pending, alive, restarting or dead (with the cause).
    ///
    /// Once a call has resolved to `TaskPanicked`, this and [`restarts`](Actor::restarts)
    /// show the crash: the restart counted and `Restarting` (or `Alive` again), or `Dead`.
    ///
    /// Cluster mode: for an actor hosted elsewhere, this asks its host (blocking for at most
    /// 5 s). When the host does not answer, the cluster's record of the actor does (at most
    /// 5 s more): `Dead` with its cause once the actor died for good (killed, out of
    /// restarts, or with its node), else `Unreachable`.
    pub fn state(&self) -> ActorState {
        if let Some(link) = self.link() {
            return link.state().0;
        }
        self.cell.shared.settled().state()
    }

    /// How often the actor has restarted so far.
    ///
    /// Cluster mode: for an actor hosted elsewhere, this asks its host (blocking for at most
    /// 5 s), else the cluster's record of the actor, as [`state`](Actor::state) does.
    pub fn restarts(&self) -> u32 {
        if let Some(link) = self.link() {
            return link.state().1;
        }
        self.cell.shared.settled().restarts()
    }

    /// Kills the actor, like Ray's `ray.kill`: see [`crate::kill`].
    pub(crate) fn kill(&self, no_restart: bool) {
        if let Some(link) = self.link() {
            link.kill(no_restart);
            return;
        }
        let kill = if no_restart {
            Kill::ForGood
        } else {
            Kill::Crash
        };
        self.cell.shared.request_kill(kill);
    }

    /// The shared part of the actor, for streams that watch its life.
    pub(crate) fn shared(&self) -> &Arc<ActorShared> {
        &self.cell.shared
    }

    /// This handle's submission order.
    pub(crate) fn order(&self) -> &HandleOrder {
        &self.order
    }

    /// The value of type `V` that the actor keeps across restarts
    /// ([`keep_across_restarts`](crate::keep_across_restarts)), for code in the actor's own
    /// process that reads or updates that state without a call: a co-located fast path, as
    /// `helio-channel`'s senders and receivers use one.
    ///
    /// `None` when the actor runs in another process, when its constructor has not kept a `V`
    /// (yet: it runs after `.remote(..)` returns), and once the actor is killed for good or
    /// dead, when the runtime lets go of its kept values. A value obtained before stays
    /// usable, but the actor no longer serves it: to learn of the death, keep a second value,
    /// held by no one else, whose `Drop` tells you (the runtime drops its reference to each
    /// kept value at `kill(&a, true)`, at `shutdown`, and when the actor dies otherwise).
    ///
    /// State reached this way is shared with the actor's methods, which may run at the same
    /// time: keep it behind a lock or atomics, as any `&self` method would.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
    /// use helio::prelude::*;
    ///
    /// pub struct Hits { count: Arc<AtomicU64> }
    ///
    /// #[actor]
    /// impl Hits {
    ///     pub fn new() -> Self {
    ///         Hits { count: helio::keep_across_restarts(|| AtomicU64::new(0)) }
    ///     }
    ///
    ///     #[remote_method]
    ///     pub fn hit(&self) -> u64 { self.count.fetch_add(1, Ordering::Relaxed) + 1 }
    /// }
    ///
    /// let hits = Hits::new_actor().remote();
    /// helio::get(hits.ready()).unwrap(); // the constructor has run
    /// let count = hits.kept::<AtomicU64>().expect("kept by the constructor");
    /// assert_eq!(helio::get(hits.methods().hit().remote()).unwrap(), 1);
    /// assert_eq!(count.load(Ordering::Relaxed), 1); // read without a call
    /// ```
    pub fn kept<V: Any + Send + Sync>(&self) -> Option<Arc<V>> {
        if self.link().is_some() {
            return None;
        }
        self.cell.shared.find_kept()
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
        if let Some(link) = self.link() {
            return match self.prepare("ready") {
                Ok((result, done)) => {
                    link.ready(self.label(), done);
                    result
                }
                Err(rejected) => rejected,
            };
        }
        self.submit("ready", None, |done| {
            let done = done.bind();
            Body(
                Kind::SyncRef(RefBody::from_fn(move |exec: Exec<&A>| match exec {
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

    /// Sends one call. `make` builds its body around the result's (fresh) completer, which
    /// hands the result's ref back.
    #[inline]
    pub(crate) fn submit<R>(
        &self,
        method: &'static str,
        group: Option<&str>,
        make: impl FnOnce(Completer<'_, R>) -> Body<A>,
    ) -> ObjectRef<R> {
        let group = match self.cell.shared.group_index(method, group) {
            Ok(group) => group,
            Err(err) => return ObjectRef::ready(Err(err)),
        };
        let pending = match self.reserve(method) {
            Ok(pending) => pending,
            Err(rejected) => return rejected,
        };
        let shared = &self.cell.shared;
        let mut out = None;
        let body = make(Completer::fresh(Fresh {
            actor: &shared.label,
            id: shared.id,
            method,
            pending,
            out: &mut out,
        }));
        self.send(method, group, body);
        // Every body writes the ref; a completer that no body took leaves it empty (a helio bug).
        out.unwrap_or_else(|| {
            ObjectRef::ready(Err(ActorError::ActorDied {
                actor: self.cell.shared.label.clone(),
                method,
                cause: DeathCause::Internal("a call's body gave no result ref"),
            }))
        })
    }

    /// The result ref and resolver of a new call, made before its body.
    pub(crate) fn prepare<R>(
        &self,
        method: &'static str,
    ) -> Result<(ObjectRef<R>, Resolver<R>), ObjectRef<R>> {
        let pending = self.reserve(method)?;
        let shared = &self.cell.shared;
        let origin = Origin {
            actor: shared.label.clone(),
            id: shared.id,
            method,
        };
        Ok(pair(origin, pending))
    }

    /// A new call's place in this handle's `max_pending_calls`; `Err` with the resolved
    /// rejection when the limit is reached.
    fn reserve<R>(&self, method: &'static str) -> Result<Option<PendingGuard>, ObjectRef<R>> {
        let Some(counter) = &self.pending else {
            return Ok(None);
        };
        let shared = &self.cell.shared;
        let pending = match shared.max_pending_calls {
            Some(limit) => match PendingGuard::acquire(counter, limit) {
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
            None => None,
        };
        Ok(pending)
    }

    /// Puts a prepared call in the mailbox.
    pub(crate) fn send(&self, method: &'static str, group: usize, body: Body<A>) {
        let call = Call {
            method,
            group,
            body,
        };
        if let Err(call) = self.cell.mailbox.push(call) {
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
            order: HandleOrder::default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_every_call_reads_fills_the_first_cache_line() {
        assert_eq!(std::mem::offset_of!(ActorShared, max_pending_calls), 64);
        assert_eq!(std::mem::align_of::<ActorShared>(), 64);
    }

    #[test]
    fn an_actors_shared_part_fits_four_cache_lines() {
        // Five would cost every actor 64 bytes more (idle actors are counted in KB).
        assert!(std::mem::size_of::<ActorShared>() <= 256);
    }
}
