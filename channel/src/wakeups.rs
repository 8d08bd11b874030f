//! Wake-ups for operations waiting for items or for room, and the wait loop itself.

use std::{pin::pin, time::Duration};

use tokio::{sync::Notify, time::Instant};

/// Wake-ups for operations waiting for one thing (items, or room), fair under contention: one
/// freed slot (or one new item) wakes one waiter needing one, in the order they came, rather
/// than every waiter. Waiters needing more than one (batches) all wake and check, as any freed
/// amount may be what one of them needs.
#[derive(Default)]
pub(crate) struct Wakeups {
    /// Waiters for a single slot or item: each gets its own notification.
    one: Notify,
    /// Waiters for several.
    many: Notify,
}

impl Wakeups {
    /// `n` slots or items became available.
    pub(crate) fn wake(&self, n: usize) {
        for _ in 0..n.min(WAKE_ONE_AT_MOST) {
            self.one.notify_one();
        }
        if n >= WAKE_ONE_AT_MOST {
            self.one.notify_waiters();
        }
        self.many.notify_waiters();
    }

    /// The state changed for every waiter (the channel closed).
    pub(crate) fn wake_all(&self) {
        self.one.notify_waiters();
        self.many.notify_waiters();
    }

    /// What a waiter needing `count` waits on.
    pub(crate) fn for_count(&self, count: usize) -> Wait<'_> {
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
pub(crate) enum Wait<'a> {
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
pub(crate) async fn wait_for<R>(
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
