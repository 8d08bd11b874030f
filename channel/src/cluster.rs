//! The channel across processes (feature `cluster`): registering a channel's item type,
//! forgetting the senders and receivers of nodes found dead, and the [`SEAM`] through which the
//! core runs this part's hooks without naming it (see `seam.rs`).

use std::sync::{Arc, Weak};

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    actor::{Message, RayChannelActor},
    directory,
    seam::{Hosted, Seam},
};

/// What the cluster part gives the core: as every channel actor starts, a named channel
/// lists itself in its process's directory ([`directory::on_start`]) and the channel watches
/// for dead nodes ([`on_start`]); handles register under this process's node.
pub(crate) const SEAM: Seam = Seam {
    on_start: &[directory::on_start, on_start],
    node: this_node,
};

/// This process's node id, in a cluster.
fn this_node() -> Option<String> {
    helio::current_node().map(|node| node.to_string())
}

/// Starts the channel's [`NodeWatch`], once for the actor's life: the actor keeps it across
/// restarts.
fn on_start(state: &Arc<dyn Hosted>, _name: Option<&str>) {
    drop(helio::keep_across_restarts(|| NodeWatch::start(state)));
}

/// Lets this process host, create and use channels of `T` in a cluster: registers
/// [`RayChannelActor<T>`] (see [`helio::register`]). Call it in every process that uses such
/// channels, as for any actor type that crosses processes; then [`channel_named`] and
/// [`get_channel`] work from any process of the cluster. `helio::register::<RayChannelActor<T>>()`
/// is the same: either way, a process that hosts a named channel lists it in its directory for
/// `helio status`.
///
/// [`channel_named`]: crate::channel_named
/// [`get_channel`]: crate::get_channel
///
/// ```
/// helio_channel::register::<String>();
/// ```
pub fn register<T: Message + Serialize + DeserializeOwned>() {
    helio::register::<RayChannelActor<T>>();
    directory::open();
}

/// Watches for dead nodes on behalf of one channel, while the channel's actor lives (the
/// actor keeps it across restarts; the runtime drops it when the actor dies for good, which
/// ends the watch).
struct NodeWatch {
    /// Dropped, it ends the watch.
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl NodeWatch {
    /// Starts watching for the channel whose state is `state`: each node found dead loses
    /// its registrations, so that the channel closes as if its handles had deregistered.
    fn start(state: &Arc<dyn Hosted>) -> Self {
        let (Some(mut deaths), Ok(runtime)) =
            (helio::node_deaths(), tokio::runtime::Handle::try_current())
        else {
            return NodeWatch { _stop: None };
        };
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let state: Weak<dyn Hosted> = Arc::downgrade(state);
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    alive = deaths.changed() => if !alive { return },
                }
                let Some(state) = state.upgrade() else {
                    return;
                };
                for node in state.nodes() {
                    let dead = node.parse().is_ok_and(helio::is_node_dead);
                    if dead {
                        tracing::info!(%node, "a node holding channel handles is dead: they are deregistered");
                        state.forget_node(&node);
                    }
                }
            }
        });
        NodeWatch { _stop: Some(stop) }
    }
}
