//! A distributed-ready MPMC channel whose buffer lives in one helio actor.
//!
//! [`RayChannelActor<T>`] is the actor: a bounded or unbounded FIFO buffer with registered
//! senders and receivers, closing when the last of either deregisters, atomic batch puts, and
//! per-reader statistics. Any code that holds its handle, an `Actor<RayChannelActor<T>>`, can
//! put and get through `.methods()`.
//!
//! ```
//! use helio::prelude::*;
//! use helio_channel::{RayChannelActor, Status};
//!
//! let chan: Actor<RayChannelActor<i64>> = RayChannelActor::new_actor().remote(Some(10), false, None);
//! assert_eq!(helio::get(chan.methods().put_nowait().remote(42)).unwrap(), Status::Ok);
//! let got = helio::get(chan.methods().get_nowait().remote(None)).unwrap();
//! assert_eq!((got.status, got.value), (Status::Ok, Some(42)));
//! ```
//!
//! On top of it, [`channel`] and [`unbounded`] make a [`Sender`]/[`Receiver`] pair, with
//! async and non-blocking sends and receives, batches, and a `Stream` of items. In the
//! actor's own process they use the buffer the actor keeps directly, with no call: the actor
//! keeps it across restarts ([`helio::keep_across_restarts`]) and its handles reach it with
//! [`Actor::kept`](helio::Actor::kept). Elsewhere they make calls. The rules (closing, order,
//! fairness, cancel safety) are the same either way: both run the same code.
//!
//! # Across processes (feature `cluster`)
//! `register::<T>()` in every process of a cluster that uses channels of `T` makes
//! [`channel_named`] and [`get_channel`] work from any of them. A `send` that returns `Ok`
//! means the channel has the item, here too: each is one round trip to the channel's process,
//! so move many items with [`Sender::send_batch`] or the `Sink`, which sends gathered items
//! in batches. A receiver elsewhere takes up to 64 waiting items per call. Handles register
//! under their node, and a node found dead loses its registrations. A [`Validator`] crosses
//! by name ([`Validator::named`]). When the channel's own process dies, its items die with it
//! (as in Ray): the channel restarts on a live node, empty and closed on both sides, so that
//! every handle gets `Closed` rather than waiting for what can no longer come. The same
//! happens when its process is cut off from the server for long enough to be fenced.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// docs.rs (nightly, `--cfg docsrs`): each item behind a feature is marked with it.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The core: the actor, its state and rules, the handles and the named channels. None of it
// names the cluster part; it runs what the crate's `SEAM` gives it (see `seam.rs`).
mod actor;
mod cancel;
mod channel;
mod error;
mod named;
mod receiver;
mod route;
#[cfg_attr(
    not(feature = "cluster"),
    expect(dead_code, reason = "only the cluster part calls what the seam offers")
)]
mod seam;
mod sender;
mod state;
mod types;
mod wakeups;

// The cluster part (feature `cluster`), above the core: it names the core, never the reverse.
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
mod directory;

// What the core's seam is given: the cluster part's hooks, when it is built in.
#[cfg(feature = "cluster")]
use cluster::SEAM;
/// What the core's seam is given: nothing, without the cluster part (no hook, no node).
#[cfg(not(feature = "cluster"))]
const SEAM: seam::Seam = seam::Seam {
    on_start: &[],
    node: || None,
};

pub use actor::{Message, RayChannelActor, RayChannelActorMethods};
pub use channel::{channel, unbounded};
#[cfg(feature = "cluster")]
pub use cluster::register;
#[cfg(feature = "cluster")]
pub use directory::{
    ChannelDirectory, ChannelDirectoryMethods, ChannelReport, DIRECTORY_NAMESPACE,
};
pub use error::ChannelError;
pub use named::{NAMESPACE, channel_named, delete_channel, get_channel, list_channels};
pub use receiver::Receiver;
pub use sender::{IntoItem, Sender};
pub use types::{BatchResult, ChannelStats, ReaderInfo, SingleResult, Status, Validator};
