//! Outages of the connection to NATS: the calls whose request or reply may have been lost in
//! a server that went away, and what they come to.
//!
//! A server that dies takes the messages it holds with it: a call on its way to its host, a
//! reply on its way back. Neither side's process died, so no node death will resolve such a
//! call; without this module it would wait forever.
//!
//! Each process counts the outages of its control connection: its *epoch* goes up at each
//! disconnect (async-nats' `Event::Disconnected`), and its heartbeats carry it, so the others
//! hear when its connection was lost. Each waiting call is stamped, as it is sent, with this
//! process's epoch and its host's last heard one (`Sent`). A call is *in doubt* when:
//! - this process's connection is lost: every call sent before, at once (the caller learns
//!   of the outage from the disconnect, not by waiting); or
//! - its host's heartbeat comes with a higher epoch than the call was sent at: the host was
//!   away from the server meanwhile, so its reply, or the call itself, may be lost.
//!
//! A call in doubt that may run again (task retries left) is sent again at once, taking a
//! retry, to the same subject and reply id. If both copies arrive, the host runs the call
//! once and answers the copy from the replies it keeps (`answered.rs`). One that may not
//! run again is resolved to `ActorUnavailable` with [`IN_DOUBT`]: it may or may not have
//! run, as Ray says of a call its actor may have got. A stream in doubt ends with
//! `ActorUnavailable`: its items cannot be asked for again. A task whose result is in doubt
//! runs again while its retries allow (`dispatch.rs`). Requests with a bound of their own
//! (pings, spawns, the registry's) are not watched here.
//!
//! `epoch.rs` is the pure core (`Epochs`, `Sent`); [`watch`] and [`heard`] are the driver.

use std::sync::{Arc, Weak};

use async_nats::Event;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{Cluster, NodeId, calls::Pending, epoch::Sent};
use crate::seam;

/// Why a call in doubt that may not run again fails.
pub(crate) const IN_DOUBT: &str = "the connection to NATS was lost while the call was in \
                                   flight (a server went away): the call or its reply may be \
                                   lost, so it may or may not have run (with retries, \
                                   `max_task_retries` or a task's `max_retries`, it is sent \
                                   again instead)";

/// Follows the control connection's events: at each disconnect, the epoch goes up and every
/// call sent before is in doubt.
pub(crate) async fn watch(cluster: Weak<Cluster>, mut events: UnboundedReceiver<Event>) {
    while let Some(event) = events.recv().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        match event {
            Event::Disconnected => {
                let epoch = cluster.epochs.lost();
                tracing::warn!(
                    epoch,
                    "the connection to NATS was lost; calls in flight are in doubt"
                );
                settle(&cluster, |sent, _| sent.lost_here(epoch));
            }
            Event::Connected => {
                let losses = cluster.epochs.own();
                if losses > 0 {
                    tracing::info!(losses, "connected to NATS again");
                    // Told at once, not at the next beat: a call sent here meanwhile would
                    // be taken for one sent before the loss.
                    cluster.beat();
                    // The record tells processes that join later how many losses are past.
                    let mut info = cluster.info.clone();
                    info.connection_losses = losses;
                    let registry = cluster.registry.clone();
                    cluster.handle.spawn(async move {
                        if let Err(err) = registry.update_node(&info).await {
                            tracing::debug!(%err, "could not record this node's connection losses");
                        }
                    });
                }
            }
            other => tracing::debug!(event = %other, "a NATS connection event"),
        }
    }
}

/// `node`'s heartbeat came at `epoch`: if its connection was lost since it was last heard,
/// the calls sent to it before are in doubt.
pub(crate) fn heard(cluster: &Arc<Cluster>, node: NodeId, epoch: u64) {
    if cluster.epochs.heard(node, epoch) {
        tracing::info!(%node, epoch, "a node's connection to NATS was lost; its calls are in doubt");
        settle(cluster, |sent, host| {
            host == Some(node) && sent.lost_there(epoch)
        });
    }
}

/// Resolves, or sends again, every call and stream `doubt` says may be lost.
fn settle(cluster: &Arc<Cluster>, doubt: impl Fn(Sent, Option<NodeId>) -> bool) {
    let (calls, streams) = cluster.calls.in_doubt(doubt);
    for id in streams {
        cluster.calls.stream_unavailable(id, IN_DOUBT);
    }
    for (id, pending) in calls {
        again_or_fail(cluster, id, pending);
    }
}

/// Sends the call `id` in doubt again when it may run again, taking a retry; else resolves it
/// to `ActorUnavailable`.
fn again_or_fail(cluster: &Cluster, id: u64, mut pending: Pending) {
    let Some(mut again) = pending.rerun.take().filter(|again| again.allowed()) else {
        return pending.unavailable(IN_DOUBT);
    };
    seam::take_retry(&mut again.retries);
    tracing::info!(
        actor = %pending.actor,
        method = pending.method,
        "sending a call in doubt again"
    );
    pending.rerun = Some(again);
    super::rerun::send(cluster, id, pending);
}
