//! Calls that will get no reply from where they went: their node died, or no process serves
//! their actor's subject ("no responders").
//!
//! Each such call resolves, or goes out again, by what its entry says:
//! - its actor cannot outlive its host (not detached, or no restarts left), and the host
//!   died: `ActorDied { cause: NodeDied }`, at once;
//! - it may run again on the actor's new host (a detached named actor, task retries left):
//!   it waits for the actor to be served again, and goes out again (`rerun.rs`);
//! - otherwise it resolves as the actor's record says (`verdict.rs`): `ActorDied` with the
//!   recorded cause, or `ActorUnavailable`.
//!
//! A stream its node owed ends with `ActorUnavailable`. A call that a node owes from some point
//! on (a task it took, [`owed_by`]) fails with that node's death, also when the node was found
//! dead already.

use std::sync::Arc;

use super::{
    Cluster, NodeId,
    calls::{NOT_SERVED, Pending, Rerun},
    rerun, verdict,
};

/// Resolves every call and stream the dead `node` owes: a call to an actor that died with it
/// resolves to `ActorDied`; a call that may run again elsewhere goes out again once its actor
/// is served elsewhere (`rerun.rs`); the others resolve as the actor's record says
/// (`verdict.rs`), streams to `ActorUnavailable` with `message`.
pub(crate) fn node_died(cluster: &Arc<Cluster>, node: NodeId, message: &str) {
    let calls = &cluster.calls;
    let mut again = Vec::new();
    for id in calls.calls_of_node(node) {
        if let Some(pending) = calls.take(id) {
            if pending.dies_with_host {
                pending.died_with(node);
                continue;
            }
            if pending
                .rerun
                .as_ref()
                .is_some_and(|again| again.moves() && again.allowed())
            {
                again.push((id, pending));
                continue;
            }
            verdict::settle(cluster, pending, message.to_owned());
        }
    }
    for id in calls.streams_of_node(node) {
        calls.stream_unavailable(id, message);
    }
    for (id, pending) in again {
        let rerun = rerun::after_death(Arc::clone(cluster), id, pending, node, message.to_owned());
        cluster.handle.spawn(rerun);
    }
}

/// Call `id` is owed by `node` from now on (a task it took): its death resolves the call,
/// also when it is known dead already.
pub(crate) fn owed_by(cluster: &Cluster, id: u64, node: NodeId) {
    cluster
        .calls
        .set_node(id, node, cluster.epochs.stamp(Some(node)));
    if cluster.liveness.is_dead(node)
        && let Some(pending) = cluster.calls.take(id)
    {
        pending.died_with(node);
    }
}

/// No process serves the subject that the call `id` (`pending`, taken from the table) went
/// to: a call that may run on a restarted actor waits for it; the others resolve as the
/// actor's record says.
pub(crate) fn not_served(cluster: &Arc<Cluster>, id: u64, pending: Pending) {
    if pending.rerun.as_ref().is_some_and(Rerun::moves) {
        rerun::not_served(cluster, id, pending);
    } else {
        verdict::settle(cluster, pending, NOT_SERVED.to_owned());
    }
}

/// The batch that the call or stream `id` went in had no responders: resolves it as
/// [`not_served`] does, if it still waits (a stream to `ActorUnavailable`).
pub(crate) fn not_served_in_batch(cluster: &Arc<Cluster>, id: u64) {
    match cluster.calls.take(id) {
        Some(pending) => not_served(cluster, id, pending),
        None => cluster.calls.stream_unavailable(id, NOT_SERVED),
    }
}
