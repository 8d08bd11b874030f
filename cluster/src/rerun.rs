//! Calls a dead node owed, run again on the actor's new host while `max_task_retries` allows:
//! Ray's task retries, across a node failure.
//!
//! A call to a detached named actor keeps what it takes to send it again (a
//! [`Rerun`](super::calls::Rerun): its subject, headers and encoded arguments). When its host
//! is found dead (`unanswered.rs`), the call is not failed: it waits, bounded, for the actor's
//! record to name a live host (another node won the restart, `revive.rs`), then goes out again
//! to the same subject, which the new host serves. Each such re-run takes one of the call's
//! retries. A send that finds no one serving the subject (the host is gone, or the new host is
//! still subscribing) waits the same way without taking one, as the call never ran. When no
//! retry is left, or the actor is not served again within the node timeout plus 10 s, the call
//! resolves to `ActorUnavailable`, as before.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::message::OutboundMessage;

use super::{
    Cluster, NodeId,
    calls::{NOT_SERVED, Pending},
};
use crate::seam;

/// How long a call waits for its actor to be served again, beyond the node timeout.
const SERVED_AGAIN_WITHIN: Duration = Duration::from_secs(10);

/// How long one read of the actor's record may take.
const LOOKUP_WITHIN: Duration = Duration::from_millis(500);

/// How often the actor's record is read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// The call `id` was owed by `dead`: sends it again once its actor is served elsewhere, or
/// resolves it to `ActorUnavailable` with `message`.
pub(super) async fn after_death(
    cluster: Arc<Cluster>,
    id: u64,
    pending: Pending,
    dead: NodeId,
    message: String,
) {
    wait_and_send(cluster, id, pending, Some(dead), message, true).await;
}

/// No process serves the subject the call `id` went to: its host is gone, or the node that
/// restarts the actor is not serving it yet. Waits for the actor to be served again without
/// taking a retry (the call never ran), as a call sent while the actor restarts should.
pub(super) fn not_served(cluster: &Arc<Cluster>, id: u64, pending: Pending) {
    let gone = pending.node;
    let handle = cluster.handle.clone();
    handle.spawn(wait_and_send(
        Arc::clone(cluster),
        id,
        pending,
        gone,
        NOT_SERVED.to_owned(),
        false,
    ));
}

/// Waits until the actor's record names a live host other than `gone`, then sends the call
/// again (taking a retry when `takes_retry`); resolves it to `ActorUnavailable` with
/// `message` when the actor is not served again within the call's deadline, set the first
/// time it waits.
async fn wait_and_send(
    cluster: Arc<Cluster>,
    id: u64,
    mut pending: Pending,
    gone: Option<NodeId>,
    message: String,
    takes_retry: bool,
) {
    let Some((mut again, home)) = pending
        .rerun
        .take()
        .and_then(|again| again.home.clone().map(|home| (again, home)))
    else {
        return pending.unavailable(&message);
    };
    let deadline = *again
        .deadline
        .get_or_insert_with(|| Instant::now() + cluster.node_timeout + SERVED_AGAIN_WITHIN);
    let mut paused = false;
    loop {
        // Bounded: while JetStream settles, a read may take seconds, and a call to a host that
        // is alive need not wait for it.
        let lookup = cluster.registry.lookup(&home.namespace, &home.name);
        let found = tokio::time::timeout(LOOKUP_WITHIN, lookup)
            .await
            .unwrap_or_else(|_| Err("the registry did not answer in time".to_owned()));
        match found {
            // Another actor has the name now, or none: this one is not coming back.
            Ok(Some(record)) if record.id != home.actor_id || record.node != home.actor_node => {
                return pending.unavailable(&message);
            }
            Ok(None) => return pending.unavailable(&message),
            // Dead for good: killed, or it died with its node.
            Ok(Some(record)) if record.death.is_some() => {
                if let Some(death) = record.death {
                    return pending.died(death.cause.into_cause());
                }
            }
            // Still on the dead host, and it will not move: it died with the node.
            Ok(Some(record))
                if Some(record.host()) == gone
                    && !record.can_move()
                    && cluster.liveness.is_dead(record.host()) =>
            {
                return pending.died_with(record.host());
            }
            Ok(Some(record))
                if Some(record.host()) != gone && !cluster.liveness.is_dead(record.host()) =>
            {
                if takes_retry {
                    seam::take_retry(&mut again.retries);
                }
                tracing::info!(
                    actor = %pending.actor,
                    method = pending.method,
                    host = %record.host(),
                    "sending a call again, to the actor's new host"
                );
                pending.node = Some(record.host());
                pending.rerun = Some(again);
                return send(&cluster, id, pending);
            }
            // Still on the same host, alive: its subscriptions were away for a moment (its
            // server was lost and it is moving to another, or the actor restarts there).
            // Sent again after a pause, taking no retry (it never ran); no responders again
            // brings it back here, within the same deadline.
            Ok(Some(record))
                if !takes_retry
                    && paused
                    && Some(record.host()) == gone
                    && !cluster.liveness.is_dead(record.host()) =>
            {
                tracing::debug!(
                    actor = %pending.actor,
                    method = pending.method,
                    "sending a call again, to the same host"
                );
                pending.rerun = Some(again);
                return send(&cluster, id, pending);
            }
            // Not restarted elsewhere yet.
            Ok(Some(_)) => {}
            // The registry is away (JetStream settles after a server's restart), but the
            // host is alive: no record is needed to send the call to it again.
            Err(_)
                if !takes_retry
                    && paused
                    && gone.is_some_and(|host| !cluster.liveness.is_dead(host)) =>
            {
                pending.rerun = Some(again);
                return send(&cluster, id, pending);
            }
            Err(err) => tracing::debug!(%err, "could not read an actor's record; trying again"),
        }
        if Instant::now() + POLL >= deadline {
            return pending.unavailable(&message);
        }
        tokio::time::sleep(POLL).await;
        paused = true;
    }
}

/// Sends the call `id` again, as it was first sent; its reply comes to the same inbox id,
/// and it is stamped with the epochs it goes out at (`outage.rs`).
pub(super) fn send(cluster: &Cluster, id: u64, mut pending: Pending) {
    if pending.sent.is_some() {
        pending.sent = Some(cluster.epochs.stamp(pending.node));
    }
    let Some(again) = &pending.rerun else {
        return;
    };
    let outbound = OutboundMessage {
        subject: again.subject.clone(),
        reply: Some(cluster.subjects.inbox(id).into()),
        payload: again.payload.clone(),
        headers: Some(again.headers.clone()),
    };
    cluster.calls.insert_at(id, pending);
    cluster.publish(outbound);
}
