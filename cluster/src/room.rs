//! A node's room for the cluster's tasks: the worker's side of the line (`line.rs`).
//!
//! A node that hosts listens on `want.<fn>` for each fn it registered. A caller with tasks of
//! the fn waiting asks there; the node answers at once with its room (its [`Load`]: what it
//! has, holds and runs), and from then on, for [`WANTED_FOR`] after the last ask (or the last
//! task the caller sent it), sends it again each time its resources are freed, so the
//! caller's next task goes to it. A node that starts running a fn (it joins, or registers it)
//! reports its room to every process at once (`offer`), so a node that joins mid-run takes
//! work at once. A node
//! never queues a cluster task: it starts what fits now and refuses the rest (`tasks.rs`),
//! so a busy node never holds work another could start.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant},
};

use async_nats::message::OutboundMessage;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{
    Cluster, NodeId,
    load::Load,
    wire::{self, CODEC, CODEC_ID},
};

/// How long a caller counts as wanting after it last asked (it asks again every
/// `line::WANT_EVERY` while its tasks wait).
const WANTED_FOR: Duration = Duration::from_secs(2);

/// What a node reports to a caller that wants room.
#[derive(Serialize, Deserialize)]
pub(crate) struct Offer {
    /// The node.
    pub(crate) node: NodeId,
    /// What it has, holds and runs.
    pub(crate) load: Load,
}

/// The callers that want room here, and the signal that resources were freed.
#[derive(Default)]
pub(crate) struct Rooms {
    /// Each wanting caller's subject for reports, and until when it counts as wanting.
    wanting: Mutex<HashMap<String, Instant>>,
    freed: Arc<Notify>,
}

impl Rooms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.wanting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A caller whose reports go to `to` wants room here (it asked, or sent a task).
    pub(crate) fn wanted_by(&self, to: String) {
        self.lock().insert(to, Instant::now() + WANTED_FOR);
    }
}

/// Starts reporting room: each time this node's resources are freed, to the callers that
/// want (none, client-only).
pub(crate) fn start(cluster: &Arc<Cluster>) {
    if !cluster.hosts {
        return;
    }
    let freed = Arc::clone(&cluster.rooms.freed);
    crate::seam::on_freed(Some(Arc::new(move || freed.notify_one())));
    cluster.handle.spawn(report(Arc::downgrade(cluster)));
}

/// Stops reporting room (this node leaves).
pub(crate) fn stop() {
    crate::seam::on_freed(None);
}

/// Listens for the wants of tasks of the fn `fingerprint` (a node that hosts).
pub(crate) async fn listen(cluster: &Arc<Cluster>, fingerprint: u64) -> Result<(), String> {
    let wants = cluster
        .client
        .subscribe(cluster.subjects.want(fingerprint))
        .await
        .map_err(|err| format!("could not subscribe wants: {err}"))?;
    cluster.handle.spawn(answer(Arc::downgrade(cluster), wants));
    // Every caller hears of this node's room at once.
    send(cluster, &[cluster.subjects.offers()]);
    Ok(())
}

/// Answers each want with this node's room now, and notes the caller as wanting.
async fn answer(cluster: Weak<Cluster>, mut wants: async_nats::Subscriber) {
    while let Some(message) = wants.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        for message in super::batch::split(message) {
            let Some(reply) = message.reply.filter(|to| cluster.subjects.is_room(to)) else {
                tracing::debug!(subject = %message.subject, "an ask for room with nowhere to answer");
                continue;
            };
            cluster.rooms.wanted_by(reply.to_string());
            send(&cluster, &[reply.to_string()]);
        }
    }
}

/// Each time resources are freed here: this node's room, to every caller that wants it.
async fn report(cluster: Weak<Cluster>) {
    loop {
        let freed = match cluster.upgrade() {
            Some(cluster) => Arc::clone(&cluster.rooms.freed),
            None => return,
        };
        freed.notified().await;
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let now = Instant::now();
        let to: Vec<String> = {
            let mut wanting = cluster.rooms.lock();
            wanting.retain(|_, until| *until > now);
            wanting.keys().cloned().collect()
        };
        send(&cluster, &to);
    }
}

/// Sends this node's room to each of `to`.
fn send(cluster: &Cluster, to: &[String]) {
    if to.is_empty() {
        return;
    }
    let offer = Offer {
        node: cluster.node(),
        load: Load::here(cluster),
    };
    let payload = match wire::encode(&offer) {
        Ok(payload) => Bytes::from(payload),
        Err(err) => return tracing::warn!(%err, "this node's room does not encode"),
    };
    for subject in to {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(CODEC, CODEC_ID);
        cluster.publish(OutboundMessage {
            subject: subject.clone().into(),
            reply: None,
            payload: payload.clone(),
            headers: Some(headers),
        });
    }
}
