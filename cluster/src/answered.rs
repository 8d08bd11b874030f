//! The replies this host sent lately to calls that their callers may send again, so that a
//! copy sent again after an outage (`outage.rs`) is answered, not run twice.
//!
//! A caller marks a call it may send again (task retries left: header
//! [`RESENDS`](super::wire::RESENDS)). When an outage leaves the call in doubt, the caller
//! cannot tell a lost call from a lost reply, so it sends the same message again, to the same
//! reply subject. The host tells them apart by that subject: a copy of a call still running
//! here is dropped (its reply goes when it is done), a copy of a call answered lately gets
//! the same reply again, and only a call never seen here runs. Replies are kept for
//! [`KEEP`], the most recent [`MOST`] of them, each up to [`LARGEST`] bytes: a copy that comes
//! later, or whose reply was larger, runs again, as its retries allow.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bytes::Bytes;

use super::wire::Failure;

/// How long a reply is kept for a copy of its call.
pub(crate) const KEEP: Duration = Duration::from_secs(30);
/// How many replies are kept at most.
pub(crate) const MOST: usize = 65_536;
/// The largest reply kept, in bytes.
pub(crate) const LARGEST: usize = 64 * 1024;

/// A call's reply, as sent (the bytes shared with the message that carried it).
pub(crate) type Reply = Result<Bytes, Failure>;

/// The replies kept, by the reply subject of their call.
#[derive(Default)]
pub(crate) struct Answered(Mutex<Kept>);

#[derive(Default)]
struct Kept {
    replies: HashMap<Arc<str>, Reply>,
    /// When each was kept, oldest first.
    order: VecDeque<(Instant, Arc<str>)>,
}

impl Answered {
    /// Keeps the reply to `call`, sent at `now`, when it is small enough; forgets those kept
    /// too long ago, or beyond [`MOST`].
    pub(crate) fn keep(&self, call: &str, reply: &Reply, now: Instant) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.forget_before(now.checked_sub(KEEP));
        let size = reply.as_ref().map_or(0, Bytes::len);
        if size > LARGEST {
            return;
        }
        while kept.order.len() >= MOST {
            kept.forget_oldest();
        }
        // One allocation for the key, shared by the table and the order.
        let call: Arc<str> = Arc::from(call);
        if kept
            .replies
            .insert(Arc::clone(&call), reply.clone())
            .is_none()
        {
            kept.order.push_back((now, call));
        }
    }

    /// The reply kept for `call`, if any.
    pub(crate) fn get(&self, call: &str) -> Option<Reply> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.replies.get(call).cloned()
    }
}

impl Kept {
    fn forget_before(&mut self, limit: Option<Instant>) {
        let Some(limit) = limit else { return };
        while self.order.front().is_some_and(|(at, _)| *at < limit) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, call)) = self.order.pop_front() {
            self.replies.remove(&*call);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_kept_for_a_copy_of_its_call() {
        let answered = Answered::default();
        let now = Instant::now();
        answered.keep("inbox.1", &Ok(Bytes::from(vec![1, 2])), now);
        answered.keep("inbox.2", &Err(Failure::Wire("bad".into())), now);
        assert_eq!(answered.get("inbox.1"), Some(Ok(Bytes::from(vec![1, 2]))));
        assert_eq!(
            answered.get("inbox.2"),
            Some(Err(Failure::Wire("bad".into())))
        );
        assert_eq!(answered.get("inbox.3"), None);
    }

    #[test]
    fn replies_are_forgotten_after_a_while_and_beyond_the_most() {
        let answered = Answered::default();
        let start = Instant::now();
        answered.keep("old", &Ok(Bytes::new()), start);
        answered.keep("new", &Ok(Bytes::new()), start + KEEP);
        assert_eq!(
            answered.get("old"),
            Some(Ok(Bytes::new())),
            "not yet too old"
        );
        answered.keep(
            "newer",
            &Ok(Bytes::new()),
            start + KEEP + Duration::from_millis(1),
        );
        assert_eq!(answered.get("old"), None, "kept too long ago");
        assert!(answered.get("new").is_some());
        for n in 0..MOST {
            answered.keep(&format!("n{n}"), &Ok(Bytes::new()), start + KEEP * 2);
        }
        assert_eq!(answered.get("new"), None, "beyond the most");
        assert!(answered.get("n0").is_some());
        assert!(answered.get(&format!("n{}", MOST - 1)).is_some());
    }

    #[test]
    fn a_large_reply_is_not_kept() {
        let answered = Answered::default();
        answered.keep(
            "big",
            &Ok(Bytes::from(vec![0; LARGEST + 1])),
            Instant::now(),
        );
        assert_eq!(answered.get("big"), None);
        answered.keep("fits", &Ok(Bytes::from(vec![0; LARGEST])), Instant::now());
        assert!(answered.get("fits").is_some());
    }
}
