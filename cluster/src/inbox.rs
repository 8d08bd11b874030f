//! The process's reply inbox: one subscription (`helio.<cluster>.inbox.<node>.*`) whose reader
//! resolves each call of this process's table ([`Calls`](super::calls::Calls)) as its reply
//! comes, and routes a stream's frames to its sink.
//!
//! When no process serves the actor's subject, the server answers "no responders" on the
//! call's reply subject (for a batch, the first call's: it answers for the whole batch), and
//! the call waits for its actor to be served again, or resolves as the actor's record says
//! (`unanswered.rs`).

use std::sync::{Arc, Weak};

use async_nats::{StatusCode, Subscriber};

use super::{Cluster, calls::Pending, intake::Intake, subjects, unanswered, wire};

/// Subscribes this process's reply inbox.
pub(crate) async fn listen(cluster: &Cluster) -> Result<Subscriber, String> {
    cluster
        .client
        .subscribe(cluster.subjects.inbox_all())
        .await
        .map_err(|err| format!("could not subscribe the reply inbox: {err}"))
}

/// Resolves each call as its reply arrives. Never blocks: decoding and resolving are quick,
/// and a reply too large for one message is fetched beside (`intake.rs`).
pub(crate) async fn read_inbox(cluster: Weak<Cluster>, mut inbox: Subscriber) {
    let mut intake = Intake::new(cluster.clone());
    while let Some(message) = intake.next(&mut inbox).await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        deliver(&cluster, message);
    }
}

/// Resolves the call one reply (or stream frame) is for.
fn deliver(cluster: &Arc<Cluster>, message: async_nats::Message) {
    {
        let Some(id) = subjects::call_id(&message.subject) else {
            tracing::debug!(subject = %message.subject, "a reply with no call id");
            return;
        };
        let unavailable = message.status == Some(StatusCode::NO_RESPONDERS);
        // The first call of a batch hears for the whole batch.
        if let Some(batch) = cluster.calls.ungroup(id)
            && unavailable
        {
            for other in batch.into_iter().filter(|other| *other != id) {
                unanswered::not_served_in_batch(cluster, other);
            }
        }
        let Some(pending) = cluster.calls.take(id) else {
            if !cluster.calls.stream_frame(id, &message) {
                tracing::debug!(subject = %message.subject, "a reply for no waiting call");
            }
            return;
        };
        if unavailable {
            return unanswered::not_served(cluster, id, pending);
        }
        // The actor answered from its node of creation, or from the node named in the reply:
        // later calls watch that one.
        if let Some(address) = &pending.address {
            let node = wire::header(&message, wire::NODE).and_then(|node| node.parse().ok());
            let answered = node.unwrap_or(address.record.node);
            if address.host() != answered {
                address.answered_by(answered);
            }
        }
        let Pending {
            actor,
            method,
            complete,
            ..
        } = pending;
        let status = wire::header(&message, wire::STATUS);
        complete(
            wire::read_reply(status, &message.payload, &actor, method).map(|()| message.payload),
        );
    }
}
