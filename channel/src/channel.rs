//! Making a channel: [`channel`] and [`unbounded`]. The ends themselves are in `sender.rs` and
//! `receiver.rs`, what they fail with in `error.rs`.

use helio::prelude::*;

use crate::{
    actor::{Message, RayChannelActor},
    receiver::Receiver,
    sender::Sender,
};

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
