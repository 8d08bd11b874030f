//! The values the channel actor's methods return.

use std::{fmt, sync::Arc, time::SystemTime};

use serde::{Deserialize, Serialize};

/// What a channel operation came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done.
    Ok,
    /// No room (or not in time).
    Full,
    /// No item (or not in time).
    Empty,
    /// The channel is closed for this operation.
    Closed,
    /// The validator rejected an item.
    TypeError,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Full => "full",
            Status::Empty => "empty",
            Status::Closed => "closed",
            Status::TypeError => "type_error",
        })
    }
}

/// The result of a single get: `value` is `Some` exactly when `status` is `Ok`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SingleResult<T> {
    /// What the get came to.
    pub status: Status,
    /// The item.
    pub value: Option<T>,
}

/// The result of a batch get: `items` is non-empty exactly when `status` is `Ok`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult<T> {
    /// What the get came to.
    pub status: Status,
    /// The items, in channel order.
    pub items: Vec<T>,
}

/// A registered receiver, with its statistics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderInfo {
    /// The receiver's id.
    pub reader_id: String,
    /// Where the receiver runs.
    pub node_id: String,
    /// When it registered.
    pub registered_at: SystemTime,
    /// When it last got items.
    pub last_seen_at: SystemTime,
    /// How many items it got.
    pub total_received: u64,
}

/// A snapshot of the channel's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Registered senders.
    pub senders: usize,
    /// Registered receivers.
    pub receivers: usize,
    /// Items waiting.
    pub queue_size: usize,
    /// The capacity; `None` when unbounded.
    pub capacity: Option<usize>,
    /// Whether the last sender has deregistered.
    pub senders_closed: bool,
    /// Whether the last receiver has deregistered.
    pub receivers_closed: bool,
    /// When the channel was created.
    pub created_at: SystemTime,
    /// The most items ever waiting at once.
    pub high_watermark: usize,
    /// Items put in, in all.
    pub total_sent: u64,
    /// Items taken out, in all.
    pub total_received: u64,
}

/// A check every item must pass to enter the channel, standing in for a runtime type or
/// constraint check. Cloneable; `None` in the constructor accepts every item.
pub struct Validator<T>(Arc<dyn Fn(&T) -> bool + Send + Sync>);

impl<T> Validator<T> {
    /// A validator accepting the items for which `check` returns `true`.
    pub fn new(check: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        Validator(Arc::new(check))
    }

    /// Whether `item` may enter the channel. A check that panics rejects the item: the put
    /// is `TypeError`, and the channel carries on.
    pub fn accepts(&self, item: &T) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.0)(item))).unwrap_or(false)
    }
}

impl<T> Clone for Validator<T> {
    fn clone(&self) -> Self {
        Validator(Arc::clone(&self.0))
    }
}

impl<T> fmt::Debug for Validator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Validator(..)")
    }
}
