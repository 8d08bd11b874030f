//! The channel's state and rules, shared by the actor's methods and, in the actor's own
//! process, by its senders and receivers (which reach it with `Actor::kept`, no call needed).
//!
//! All state is behind one mutex that is never held across an await, so a put waiting for room
//! never keeps a get from running. Waiting operations sleep on a [`Notify`] registered
//! *before* they look at the state, so no wake-up is lost, and they are counted while they
//! wait, so that the fast paths never overtake them and an operation that frees a slot or adds
//! an item only notifies when someone waits. Items are taken under the lock with no await in
//! between: a get that times out, or is dropped while waiting, never consumes an item.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use crate::{
    seam::Hosted,
    types::{ChannelStats, ReaderInfo, Status, Validator},
    wakeups::{Wakeups, wait_for},
};

/// The channel's actor is dead for good: the operation has to go through the actor, whose
/// call reports how it died.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dead;

/// What an operation on the state came to: its answer, or [`Dead`].
pub(crate) type Outcome<R> = Result<R, Dead>;

struct Buffer<T> {
    queue: VecDeque<T>,
    senders: usize,
    /// How many of `senders` each other node registered (by node id): a node found dead
    /// takes its registrations with it.
    senders_on: BTreeMap<String, usize>,
    senders_closed: bool,
    receivers: BTreeMap<String, ReaderInfo>,
    receivers_closed: bool,
    high_watermark: usize,
    total_sent: u64,
    total_received: u64,
    created_at: SystemTime,
    /// Puts and gets suspended while they wait: the fast paths never overtake them, and only
    /// they need a notification.
    waiting_puts: usize,
    waiting_gets: usize,
    /// The actor died for good: direct users go back to calls, which report the death.
    dead: bool,
}

impl<T> Buffer<T> {
    /// Puts are refused once either side has closed: no sender is left to put (the original
    /// actor checks `senders_closed` first), or no receiver is left to get.
    fn closed_for_puts(&self) -> bool {
        self.senders_closed || self.receivers_closed
    }
}

/// Whether an operation that does not wait may go ahead of those waiting for room (or items).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The fast paths (`try_put`, `try_get`): only with what is left after one slot (or item)
    /// for each waiting put (or get), so they never take what a waiter is owed.
    BehindWaiters,
    /// Waiting operations themselves, and the `*_nowait` methods (Ray's semantics).
    Now,
}

/// A channel's buffer, registrations and counters, and the rules of putting and getting.
pub(crate) struct State<T> {
    buffer: Mutex<Buffer<T>>,
    /// Items arrived, or the senders closed.
    items: Wakeups,
    /// Room was freed, or the receivers closed.
    room: Wakeups,
    capacity: Option<usize>,
    validator: Option<Validator<T>>,
}

impl<T> State<T> {
    pub(crate) fn new(capacity: Option<usize>, validator: Option<Validator<T>>) -> Self {
        State {
            buffer: Mutex::new(Buffer {
                queue: VecDeque::new(),
                senders: 0,
                senders_on: BTreeMap::new(),
                senders_closed: false,
                receivers: BTreeMap::new(),
                receivers_closed: false,
                high_watermark: 0,
                total_sent: 0,
                total_received: 0,
                created_at: SystemTime::now(),
                waiting_puts: 0,
                waiting_gets: 0,
                dead: false,
            }),
            items: Wakeups::default(),
            room: Wakeups::default(),
            capacity,
            validator,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffer<T>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The capacity; `None` when unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// The actor died for good: every waiter wakes and finds out.
    pub(crate) fn die(&self) {
        self.lock().dead = true;
        self.items.wake_all();
        self.room.wake_all();
    }

    /// Closes both sides at once: the state is new after a restart that lost the old one
    /// (its node died), with none of the items or registrations the old one had.
    pub(crate) fn close_after_loss(&self) {
        let mut buffer = self.lock();
        buffer.senders_closed = true;
        buffer.receivers_closed = true;
    }

    /// Registrations are calls only (see `route.rs`), so the actor is alive for them.
    pub(crate) fn register_sender(&self) -> Status {
        let mut buffer = self.lock();
        if buffer.senders_closed {
            return Status::Closed;
        }
        buffer.senders += 1;
        Status::Ok
    }

    /// Registers a sender of the node `node` (see [`Hosted::forget_node`]).
    pub(crate) fn register_sender_on(&self, node: String) -> Status {
        let mut buffer = self.lock();
        if buffer.senders_closed {
            return Status::Closed;
        }
        buffer.senders += 1;
        *buffer.senders_on.entry(node).or_default() += 1;
        Status::Ok
    }

    pub(crate) fn deregister_sender(&self) -> Status {
        self.deregister_senders(None, 1)
    }

    /// Deregisters a sender of the node `node`.
    pub(crate) fn deregister_sender_on(&self, node: &str) -> Status {
        self.deregister_senders(Some(node), 1)
    }

    /// Deregisters `n` senders (of `node`, when given); the last one closes the channel.
    fn deregister_senders(&self, node: Option<&str>, n: usize) -> Status {
        let mut buffer = self.lock();
        if let Some(node) = node {
            let Some(count) = buffer.senders_on.get_mut(node) else {
                return Status::Closed;
            };
            *count = count.saturating_sub(n);
            if *count == 0 {
                buffer.senders_on.remove(node);
            }
        }
        if buffer.senders == 0 {
            return Status::Closed;
        }
        buffer.senders = buffer.senders.saturating_sub(n);
        if buffer.senders == 0 {
            buffer.senders_closed = true;
            drop(buffer);
            // Waiting gets see the end once drained; waiting puts see `Closed`.
            self.items.wake_all();
            self.room.wake_all();
        }
        Status::Ok
    }

    pub(crate) fn register_receiver(&self, reader_id: String, node_id: String) -> Status {
        let mut buffer = self.lock();
        if buffer.receivers_closed {
            return Status::Closed;
        }
        let now = SystemTime::now();
        let info = buffer
            .receivers
            .entry(reader_id.clone())
            .or_insert(ReaderInfo {
                reader_id,
                node_id: String::new(),
                registered_at: now,
                last_seen_at: now,
                total_received: 0,
            });
        info.node_id = node_id;
        Status::Ok
    }

    pub(crate) fn deregister_receiver(&self, reader_id: &str) -> Status {
        let mut buffer = self.lock();
        if buffer.receivers.remove(reader_id).is_none() {
            return Status::Empty;
        }
        if buffer.receivers.is_empty() {
            buffer.receivers_closed = true;
            drop(buffer);
            self.room.wake_all();
        }
        Status::Ok
    }

    /// Puts `item` if there is room now and no put waits for room; else hands it back.
    pub(crate) fn try_put(&self, item: T) -> Outcome<Result<Status, T>> {
        let mut items = vec![item];
        if let Some(status) = self.refuse(&items)? {
            return Ok(Ok(status));
        }
        Ok(match self.try_insert(&mut items, Turn::BehindWaiters)? {
            Some(status) => Ok(status),
            None => items.pop().map_or(Ok(Status::Full), Err),
        })
    }

    /// Puts all of `items` if there is room for all of them now (even ahead of waiting puts),
    /// else none (`Full`).
    pub(crate) fn put_now(&self, mut items: Vec<T>) -> Outcome<Status> {
        if let Some(status) = self.refuse(&items)? {
            return Ok(status);
        }
        Ok(self
            .try_insert(&mut items, Turn::Now)?
            .unwrap_or(Status::Full))
    }

    /// Puts all of `items`, waiting up to `timeout` (forever when `None`) for room for all of
    /// them in line with the other waiting puts: `Full` when none came in time. Dropped while
    /// it waits, it puts nothing.
    pub(crate) async fn put(
        &self,
        mut items: Vec<T>,
        timeout: Option<Duration>,
    ) -> Outcome<Status> {
        if let Some(status) = self.refuse(&items)? {
            return Ok(status);
        }
        let wait = self.room.for_count(items.len());
        let _waiting = Waiting::new(self, Side::Put);
        wait_for(wait, timeout, || {
            self.try_insert(&mut items, Turn::Now).transpose()
        })
        .await
        .unwrap_or(Ok(Status::Full))
    }

    /// Takes up to `max` items if there are any now: `Ok` with the items, `Closed` when the
    /// senders closed and the channel is drained, else `Empty`. `BehindWaiters` leaves one
    /// item for each waiting get; `Now` goes ahead of them.
    pub(crate) fn take_now(
        &self,
        max: usize,
        reader_id: Option<&str>,
        turn: Turn,
    ) -> Outcome<(Status, Vec<T>)> {
        if max == 0 {
            return Ok((Status::Empty, Vec::new()));
        }
        Ok(self
            .try_take(max, reader_id, turn)?
            .unwrap_or((Status::Empty, Vec::new())))
    }

    /// Waits up to `timeout` (forever when `None`) for the first item, in line with the other
    /// waiting gets, then takes up to `max`: `Empty` when none came in time, `Closed` when the
    /// senders closed and the channel is drained. Dropped while it waits, it takes nothing.
    pub(crate) async fn get(
        &self,
        max: usize,
        timeout: Option<Duration>,
        reader_id: Option<&str>,
    ) -> Outcome<(Status, Vec<T>)> {
        if max == 0 {
            return Ok((Status::Empty, Vec::new()));
        }
        let _waiting = Waiting::new(self, Side::Get);
        wait_for(self.items.for_count(1), timeout, || {
            self.try_take(max, reader_id, Turn::Now).transpose()
        })
        .await
        .unwrap_or(Ok((Status::Empty, Vec::new())))
    }

    /// Puts `taken` back at the front of the queue, in order: a receive that took them was
    /// dropped before it could hand them on. `Ok`, or `Empty` for no items.
    pub(crate) fn unget(&self, taken: Vec<T>) -> Status {
        if taken.is_empty() {
            return Status::Empty;
        }
        let mut buffer = self.lock();
        let n = taken.len();
        for item in taken.into_iter().rev() {
            buffer.queue.push_front(item);
        }
        buffer.total_received = buffer.total_received.saturating_sub(n as u64);
        buffer.high_watermark = buffer.high_watermark.max(buffer.queue.len());
        let waiting = buffer.waiting_gets > 0;
        drop(buffer);
        if waiting {
            self.items.wake(n);
        }
        Status::Ok
    }

    /// The channel's counters.
    pub(crate) fn stats(&self) -> ChannelStats {
        let buffer = self.lock();
        ChannelStats {
            senders: buffer.senders,
            receivers: buffer.receivers.len(),
            queue_size: buffer.queue.len(),
            capacity: self.capacity,
            senders_closed: buffer.senders_closed,
            receivers_closed: buffer.receivers_closed,
            created_at: buffer.created_at,
            high_watermark: buffer.high_watermark,
            total_sent: buffer.total_sent,
            total_received: buffer.total_received,
        }
    }

    /// The registered receivers, by reader id.
    pub(crate) fn reader_stats(&self) -> Vec<ReaderInfo> {
        self.lock().receivers.values().cloned().collect()
    }

    /// Whether the senders or the receivers have closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed_for_puts()
    }

    /// `Closed`, `TypeError` or `Full` when `items` can never go in as a whole.
    fn refuse(&self, items: &[T]) -> Outcome<Option<Status>> {
        {
            let buffer = self.lock();
            if buffer.dead {
                return Err(Dead);
            }
            if buffer.closed_for_puts() {
                return Ok(Some(Status::Closed));
            }
        }
        if let Some(validator) = &self.validator
            && !items.iter().all(|item| validator.accepts(item))
        {
            return Ok(Some(Status::TypeError));
        }
        Ok(match self.capacity {
            Some(capacity) if items.len() > capacity => Some(Status::Full),
            _ => None,
        })
    }

    /// Inserts every item if they all fit now (`BehindWaiters`: beside one slot for each put
    /// waiting for room); `None` (items untouched) when they do not.
    fn try_insert(&self, items: &mut Vec<T>, turn: Turn) -> Outcome<Option<Status>> {
        let mut buffer = self.lock();
        if buffer.dead {
            return Err(Dead);
        }
        if buffer.closed_for_puts() {
            return Ok(Some(Status::Closed));
        }
        let owed = match turn {
            Turn::BehindWaiters => buffer.waiting_puts,
            Turn::Now => 0,
        };
        if self
            .capacity
            .is_some_and(|capacity| buffer.queue.len() + items.len() + owed > capacity)
        {
            return Ok(None);
        }
        let n = items.len();
        buffer.total_sent += n as u64;
        buffer.queue.extend(items.drain(..));
        buffer.high_watermark = buffer.high_watermark.max(buffer.queue.len());
        // A get that starts waiting after this sees the items; one waiting now needs a wake.
        let waiting = buffer.waiting_gets > 0;
        drop(buffer);
        if waiting {
            self.items.wake(n);
        }
        Ok(Some(Status::Ok))
    }

    /// Takes up to `max` items if there are any now (`BehindWaiters`: beyond one item for each
    /// get waiting for items); `None` when it should wait.
    fn try_take(
        &self,
        max: usize,
        reader_id: Option<&str>,
        turn: Turn,
    ) -> Outcome<Option<(Status, Vec<T>)>> {
        let mut buffer = self.lock();
        if buffer.dead {
            return Err(Dead);
        }
        if buffer.queue.is_empty() {
            return Ok(buffer.senders_closed.then(|| (Status::Closed, Vec::new())));
        }
        let owed = match turn {
            Turn::BehindWaiters => buffer.waiting_gets,
            Turn::Now => 0,
        };
        let n = max.min(buffer.queue.len().saturating_sub(owed));
        if n == 0 {
            return Ok(None);
        }
        let items: Vec<T> = buffer.queue.drain(..n).collect();
        buffer.total_received += n as u64;
        if let Some(info) = reader_id.and_then(|id| buffer.receivers.get_mut(id)) {
            info.total_received += n as u64;
            info.last_seen_at = SystemTime::now();
        }
        let waiting = buffer.waiting_puts > 0;
        drop(buffer);
        if waiting {
            self.room.wake(n);
        }
        Ok(Some((Status::Ok, items)))
    }
}

/// What the cluster part needs of a channel (see `seam.rs`).
impl<T: Send + 'static> Hosted for State<T> {
    fn item_type(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn stats(&self) -> ChannelStats {
        State::stats(self)
    }

    fn nodes(&self) -> Vec<String> {
        let buffer = self.lock();
        let mut nodes: Vec<String> = buffer.senders_on.keys().cloned().collect();
        nodes.extend(buffer.receivers.values().map(|r| r.node_id.clone()));
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    fn forget_node(&self, node: &str) {
        let senders = self.lock().senders_on.get(node).copied().unwrap_or(0);
        if senders > 0 {
            self.deregister_senders(Some(node), senders);
        }
        let readers: Vec<String> = self
            .lock()
            .receivers
            .values()
            .filter(|r| r.node_id == node)
            .map(|r| r.reader_id.clone())
            .collect();
        for reader in readers {
            self.deregister_receiver(&reader);
        }
    }
}

/// Kept across the actor's restarts beside its [`State`], and dropped by the runtime when the
/// actor dies for good: then it marks the state dead, so that direct users go back to calls.
pub(crate) struct Liveness<T>(pub(crate) Arc<State<T>>);

impl<T> Drop for Liveness<T> {
    fn drop(&mut self) {
        self.0.die();
    }
}

/// Which kind of operation is waiting.
#[derive(Clone, Copy)]
enum Side {
    Put,
    Get,
}

/// Counts a put or get as waiting while it runs (one that does not suspend is counted and
/// uncounted within one poll, so no one else sees it); uncounted however it ends.
struct Waiting<'a, T> {
    state: &'a State<T>,
    side: Side,
}

impl<'a, T> Waiting<'a, T> {
    fn new(state: &'a State<T>, side: Side) -> Self {
        let mut buffer = state.lock();
        match side {
            Side::Put => buffer.waiting_puts += 1,
            Side::Get => buffer.waiting_gets += 1,
        }
        Waiting { state, side }
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        let mut buffer = self.state.lock();
        match self.side {
            Side::Put => buffer.waiting_puts = buffer.waiting_puts.saturating_sub(1),
            Side::Get => buffer.waiting_gets = buffer.waiting_gets.saturating_sub(1),
        }
    }
}
