//! The writer: the one task through which every outgoing message of this process goes
//! (`Cluster::publish` queues them). It publishes them in order per destination; what is
//! queued for one destination at once goes as one batch (`batch.rs`), cut to fit the
//! server's `max_payload` (`limit.rs`). A message over that limit goes without its payload,
//! which this process holds for the reader to fetch (`objects.rs`). A message it cannot send
//! fails the calls it carried: nothing is only logged.

use async_nats::message::OutboundMessage;
use tokio::sync::mpsc;

use super::{Cluster, batch, limit, objects};
use crate::ActorError;

/// Publishes every queued message, in order per destination; what is queued for one
/// destination at once goes as one batch (`batch.rs`).
pub(crate) async fn write(
    client: async_nats::Client,
    cluster: std::sync::Weak<Cluster>,
    mut outgoing: mpsc::UnboundedReceiver<async_nats::message::OutboundMessage>,
) {
    let mut queued = Vec::with_capacity(256);
    // Whether the last round found more than one message: traffic is flowing.
    let mut busy = false;
    while outgoing.recv_many(&mut queued, 256).await > 0 {
        // Under load, let the tasks that are about to send (callers, repliers) run first, so
        // that what they send joins this round's batches instead of waking this task once per
        // message. A lone message (a sequential caller) goes at once.
        if busy || queued.len() > 1 {
            for _ in 0..2 {
                tokio::task::yield_now().await;
                while queued.len() < 1024 {
                    match outgoing.try_recv() {
                        Ok(message) => queued.push(message),
                        Err(_) => break,
                    }
                }
            }
        }
        busy = queued.len() > 1;
        let live = cluster.upgrade();
        // What the server takes in one message, as its INFO said (`limit.rs`): an atomic
        // the client keeps, read once a round.
        let limit = match client.max_payload() {
            0 => usize::MAX,
            max => max,
        };
        // Group by destination, keeping each one's order; a message over the limit goes
        // without its payload (held here for its reader), never only logged.
        let mut routes: Vec<(String, Vec<OutboundMessage>)> = Vec::new();
        for message in queued.drain(..) {
            let Some(message) = fit(live.as_deref(), message, limit) else {
                continue;
            };
            let route = batch::route(&message.subject);
            match routes.iter_mut().find(|(r, _)| r == route) {
                Some((_, messages)) => messages.push(message),
                None => routes.push((route.to_owned(), vec![message])),
            }
        }
        // Each send, with this process's calls in it (to fail them if it cannot go).
        let mut sends: Vec<(OutboundMessage, Vec<u64>)> = Vec::with_capacity(routes.len());
        let own_calls = |messages: &[OutboundMessage]| {
            live.as_ref()
                .map(|cluster| cluster.own_calls(messages))
                .unwrap_or_default()
        };
        for (route, messages) in routes {
            for run in limit::chunks(messages, limit) {
                let calls = own_calls(&run);
                if run.len() == 1 {
                    sends.extend(run.into_iter().map(|message| (message, calls.clone())));
                    continue;
                }
                if let Some(cluster) = &live {
                    cluster.calls.group(calls.clone());
                }
                match batch::encode(batch::batch_subject(&route, &run[0].subject), &run) {
                    Ok(batch) => sends.push((batch, calls)),
                    Err(err) => {
                        tracing::warn!(%err, "messages not batched");
                        for message in run {
                            let calls = own_calls(std::slice::from_ref(&message));
                            sends.push((message, calls));
                        }
                    }
                }
            }
        }
        for (message, calls) in sends {
            let OutboundMessage {
                subject,
                reply,
                payload,
                headers,
            } = message;
            let sent = match reply {
                Some(reply) => {
                    client
                        .publish_with_reply_and_headers(
                            subject,
                            reply,
                            headers.unwrap_or_default(),
                            payload,
                        )
                        .await
                }
                None => {
                    client
                        .publish_with_headers(subject, headers.unwrap_or_default(), payload)
                        .await
                }
            };
            if let Err(err) = sent {
                // Not only logged: the calls it carried fail now.
                tracing::warn!(%err, calls = calls.len(), "a cluster message not sent");
                if let Some(cluster) = &live {
                    for id in calls {
                        fail(cluster, id, Unsent::Refused(err.to_string()));
                    }
                }
            }
        }
    }
}

/// `message` as it goes under the server's `limit`: as it is; without its payload, which
/// this process holds for the reader (`objects.rs`); or, when even its headers are too large,
/// as an error in its place (`None`: it failed its call here, or was dropped).
fn fit(live: Option<&Cluster>, message: OutboundMessage, limit: usize) -> Option<OutboundMessage> {
    if limit::size(&message) <= limit {
        return Some(message);
    }
    let message = match live {
        Some(cluster) => match objects::spill(cluster, message, limit) {
            objects::Spill::Held(spilled) => return Some(spilled),
            objects::Spill::TooLarge(message) => message,
        },
        None => message,
    };
    let size = limit::size(&message);
    let own = |reply: &str| live?.subjects.own_call(reply);
    match limit::over(message, size, limit, own) {
        limit::Over::Send(error) => Some(error),
        limit::Over::Fail(id, why) => {
            if let Some(cluster) = live {
                fail(cluster, id, Unsent::TooLarge(why));
            }
            None
        }
        limit::Over::Drop(why) => {
            tracing::error!(%why, "a cluster message dropped");
            None
        }
    }
}

/// Why a message of this process's did not go.
enum Unsent {
    /// Over the server's `max_payload` (the whole message says so).
    TooLarge(String),
    /// The client refused it (it is closed, say).
    Refused(String),
}

/// Fails this process's call `id` (or stream), if it still waits: its message did not go.
fn fail(cluster: &Cluster, id: u64, why: Unsent) {
    match (cluster.calls.take(id), why) {
        (Some(pending), Unsent::TooLarge(message)) => {
            (pending.complete)(Err(ActorError::Wire { message }));
        }
        (Some(pending), Unsent::Refused(err)) => {
            pending.unavailable(&format!("its message was not sent: {err}"));
        }
        (None, Unsent::TooLarge(message)) => cluster.calls.stream_unavailable(id, &message),
        (None, Unsent::Refused(err)) => cluster
            .calls
            .stream_unavailable(id, &format!("its message was not sent: {err}")),
    }
}
