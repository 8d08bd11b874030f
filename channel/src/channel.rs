//! Making a channel: [`channel`], [`unbounded`], and what their ends share ([`IntoItem`],
//! [`ChannelError`]). The ends themselves are in `sender.rs` and `receiver.rs`.

use helio::prelude::*;

use crate::{
    actor::{Message, RayChannelActor},
    receiver::Receiver,
    sender::Sender,
};

/// What `send` and its kin take for an item of type `T`: a `T`, or for `String` a `&str` or
/// `&String` (as remote methods' `String` parameters do).
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), helio_channel::ChannelError> {
/// let (tx, rx) = helio_channel::channel::<String>(4);
/// tx.send("hi").await?;
/// assert_eq!(rx.recv().await?, "hi");
/// # Ok(())
/// # }
/// ```
pub trait IntoItem<T> {
    /// The item.
    fn into_item(self) -> T;
}

impl<T> IntoItem<T> for T {
    fn into_item(self) -> T {
        self
    }
}

impl IntoItem<String> for &str {
    fn into_item(self) -> String {
        self.to_owned()
    }
}

impl IntoItem<String> for &String {
    fn into_item(self) -> String {
        self.clone()
    }
}

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
    Lookup(#[from] helio::LookupError),
}

/// A bounded channel of `capacity` items (at least 1).
///
/// It waits for the channel's actor to start (a constructor of a few instructions, on the
/// runtime it is called from), so that the sender and receiver put and get straight into the
/// channel's buffer, with no call to the actor. A `capacity` of 0 makes a channel whose every
/// operation fails with `Actor(InitFailed)`.
pub fn channel<T: Message>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    started(RayChannelActor::new_actor().remote(Some(capacity), false, None))
}

/// An unbounded channel. It waits for the channel's actor to start, as [`channel`] does.
pub fn unbounded<T: Message>() -> (Sender<T>, Receiver<T>) {
    started(RayChannelActor::new_actor().remote(None, true, None))
}

/// A sender and a receiver on the new channel `actor`, once it has started (or failed to).
fn started<T: Message>(actor: Actor<RayChannelActor<T>>) -> (Sender<T>, Receiver<T>) {
    // A constructor that failed shows in every operation; the wait itself cannot hang, as
    // the constructor does nothing that waits.
    let capacity = actor.methods().capacity().remote().get().ok().flatten();
    pair(actor, capacity)
}

/// A sender and a receiver on the channel `actor`, whose capacity is `capacity`. When the
/// channel is in another process, this returns once the channel has counted both: until then,
/// its host dropping its own last receiver would close the channel under the new one.
pub(crate) fn pair<T: Message>(
    actor: Actor<RayChannelActor<T>>,
    capacity: Option<usize>,
) -> (Sender<T>, Receiver<T>) {
    let (sender, sent) = Sender::registered(actor.clone(), capacity);
    let (receiver, received) = Receiver::registered(actor);
    // Each resolves, to its status or to the actor's error, which the first operation on the
    // handle reports again; the wait itself only orders the registration first.
    for registration in [sent, received].into_iter().flatten() {
        drop(registration.get());
    }
    (sender, receiver)
}
