//! `RayChannelActor<T>`: a channel's buffer, held by one actor.
//!
//! The buffer and its rules live in a [`State`] that the actor keeps across restarts; every
//! method is a thin call into it, so the senders and receivers in the actor's own process can
//! use the same state directly (see `route.rs`). As it starts, the actor runs the hooks it is
//! given (`seam.rs`): how the cluster part, when built in, adds to every channel.

use std::{sync::Arc, time::Duration};

use helio::prelude::*;

use crate::{
    seam::Hosted,
    state::{Dead, Liveness, Outcome, State, Turn},
    types::{BatchResult, ChannelStats, ReaderInfo, SingleResult, Status, Validator},
};

/// What a channel can carry: owned, cloneable (a call may be re-run after a restart) and
/// sendable.
pub trait Message: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> Message for T {}

/// The actor behind a channel: a bounded or unbounded FIFO buffer with registered senders and
/// receivers.
///
/// Closing: when the last registered sender deregisters, puts return `Closed` at once and gets
/// return `Closed` once the channel is drained (those already waiting too); when the last
/// registered receiver deregisters, puts (and those already waiting) return `Closed`. Closing
/// is final.
pub struct RayChannelActor<T> {
    /// Kept across restarts (`helio::keep_across_restarts`): a crash loses no item and no
    /// registration.
    state: Arc<State<T>>,
    /// Kept too, and by no one else: the runtime drops it when the actor is killed for good or
    /// dies, which marks the state dead. Held here only when nothing keeps it (the constructor
    /// ran outside an actor), so that the state lives as long as this value.
    _liveness: Option<Arc<Liveness<T>>>,
}

#[actor(
    max_restarts = 4,
    max_task_retries = -1,
    max_concurrency = 1000,
    concurrency_groups = { waiting = 4_294_967_295 }
)]
impl<T: Message> RayChannelActor<T> {
    /// A channel holding at most `capacity` items, or any number when `unbounded`. Items must
    /// pass `validator`, if given.
    ///
    /// # Errors
    /// A bounded channel without a capacity of at least 1.
    pub fn new(
        capacity: Option<usize>,
        unbounded: bool,
        validator: Option<Validator<T>>,
    ) -> Result<Self, String> {
        let capacity = match (unbounded, capacity) {
            (true, _) => None,
            (false, Some(n)) if n >= 1 => Some(n),
            (false, _) => {
                return Err("a bounded channel needs a capacity of at least 1 \
                            (or `unbounded = true`)"
                    .to_owned());
            }
        };
        let state = helio::keep_across_restarts(|| {
            let state = State::new(capacity, validator);
            if helio::was_current_actor_reconstructed() {
                // Restarted on another node after its own died: the buffer and the
                // registrations died with it. Closed on both sides, so that no handle waits
                // for senders that can no longer close it.
                state.close_after_loss();
            }
            state
        });
        let liveness = helio::keep_across_restarts(|| Liveness(Arc::clone(&state)));
        let kept_nowhere = Arc::strong_count(&liveness) == 1;
        run_on_start(&state);
        Ok(RayChannelActor {
            state,
            _liveness: kept_nowhere.then_some(liveness),
        })
    }

    /// Registers a sender. `Closed` once the senders have closed.
    #[remote_method]
    pub fn register_sender(&self) -> Status {
        self.state.register_sender()
    }

    /// Deregisters a sender; the last one closes the channel for gets once it is drained.
    /// `Closed` when no sender is registered.
    #[remote_method]
    pub fn deregister_sender(&self) -> Status {
        self.state.deregister_sender()
    }

    /// Registers a sender in the process of node `node_id` (another process of a cluster):
    /// should that node be found dead, its registrations go with it, as if its senders had
    /// deregistered. `Closed` once the senders have closed.
    #[remote_method]
    pub fn register_sender_on(&self, node_id: String) -> Status {
        self.state.register_sender_on(node_id)
    }

    /// Deregisters a sender that [`register_sender_on`](Self::register_sender_on) registered.
    /// `Closed` when no sender of `node_id` is registered.
    #[remote_method]
    pub fn deregister_sender_on(&self, node_id: String) -> Status {
        self.state.deregister_sender_on(&node_id)
    }

    /// Registers (or re-registers) the receiver `reader_id` running on `node_id`. `Closed`
    /// once the receivers have closed.
    #[remote_method]
    pub fn register_receiver(&self, reader_id: String, node_id: String) -> Status {
        self.state.register_receiver(reader_id, node_id)
    }

    /// Deregisters a receiver; the last one closes the channel for puts. `Empty` when
    /// `reader_id` is not registered.
    #[remote_method]
    pub fn deregister_receiver(&self, reader_id: String) -> Status {
        self.state.deregister_receiver(&reader_id)
    }

    /// Puts `item`, waiting up to `timeout` (forever when `None`) for room: `Full` when none
    /// came in time.
    ///
    /// Waiting calls run in the concurrency group `waiting`, which has no practical limit, so
    /// any number of them never keeps other calls from starting. Cancelling the call while it
    /// waits withdraws it: the item is not put.
    #[remote_method(concurrency_group = "waiting")]
    pub async fn put(&self, item: T, timeout: Option<Duration>) -> Status {
        alive(self.state.put(vec![item], timeout).await)
    }

    /// Puts `item` if there is room now, else `Full`.
    #[remote_method]
    pub fn put_nowait(&self, item: T) -> Status {
        alive(self.state.put_now(vec![item]))
    }

    /// Puts all of `items` or none, waiting up to `timeout` for room for all of them. A batch
    /// larger than the capacity is `Full` at once; a rejected item makes it `TypeError`.
    /// Waits as [`put`](Self::put) does.
    #[remote_method(concurrency_group = "waiting")]
    pub async fn put_batch(&self, items: Vec<T>, timeout: Option<Duration>) -> Status {
        alive(self.state.put(items, timeout).await)
    }

    /// Puts all of `items` if there is room for all of them now, else none (`Full`).
    #[remote_method]
    pub fn put_nowait_batch(&self, items: Vec<T>) -> Status {
        alive(self.state.put_now(items))
    }

    /// Gets the next item, waiting up to `timeout` (forever when `None`): `Empty` when none
    /// came in time, `Closed` when the senders closed and the channel is drained.
    ///
    /// Waits as [`put`](Self::put) does; cancelling the call while it waits takes no item.
    #[remote_method(concurrency_group = "waiting")]
    pub async fn get(
        &self,
        timeout: Option<Duration>,
        reader_id: Option<String>,
    ) -> SingleResult<T> {
        single(self.state.get(1, timeout, reader_id.as_deref()).await)
    }

    /// Gets the next item if there is one now.
    #[remote_method]
    pub fn get_nowait(&self, reader_id: Option<String>) -> SingleResult<T> {
        single(self.state.take_now(1, reader_id.as_deref(), Turn::Now))
    }

    /// Waits up to `timeout` for the first item, then takes up to `max_items` without waiting.
    /// Waits as [`get`](Self::get) does.
    #[remote_method(concurrency_group = "waiting")]
    pub async fn get_batch(
        &self,
        max_items: usize,
        timeout: Option<Duration>,
        reader_id: Option<String>,
    ) -> BatchResult<T> {
        batch(
            self.state
                .get(max_items, timeout, reader_id.as_deref())
                .await,
        )
    }

    /// Puts `item` if there is room now and no put is waiting for room; else hands `item`
    /// back (`Err`), to be put with [`put`](Self::put). The fast path of `Sender::send` for
    /// a sender in another process: it never waits, and never overtakes a waiting put.
    #[remote_method]
    pub fn try_put(&self, item: T) -> Result<Status, T> {
        self.state.try_put(item).unwrap_or(Ok(Status::Closed))
    }

    /// Takes up to `max_items` if there are items now and no get is waiting for them: `Ok`
    /// with the items, `Closed` when the senders closed and the channel is drained, else
    /// `Empty` (then wait with [`get_batch`](Self::get_batch)). The fast path of
    /// `Receiver::recv` for a receiver in another process: it never waits, and never
    /// overtakes a waiting get.
    #[remote_method]
    pub fn try_get(&self, max_items: usize, reader_id: Option<String>) -> BatchResult<T> {
        batch(
            self.state
                .take_now(max_items, reader_id.as_deref(), Turn::BehindWaiters),
        )
    }

    /// Puts the items of `taken` back at the front of the queue, in order: a receive that took
    /// them was dropped before it could hand them on. The capacity may be exceeded by them for
    /// a while, as they were in the queue a moment ago. `Ok`, or `Empty` for an empty batch.
    #[remote_method]
    pub fn unget(&self, taken: BatchResult<T>) -> Status {
        self.state.unget(taken.items)
    }

    /// The channel's counters.
    #[remote_method]
    pub fn stats(&self) -> ChannelStats {
        self.state.stats()
    }

    /// The registered receivers, by reader id.
    #[remote_method]
    pub fn reader_stats(&self) -> Vec<ReaderInfo> {
        self.state.reader_stats()
    }

    /// The capacity; `None` when unbounded.
    #[remote_method]
    pub fn capacity(&self) -> Option<usize> {
        self.state.capacity()
    }

    /// Whether the senders or the receivers have closed.
    #[remote_method]
    pub fn is_closed(&self) -> bool {
        self.state.is_closed()
    }
}

/// Runs the hooks of `crate::SEAM` (see `seam.rs`) for the channel whose constructor runs now,
/// with the actor's name: with feature `cluster`, a named channel lists itself in its
/// process's directory, and the channel watches for dead nodes.
fn run_on_start<T: Message>(state: &Arc<State<T>>) {
    let hooks = crate::SEAM.on_start;
    if hooks.is_empty() {
        return;
    }
    let me = helio::current_actor::<RayChannelActor<T>>();
    let name = me.as_ref().and_then(|me| me.label().name());
    let hosted: Arc<dyn Hosted> = Arc::clone(state) as Arc<dyn Hosted>;
    for hook in hooks {
        hook(&hosted, name);
    }
}

/// The answer of a method. The state is marked dead only once the actor is dead for good,
/// after its last method ran, so a method never sees `Dead`; were it to, `Closed` is the
/// truthful answer.
fn alive(outcome: Outcome<Status>) -> Status {
    outcome.unwrap_or(Status::Closed)
}

fn batch<T>(outcome: Outcome<(Status, Vec<T>)>) -> BatchResult<T> {
    let (status, items) = outcome.unwrap_or_else(|Dead| (Status::Closed, Vec::new()));
    BatchResult { status, items }
}

fn single<T>(outcome: Outcome<(Status, Vec<T>)>) -> SingleResult<T> {
    let BatchResult { status, items } = batch(outcome);
    SingleResult {
        status,
        value: items.into_iter().next(),
    }
}
