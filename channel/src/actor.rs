//! `RayChannelActor<T>`: a channel's buffer, held by one actor.
//!
//! All methods take `&self`, with the state behind one mutex that is never held across an
//! await, so a `put` waiting for room never keeps a `get` from running. Waiting calls sleep on
//! a [`Notify`] registered *before* they look at the state, so no wake-up is lost. Items are
//! taken under the lock with no await in between: a get that times out, or is cancelled while
//! waiting, never consumes an item.

use std::{
    collections::{BTreeMap, VecDeque},
    pin::pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use helio::prelude::*;
use tokio::{sync::Notify, time::Instant};

use crate::types::{BatchResult, ChannelStats, ReaderInfo, SingleResult, Status, Validator};

/// What a channel can carry: owned, cloneable (a call may be re-run after a restart) and
/// sendable.
pub trait Message: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> Message for T {}

struct Buffer<T> {
    queue: VecDeque<T>,
    senders: usize,
    senders_closed: bool,
    receivers: BTreeMap<String, ReaderInfo>,
    receivers_closed: bool,
    high_watermark: usize,
    total_sent: u64,
    total_received: u64,
    created_at: SystemTime,
    /// Puts and gets suspended while they wait: the fast paths never overtake them.
    waiting_puts: usize,
    waiting_gets: usize,
}

impl<T> Buffer<T> {
    /// Puts are refused once either side has closed: no sender is left to put (the original
    /// actor checks `senders_closed` first), or no receiver is left to get.
    fn closed_for_puts(&self) -> bool {
        self.senders_closed || self.receivers_closed
    }
}

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
    buffer: Arc<Mutex<Buffer<T>>>,
    /// Items arrived, or the senders closed.
    items: Wakeups,
    /// Room was freed, or the receivers closed.
    room: Wakeups,
    capacity: Option<usize>,
    validator: Option<Validator<T>>,
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
        let buffer = helio::keep_across_restarts(|| {
            Mutex::new(Buffer {
                queue: VecDeque::new(),
                senders: 0,
                senders_closed: false,
                receivers: BTreeMap::new(),
                receivers_closed: false,
                high_watermark: 0,
                total_sent: 0,
                total_received: 0,
                created_at: SystemTime::now(),
                waiting_puts: 0,
                waiting_gets: 0,
            })
        });
        Ok(RayChannelActor {
            buffer,
            items: Wakeups::default(),
            room: Wakeups::default(),
            capacity,
            validator,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Buffer<T>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a sender. `Closed` once the senders have closed.
    #[remote_method]
    pub fn register_sender(&self) -> Status {
        let mut buffer = self.lock();
        if buffer.senders_closed {
            return Status::Closed;
        }
        buffer.senders += 1;
        Status::Ok
    }

    /// Deregisters a sender; the last one closes the channel for gets once it is drained.
    /// `Closed` when no sender is registered.
    #[remote_method]
    pub fn deregister_sender(&self) -> Status {
        let mut buffer = self.lock();
        if buffer.senders == 0 {
            return Status::Closed;
        }
        buffer.senders -= 1;
        if buffer.senders == 0 {
            buffer.senders_closed = true;
            drop(buffer);
            // Waiting gets see the end once drained; waiting puts see `Closed`.
            self.items.wake_all();
            self.room.wake_all();
        }
        Status::Ok
    }

    /// Registers (or re-registers) the receiver `reader_id` running on `node_id`. `Closed`
    /// once the receivers have closed.
    #[remote_method]
    pub fn register_receiver(&self, reader_id: String, node_id: String) -> Status {
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

    /// Deregisters a receiver; the last one closes the channel for puts. `Empty` when
    /// `reader_id` is not registered.
    #[remote_method]
    pub fn deregister_receiver(&self, reader_id: String) -> Status {
        let mut buffer = self.lock();
        if buffer.receivers.remove(&reader_id).is_none() {
            return Status::Empty;
        }
        if buffer.receivers.is_empty() {
            buffer.receivers_closed = true;
            drop(buffer);
            self.room.wake_all();
        }
        Status::Ok
    }

    /// Puts `item`, waiting up to `timeout` (forever when `None`) for room: `Full` when none
    /// came in time.
    ///
    /// Waiting calls run in the concurrency group `waiting`, which has no practical limit, so
    /// any number of them never keeps other calls from starting. Cancelling the call while it
    /// waits withdraws it: the item is not put.
    #[remote_method(concurrency_group = "waiting")]
    pub async fn put(&self, item: T, timeout: Option<Duration>) -> Status {
        self.put_items(vec![item], timeout).await
    }

    /// Puts `item` if there is room now, else `Full`.
    #[remote_method]
    pub fn put_nowait(&self, item: T) -> Status {
        self.put_now(vec![item])
    }

    /// Puts all of `items` or none, waiting up to `timeout` for room for all of them. A batch
    /// larger than the capacity is `Full` at once; a rejected item makes it `TypeError`.
    /// Waits as [`put`](Self::put) does.
    #[remote_method(concurrency_group = "waiting")]
    pub async fn put_batch(&self, items: Vec<T>, timeout: Option<Duration>) -> Status {
        self.put_items(items, timeout).await
    }

    /// Puts all of `items` if there is room for all of them now, else none (`Full`).
    #[remote_method]
    pub fn put_nowait_batch(&self, items: Vec<T>) -> Status {
        self.put_now(items)
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
        let (status, items) = self.take(1, timeout, reader_id.as_deref()).await;
        SingleResult {
            status,
            value: items.into_iter().next(),
        }
    }

    /// Gets the next item if there is one now.
    #[remote_method]
    pub fn get_nowait(&self, reader_id: Option<String>) -> SingleResult<T> {
        let (status, items) = self.take_now(1, reader_id.as_deref());
        SingleResult {
            status,
            value: items.into_iter().next(),
        }
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
        let (status, items) = self.take(max_items, timeout, reader_id.as_deref()).await;
        BatchResult { status, items }
    }

    /// Puts `item` if there is room now and no put is waiting for room; else hands `item`
    /// back (`Err`), to be put with [`put`](Self::put). The fast path of `Sender::send`: it
    /// never waits, and never overtakes a waiting put.
    #[remote_method]
    pub fn try_put(&self, item: T) -> Result<Status, T> {
        let mut items = vec![item];
        if let Some(status) = self.refuse(&items) {
            return Ok(status);
        }
        match self.try_insert(&mut items, Turn::BehindWaiters) {
            Some(status) => Ok(status),
            None => items.pop().map_or(Ok(Status::Full), Err),
        }
    }

    /// Takes up to `max_items` if there are items now and no get is waiting for them: `Ok`
    /// with the items, `Closed` when the senders closed and the channel is drained, else
    /// `Empty` (then wait with [`get_batch`](Self::get_batch)). The fast path of
    /// `Receiver::recv`: it never waits, and never overtakes a waiting get.
    #[remote_method]
    pub fn try_get(&self, max_items: usize, reader_id: Option<String>) -> BatchResult<T> {
        let empty = || BatchResult {
            status: Status::Empty,
            items: Vec::new(),
        };
        if max_items == 0 {
            return empty();
        }
        match self.try_take(max_items, reader_id.as_deref(), Turn::BehindWaiters) {
            Some((status, items)) => BatchResult { status, items },
            None => empty(),
        }
    }

    /// Puts the items of `taken` back at the front of the queue, in order: a receive that took
    /// them was dropped before it could hand them on. The capacity may be exceeded by them for
    /// a while, as they were in the queue a moment ago. `Ok`, or `Empty` for an empty batch.
    #[remote_method]
    pub fn unget(&self, taken: BatchResult<T>) -> Status {
        if taken.items.is_empty() {
            return Status::Empty;
        }
        let mut buffer = self.lock();
        let n = taken.items.len();
        for item in taken.items.into_iter().rev() {
            buffer.queue.push_front(item);
        }
        buffer.total_received = buffer.total_received.saturating_sub(n as u64);
        buffer.high_watermark = buffer.high_watermark.max(buffer.queue.len());
        drop(buffer);
        self.items.wake(n);
        Status::Ok
    }

    /// The channel's counters.
    #[remote_method]
    pub fn stats(&self) -> ChannelStats {
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
    #[remote_method]
    pub fn reader_stats(&self) -> Vec<ReaderInfo> {
        self.lock().receivers.values().cloned().collect()
    }

    /// The capacity; `None` when unbounded.
    #[remote_method]
    pub fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Whether the senders or the receivers have closed.
    #[remote_method]
    pub fn is_closed(&self) -> bool {
        let buffer = self.lock();
        buffer.senders_closed || buffer.receivers_closed
    }

    /// `Closed`, `TypeError` or `Full` when `items` can never go in as a whole.
    fn refuse(&self, items: &[T]) -> Option<Status> {
        if self.lock().closed_for_puts() {
            return Some(Status::Closed);
        }
        if let Some(validator) = &self.validator
            && !items.iter().all(|item| validator.accepts(item))
        {
            return Some(Status::TypeError);
        }
        match self.capacity {
            Some(capacity) if items.len() > capacity => Some(Status::Full),
            _ => None,
        }
    }

    /// Inserts every item if they all fit now (and, `BehindWaiters`, no put waits for room);
    /// `None` (items untouched) when they do not.
    fn try_insert(&self, items: &mut Vec<T>, turn: Turn) -> Option<Status> {
        let mut buffer = self.lock();
        if buffer.closed_for_puts() {
            return Some(Status::Closed);
        }
        if turn == Turn::BehindWaiters && buffer.waiting_puts > 0 {
            return None;
        }
        if self
            .capacity
            .is_some_and(|capacity| buffer.queue.len() + items.len() > capacity)
        {
            return None;
        }
        let n = items.len();
        buffer.total_sent += n as u64;
        buffer.queue.extend(items.drain(..));
        buffer.high_watermark = buffer.high_watermark.max(buffer.queue.len());
        drop(buffer);
        self.items.wake(n);
        Some(Status::Ok)
    }

    fn put_now(&self, mut items: Vec<T>) -> Status {
        if let Some(status) = self.refuse(&items) {
            return status;
        }
        self.try_insert(&mut items, Turn::Now)
            .unwrap_or(Status::Full)
    }

    async fn put_items(&self, mut items: Vec<T>, timeout: Option<Duration>) -> Status {
        if let Some(status) = self.refuse(&items) {
            return status;
        }
        let wait = self.room.for_count(items.len());
        let _waiting = Waiting::new(&self.buffer, Side::Put);
        wait_for(wait, timeout, || self.try_insert(&mut items, Turn::Now))
            .await
            .unwrap_or(Status::Full)
    }

    /// Takes up to `max` items if there are any now (and, `BehindWaiters`, no get waits for
    /// them); `None` when it should wait.
    fn try_take(
        &self,
        max: usize,
        reader_id: Option<&str>,
        turn: Turn,
    ) -> Option<(Status, Vec<T>)> {
        let mut buffer = self.lock();
        if turn == Turn::BehindWaiters && buffer.waiting_gets > 0 {
            return None;
        }
        if buffer.queue.is_empty() {
            return buffer.senders_closed.then(|| (Status::Closed, Vec::new()));
        }
        let n = max.min(buffer.queue.len());
        let items: Vec<T> = buffer.queue.drain(..n).collect();
        buffer.total_received += n as u64;
        if let Some(info) = reader_id.and_then(|id| buffer.receivers.get_mut(id)) {
            info.total_received += n as u64;
            info.last_seen_at = SystemTime::now();
        }
        drop(buffer);
        self.room.wake(n);
        Some((Status::Ok, items))
    }

    fn take_now(&self, max: usize, reader_id: Option<&str>) -> (Status, Vec<T>) {
        if max == 0 {
            return (Status::Empty, Vec::new());
        }
        self.try_take(max, reader_id, Turn::Now)
            .unwrap_or((Status::Empty, Vec::new()))
    }

    async fn take(
        &self,
        max: usize,
        timeout: Option<Duration>,
        reader_id: Option<&str>,
    ) -> (Status, Vec<T>) {
        if max == 0 {
            return (Status::Empty, Vec::new());
        }
        let _waiting = Waiting::new(&self.buffer, Side::Get);
        wait_for(self.items.for_count(1), timeout, || {
            self.try_take(max, reader_id, Turn::Now)
        })
        .await
        .unwrap_or((Status::Empty, Vec::new()))
    }
}

/// Whether a call that does not wait may go ahead of the calls waiting for room (or items).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The fast paths (`try_put`, `try_get`): only when no one waits, so they never overtake.
    BehindWaiters,
    /// Waiting calls themselves, and the `*_nowait` methods (Ray's semantics).
    Now,
}

/// Which kind of call is waiting.
#[derive(Clone, Copy)]
enum Side {
    Put,
    Get,
}

/// Counts a put or get as waiting while it runs (a call that does not suspend is counted and
/// uncounted within one poll, so no other call sees it); uncounted however it ends.
struct Waiting<'a, T> {
    buffer: &'a Mutex<Buffer<T>>,
    side: Side,
}

impl<'a, T> Waiting<'a, T> {
    fn new(buffer: &'a Mutex<Buffer<T>>, side: Side) -> Self {
        let mut guard = buffer.lock().unwrap_or_else(PoisonError::into_inner);
        match side {
            Side::Put => guard.waiting_puts += 1,
            Side::Get => guard.waiting_gets += 1,
        }
        Waiting { buffer, side }
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        let mut guard = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        match self.side {
            Side::Put => guard.waiting_puts = guard.waiting_puts.saturating_sub(1),
            Side::Get => guard.waiting_gets = guard.waiting_gets.saturating_sub(1),
        }
    }
}

/// Wake-ups for calls waiting for one thing (items, or room), fair under contention: one
/// freed slot (or one new item) wakes one waiter needing one, in the order they came, rather
/// than every waiter. Waiters needing more than one (batches) all wake and check, as any freed
/// amount may be what one of them needs.
#[derive(Default)]
struct Wakeups {
    /// Waiters for a single slot or item: each gets its own notification.
    one: Notify,
    /// Waiters for several.
    many: Notify,
}

impl Wakeups {
    /// `n` slots or items became available.
    fn wake(&self, n: usize) {
        for _ in 0..n.min(WAKE_ONE_AT_MOST) {
            self.one.notify_one();
        }
        if n >= WAKE_ONE_AT_MOST {
            self.one.notify_waiters();
        }
        self.many.notify_waiters();
    }

    /// The state changed for every waiter (the channel closed).
    fn wake_all(&self) {
        self.one.notify_waiters();
        self.many.notify_waiters();
    }

    /// What a waiter needing `count` waits on.
    fn for_count(&self, count: usize) -> Wait<'_> {
        if count <= 1 {
            Wait::One(&self.one)
        } else {
            Wait::Many(&self.many)
        }
    }
}

/// Beyond this many freed at once, every single waiter wakes (cheaper than that many
/// one-by-one notifications).
const WAKE_ONE_AT_MOST: usize = 64;

/// Where one waiter waits.
#[derive(Clone, Copy)]
enum Wait<'a> {
    /// For one: a notification that is its own, passed on by tokio if it is dropped unused.
    One(&'a Notify),
    /// For several.
    Many(&'a Notify),
}

/// Runs `attempt` until it gives an answer, waiting on `event` between tries, for at most
/// `timeout` (forever when `None`, or when it is too large to add): `None` when time ran out.
///
/// The notification is registered before each try, so a notify that lands between the try and
/// the wait is not lost.
async fn wait_for<R>(
    event: Wait<'_>,
    timeout: Option<Duration>,
    mut attempt: impl FnMut() -> Option<R>,
) -> Option<R> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let (Wait::One(event) | Wait::Many(event)) = event;
    loop {
        let mut notified = pin!(event.notified());
        notified.as_mut().enable();
        if let Some(answer) = attempt() {
            return Some(answer);
        }
        let woken = match deadline {
            None => {
                notified.await;
                true
            }
            Some(deadline) => tokio::time::timeout_at(deadline, notified).await.is_ok(),
        };
        if !woken {
            return None;
        }
    }
}
