//! Named channels: a channel's actor registered under a name, reachable from anywhere.

use crate::{
    actor::{Message, RayChannelActor},
    channel::pair,
    error::ChannelError,
    receiver::Receiver,
    sender::Sender,
};
use helio::prelude::*;

/// The namespace channel names live in.
pub const NAMESPACE: &str = "helio-channel";

/// The channel named `name`, created with `capacity` if it does not exist yet (its capacity is
/// then ignored). Named channels are detached: they live until [`delete_channel`].
///
/// ```
/// use helio_channel::{channel_named, delete_channel, get_channel, list_channels};
///
/// # fn main() -> Result<(), helio_channel::ChannelError> {
/// let (tx, _rx) = channel_named::<String>("jobs", 16);
/// // Anywhere else in the process: the same channel, by name.
/// let (_tx, rx) = channel_named::<String>("jobs", 16);
/// let (tx3, _rx3) = get_channel::<String>("jobs")?; // only finds, checked to carry `String`
/// assert!(list_channels().contains(&"jobs".to_owned()));
///
/// tx.blocking_send("build".to_owned())?;
/// tx3.blocking_send("test".to_owned())?;
/// assert_eq!(rx.blocking_recv()?, "build");
/// assert_eq!(rx.blocking_recv()?, "test");
/// assert!(get_channel::<u64>("jobs").is_err()); // another item type
///
/// delete_channel("jobs")?; // its actor dies; operations on it fail from now on
/// # Ok(()) }
/// ```
pub fn channel_named<T: Message>(name: &str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let options = ActorOptions::new()
        .name(name)
        .namespace(NAMESPACE)
        .get_if_exists(true)
        .lifetime(Lifetime::Detached);
    let actor = RayChannelActor::new_actor()
        .options(options)
        .remote(Some(capacity), false, None);
    let capacity = actor.methods().capacity().remote().get().ok().flatten();
    pair(actor, capacity)
}

/// A sender and a receiver on the existing channel `name`, checked to carry `T`.
///
/// # Errors
/// `Lookup` when there is no such channel, or it carries another type (the error names both).
pub fn get_channel<T: Message>(name: &str) -> Result<(Sender<T>, Receiver<T>), ChannelError> {
    let actor = helio::get_actor_in::<RayChannelActor<T>>(NAMESPACE, name)?;
    let capacity = actor.methods().capacity().remote().get()?;
    Ok(pair(actor, capacity))
}

/// Deletes the channel `name`: its actor dies, and every pending or later operation on it
/// fails with `Actor(ActorDied { cause: Killed })`.
///
/// # Errors
/// `Lookup` when there is no such channel.
pub fn delete_channel(name: &str) -> Result<(), ChannelError> {
    Ok(helio::kill_named_in(NAMESPACE, name, true)?)
}

/// The names of the live channels, sorted.
pub fn list_channels() -> Vec<String> {
    helio::list_actors()
        .into_iter()
        .filter(|info| info.namespace == NAMESPACE)
        .map(|info| info.name)
        .collect()
}
