//! [`ChannelError`]: what a send or receive can fail with, shared by the senders, the
//! receivers and the named channels.

use helio::{ActorError, LookupError};

/// What a send or receive can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The other side has closed (for receives: and the channel is drained).
    #[error("the channel is closed")]
    Closed,
    /// No room now (`try_send`), or the batch can never fit.
    #[error("the channel is full (capacity {capacity:?})")]
    Full {
        /// The channel's capacity; `None` when unbounded.
        capacity: Option<usize>,
    },
    /// No item now (`try_recv`).
    #[error("the channel is empty")]
    Empty,
    /// Nothing happened in time.
    #[error("timed out")]
    Timeout,
    /// The validator rejected an item, or (across processes) the item does not decode as
    /// the channel's item type on the channel's host.
    #[error(
        "the channel rejected the item: its validator refused it, or it does not decode as the channel's item type"
    )]
    TypeError,
    /// The channel's actor failed.
    #[error(transparent)]
    Actor(#[from] ActorError),
    /// No channel has that name, or it carries another type.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}
