//! The seam between the channel's core and its cluster part: what the core offers so that the
//! cluster part can add to a channel without the core naming it.
//!
//! The core calls, through a [`Seam`], the functions it is given: the hooks a channel actor
//! runs as it starts ([`OnStart`]), and where this process's handles register ([`Seam::node`]).
//! The crate root, which declares every part, picks the one `Seam` (`crate::SEAM`) at compile
//! time: the cluster part's when it is built in (feature `cluster`), else one with no hook and
//! no node. At compile time rather than when `register::<T>()` runs, since a process
//! may host a channel without ever calling into the cluster part: one that registered the
//! channel's actor type with `helio::register` alone, or made a channel before registering.
//!
//! The hooks see a channel's state as a [`Hosted`], whatever its item type.

use std::sync::Arc;

use crate::types::ChannelStats;

/// A channel's state as the hooks see it, whatever its item type (implemented by the core's
/// `State<T>`).
pub(crate) trait Hosted: Send + Sync {
    /// The name of the channel's item type.
    fn item_type(&self) -> &'static str;

    /// The channel's counters.
    fn stats(&self) -> ChannelStats;

    /// The nodes that hold registrations (their ids, as the handles gave them).
    fn nodes(&self) -> Vec<String>;

    /// Drops every registration of `node`, a node found dead: its senders and receivers can
    /// never deregister themselves. The channel closes as if they had.
    fn forget_node(&self, node: &str);
}

/// Runs in a channel actor's constructor, each time it runs (a restart too), once the state is
/// there: `state` is the channel's, `name` the actor's name (`<namespace>/<name>`), if any.
/// What it must keep for the actor's life, it keeps with `helio::keep_across_restarts`.
pub(crate) type OnStart = fn(state: &Arc<dyn Hosted>, name: Option<&str>);

/// What the core is given: see the module docs.
pub(crate) struct Seam {
    /// Run in order by every channel actor's constructor.
    pub(crate) on_start: &'static [OnStart],
    /// The node id under which this process's handles register with a channel in another
    /// process; `None` outside a cluster.
    pub(crate) node: fn() -> Option<String>,
}
