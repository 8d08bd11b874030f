//! The reader's side of an object (`objects.rs`): fetching it from its owner in chunks, over
//! the process's connection for data.
//!
//! A fetch asks its owner for ranges of [`Spilled::chunk`] bytes at most (never more than the
//! server takes in one message), keeping a window of [`WINDOW_BYTES`] requested ahead of what
//! has arrived: the owner sends only what was asked, so the reader sets the pace. The answers
//! come to `chunk.<this node>.<fetch>`, in order (one owner, one subscription); one out of
//! order, an error, an owner gone ("no responders") or silent for `node_timeout` + 2 s fails
//! the fetch with a reason, never a wait without end.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::{HeaderMap, Message, StatusCode};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::{
    Cluster,
    objects::{Read, Spilled, chunk_for},
    subjects,
    wire::{self, CODEC, CODEC_ID, Failure, SEQ, STATUS},
};

/// How many bytes a reader asks for ahead of what has arrived.
const WINDOW_BYTES: u64 = 8 << 20;

/// The fetches in progress in this process, by id: where their chunks go.
#[derive(Default)]
pub(crate) struct Fetches {
    next: AtomicU64,
    open: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
}

impl Fetches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Message>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a fetch: its id, and where its chunks arrive.
    fn open(&self) -> (u64, mpsc::UnboundedReceiver<Message>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (chunks, arrive) = mpsc::unbounded_channel();
        self.lock().insert(id, chunks);
        (id, arrive)
    }

    fn close(&self, id: u64) {
        let closed = self.lock().remove(&id);
        drop(closed);
    }

    /// Routes a chunk to its fetch.
    fn deliver(&self, id: u64, chunk: Message) {
        let open = self.lock().get(&id).cloned();
        match open {
            Some(chunks) => {
                let _ = chunks.send(chunk);
            }
            None => tracing::debug!(id, "a chunk for no open fetch"),
        }
    }
}

/// Subscribes this process's chunks (every process fetches, client-only or not).
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    let sub = cluster
        .data
        .subscribe(cluster.subjects.chunks_all())
        .await
        .map_err(|err| format!("could not subscribe fetched chunks: {err}"))?;
    cluster.handle.spawn(route(Arc::downgrade(cluster), sub));
    Ok(())
}

/// Hands each chunk to its fetch. Never blocks.
async fn route(cluster: Weak<Cluster>, mut sub: async_nats::Subscriber) {
    while let Some(message) = sub.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        match subjects::call_id(&message.subject) {
            Some(id) => cluster.fetches.deliver(id, message),
            None => tracing::debug!(subject = %message.subject, "a chunk with no fetch id"),
        }
    }
}

/// Closes a fetch however it ends.
struct Open<'a> {
    cluster: &'a Cluster,
    id: u64,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.cluster.fetches.close(self.id);
    }
}

/// Fetches the object `spilled` names from its owner: its bytes, or why they cannot come.
pub(crate) async fn fetch(cluster: &Cluster, spilled: Spilled) -> Result<Bytes, String> {
    let Spilled { owner, id, len, .. } = spilled;
    let limit = match cluster.data.max_payload() {
        0 => usize::MAX,
        max => max,
    };
    let chunk = spilled.chunk.min(chunk_for(limit));
    let capacity = usize::try_from(len)
        .map_err(|_| format!("an object of {len} bytes, too large for this platform"))?;
    let mut bytes = cluster
        .spare
        .take(capacity)
        .map_err(|err| format!("no memory for an object of {len} bytes: {err}"))?;
    let (fetch, mut arrive) = cluster.fetches.open();
    let _open = Open { cluster, id: fetch };
    let reply: async_nats::Subject = cluster.subjects.chunk(fetch).into();
    let subject: async_nats::Subject = cluster.subjects.objects(owner).into();
    let silence = cluster.node_timeout + Duration::from_secs(2);
    let window = (WINDOW_BYTES / chunk).max(2) * chunk;
    let mut asked = 0u64;
    while (bytes.len() as u64) < len {
        let received = bytes.len() as u64;
        while asked < len && asked - received < window {
            let n = chunk.min(len - asked);
            let read = Read {
                id,
                offset: asked,
                len: n,
                last: asked + n == len,
            };
            let payload = wire::encode(&read).map_err(|err| err.to_string())?;
            let mut headers = HeaderMap::new();
            headers.insert(CODEC, CODEC_ID);
            cluster
                .data
                .publish_with_reply_and_headers(
                    subject.clone(),
                    reply.clone(),
                    headers,
                    Bytes::from(payload),
                )
                .await
                .map_err(|err| format!("a read could not be sent: {err}"))?;
            asked += n;
        }
        let message = match tokio::time::timeout(silence, arrive.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => return Err("this process left the cluster".to_owned()),
            Err(_) => {
                return Err(format!(
                    "its owner, node {owner}, sent nothing for {silence:?} (it may have died)"
                ));
            }
        };
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            return Err(format!("its owner, node {owner}, is gone"));
        }
        match wire::header(&message, STATUS) {
            Some("ok") => {}
            status => {
                let why = match (status, wire::decode::<Failure>(&message.payload)) {
                    (Some("err"), Ok(Failure::Wire(why))) => why,
                    (Some("err"), Ok(other)) => format!("{other:?}"),
                    _ => format!("a chunk with status {status:?}"),
                };
                return Err(format!("its owner, node {owner}, refused: {why}"));
            }
        }
        let offset = wire::header(&message, SEQ).and_then(|s| s.parse::<u64>().ok());
        if offset != Some(received) || received + message.payload.len() as u64 > len {
            return Err(format!(
                "a chunk at {offset:?} of {} bytes, expected one at {received} (of {len})",
                message.payload.len()
            ));
        }
        bytes.extend_from_slice(&message.payload);
    }
    Ok(cluster.spare.bytes(bytes))
}
