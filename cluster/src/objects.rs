//! The objects this process holds for other processes to read: a value too large for one NATS
//! message waits here while its reader fetches it in chunks (`fetch.rs`).
//!
//! The writer puts the payload of a message over the server's `max_payload` here
//! ([`Objects::hold`]) and sends the message without it, naming the object in header
//! [`OBJECT`] ([`Spilled`]). The receiver reads it from this node in chunks: requests to
//! `objects.<node>`, each a [`Read`] of one range, answered in order; the read of the last
//! range frees it. Reads and chunks go over the process's second connection, kept for bulk
//! data, never batched. An object that no one has read for [`ORPHANED_AFTER`] is freed too: its
//! reader died, or the message never reached one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    Cluster,
    wire::{self, CODEC, CODEC_ID, Failure, SEQ, STATUS},
};
use crate::NodeId;

/// Header: the message's payload is an object its sender holds (`<owner>.<id>.<length>.<chunk>`).
pub(crate) const OBJECT: &str = "Helio-Object";

/// An object no one has read for this long is freed.
pub(crate) const ORPHANED_AFTER: Duration = Duration::from_secs(60);

/// How often the owner looks for orphans.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// What a message's [`OBJECT`] header names: the object that is its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spilled {
    /// The node that holds it.
    pub(crate) owner: NodeId,
    /// Its id there.
    pub(crate) id: u64,
    /// Its length in bytes.
    pub(crate) len: u64,
    /// The largest chunk its owner sends in one message.
    pub(crate) chunk: u64,
}

impl Spilled {
    /// The header's value.
    pub(crate) fn header(&self) -> String {
        format!("{}.{}.{}.{}", self.owner, self.id, self.len, self.chunk)
    }

    /// Reads a header's value; `None` when it is not one.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let owner = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        let len = parts.next()?.parse().ok()?;
        let chunk = parts.next()?.parse().ok()?;
        if parts.next().is_some() || chunk == 0 {
            return None;
        }
        Some(Spilled {
            owner,
            id,
            len,
            chunk,
        })
    }

    /// The object `message` carries in place of its payload, if it does.
    pub(crate) fn of(message: &Message) -> Option<Result<Self, String>> {
        let value = wire::header(message, OBJECT)?;
        Some(Self::parse(value).ok_or_else(|| format!("a bad {OBJECT} header: {value:?}")))
    }
}

/// A reader's request: `len` bytes of object `id` from `offset`; `last` frees the object once
/// answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Read {
    pub(crate) id: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) last: bool,
}

/// The objects this process holds for others.
#[derive(Default)]
pub(crate) struct Objects(Mutex<Table>);

#[derive(Default)]
struct Table {
    next: u64,
    held: HashMap<u64, Held>,
}

struct Held {
    bytes: Bytes,
    /// When it was stored or last read.
    touched: Instant,
}

/// What this process holds for other processes, and what it read from them (see
/// [`object_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectStats {
    /// Values too large for one NATS message (arguments, results, stream items) held until
    /// their reader has fetched them.
    pub held: usize,
    /// Their bytes, all together.
    pub held_bytes: u64,
    /// Values of this process that other processes hold `ObjectRef`s to (kept while any
    /// does).
    pub shared: usize,
    /// Bytes of values this process read through `ObjectRef`s from the processes that own
    /// them, since it started.
    pub read_bytes: u64,
    /// The buffer of the last large value this process sent or read (8 MB or more), kept
    /// for the next one for at most 10 s unused: memory in hand is written faster than
    /// fresh pages.
    pub spare_bytes: usize,
}

/// What this process holds for other processes now, and what it read from them (all zero
/// outside cluster mode).
///
/// A value too large for one NATS message (an argument, a result, a stream item) stays with
/// its sender until its reader has fetched it, or for at most a minute after its reader
/// stopped reading (it died, or the message found no one). A value whose `ObjectRef` crossed
/// processes stays with its owner while any process holds a ref to it.
///
/// ```
/// let stats = helio_cluster::object_stats();
/// assert_eq!((stats.held, stats.shared), (0, 0));
/// ```
pub fn object_stats() -> ObjectStats {
    let Some(cluster) = super::current() else {
        return ObjectStats::default();
    };
    let (held, held_bytes) = cluster.objects.held();
    ObjectStats {
        held,
        held_bytes,
        shared: cluster.shared.len(),
        read_bytes: super::refs::READ_BYTES.load(std::sync::atomic::Ordering::Relaxed),
        spare_bytes: cluster.spare.bytes_kept(),
    }
}

impl Objects {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `bytes` for a reader; its id.
    pub(crate) fn hold(&self, bytes: Bytes, now: Instant) -> u64 {
        let mut table = self.lock();
        table.next += 1;
        let id = table.next;
        table.held.insert(
            id,
            Held {
                bytes,
                touched: now,
            },
        );
        id
    }

    /// The range `read` asks for; a read of the last range frees the object.
    pub(crate) fn read(&self, read: &Read, now: Instant) -> Result<Bytes, String> {
        let mut table = self.lock();
        let Some(held) = table.held.get_mut(&read.id) else {
            return Err(format!(
                "object {} is not held here (it was read to its end, or orphaned)",
                read.id
            ));
        };
        held.touched = now;
        let total = held.bytes.len() as u64;
        let end = read
            .offset
            .checked_add(read.len)
            .filter(|end| *end <= total);
        let Some(end) = end else {
            return Err(format!(
                "a read of {} bytes at {} of an object of {total}",
                read.len, read.offset
            ));
        };
        // Both within `total`, a `usize`.
        let range = read.offset as usize..end as usize;
        let bytes = held.bytes.slice(range);
        if read.last {
            table.held.remove(&read.id);
        }
        Ok(bytes)
    }

    /// Frees what no one has read since `ORPHANED_AFTER` before `now`; how many.
    pub(crate) fn sweep(&self, now: Instant) -> usize {
        let mut table = self.lock();
        let before = table.held.len();
        table
            .held
            .retain(|_, held| now.saturating_duration_since(held.touched) < ORPHANED_AFTER);
        before - table.held.len()
    }

    /// What is held now: how many objects, and their bytes.
    pub(crate) fn held(&self) -> (usize, u64) {
        let table = self.lock();
        let bytes = table.held.values().map(|h| h.bytes.len() as u64).sum();
        (table.held.len(), bytes)
    }
}

/// What a message to this node's objects may spill: the largest chunk sent in one message,
/// given the server's `max_payload`.
pub(crate) fn chunk_for(limit: usize) -> u64 {
    // Room for the reply's headers (status, offset, codec).
    (limit.saturating_sub(512)).max(1024) as u64
}

/// What [`spill`] made of a message.
pub(crate) enum Spill {
    /// The message without its payload, which this node now holds for the reader.
    Held(OutboundMessage),
    /// The message as it was: even its headers are over the limit.
    TooLarge(OutboundMessage),
}

/// `message` without its payload, which this node holds for the reader from now on.
pub(crate) fn spill(cluster: &Cluster, message: OutboundMessage, limit: usize) -> Spill {
    let len = message.payload.len() as u64;
    let chunk = chunk_for(limit);
    // The header as it will be, its id as long as any (to measure).
    let widest = Spilled {
        owner: cluster.node(),
        id: u64::MAX,
        len,
        chunk,
    };
    let mut headers = message.headers.clone().unwrap_or_default();
    headers.insert(OBJECT, widest.header().as_str());
    let bare = OutboundMessage {
        subject: message.subject.clone(),
        reply: message.reply.clone(),
        payload: Bytes::new(),
        headers: Some(headers),
    };
    if super::limit::size(&bare) > limit {
        return Spill::TooLarge(message);
    }
    // Its buffer goes back to the spare (`spare.rs`) once the last range is read and sent.
    let payload = match message.payload.try_into_mut() {
        Ok(payload) => cluster.spare.bytes(Vec::from(payload)),
        Err(payload) => payload,
    };
    let id = cluster.objects.hold(payload, Instant::now());
    let spilled = Spilled { id, ..widest };
    let mut headers = message.headers.unwrap_or_default();
    headers.insert(OBJECT, spilled.header().as_str());
    Spill::Held(OutboundMessage {
        headers: Some(headers),
        ..bare
    })
}

/// Serves this node's objects to their readers; every process does, client-only or not.
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    let sub = cluster
        .data
        .subscribe(cluster.subjects.objects(cluster.node()))
        .await
        .map_err(|err| format!("could not subscribe object reads: {err}"))?;
    let sweep = |cluster: &Cluster| {
        let now = Instant::now();
        let freed = cluster.objects.sweep(now);
        if freed > 0 {
            tracing::debug!(freed, "objects no reader came for were freed");
        }
        let spare = cluster.spare.sweep(now);
        if spare > 0 {
            tracing::debug!(
                spare,
                "the spare buffer for fetched objects was freed, unused"
            );
        }
    };
    let serving = super::sweeping::serve(
        Arc::downgrade(cluster),
        sub,
        SWEEP_EVERY,
        sweep,
        async |cluster, message| answer(cluster, message).await,
    );
    cluster.handle.spawn(serving);
    Ok(())
}

/// Answers one read with its range, or the reason it cannot, on the data connection.
async fn answer(cluster: &Cluster, message: Message) {
    let Some(reply) = message.reply else {
        tracing::debug!("an object read with nowhere to answer");
        return;
    };
    let read = wire::decode::<Read>(&message.payload).map_err(|err| err.to_string());
    let range = read.and_then(|read| Ok((read, cluster.objects.read(&read, Instant::now())?)));
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    let payload = match range {
        Ok((read, bytes)) => {
            headers.insert(STATUS, "ok");
            headers.insert(SEQ, read.offset.to_string().as_str());
            bytes
        }
        Err(why) => {
            tracing::debug!(%why, "an object read refused");
            headers.insert(STATUS, "err");
            Bytes::from(wire::encode(&Failure::Wire(why)).unwrap_or_default())
        }
    };
    if let Err(err) = cluster
        .data
        .publish_with_headers(reply, headers, payload)
        .await
    {
        // The reader hears nothing more, and gives up within its bound (`fetch.rs`).
        tracing::warn!(%err, "a chunk not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_bad_ones_are_refused() {
        let spilled = Spilled {
            owner: NodeId::from_u64(0xab),
            id: 7,
            len: 1 << 30,
            chunk: 1 << 20,
        };
        assert_eq!(Spilled::parse(&spilled.header()), Some(spilled));
        for bad in [
            "",
            "ab.7",
            "ab.7.1.0",
            "ab.7.1.1.1",
            "zz.7.1.1",
            "ab.-1.1.1",
        ] {
            assert_eq!(Spilled::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_slice_the_object_and_the_last_frees_it() {
        let objects = Objects::default();
        let now = Instant::now();
        let id = objects.hold(Bytes::from_static(b"0123456789"), now);
        let read = |offset, len, last| Read {
            id,
            offset,
            len,
            last,
        };
        assert_eq!(objects.held().1, 10);
        assert_eq!(objects.read(&read(0, 4, false), now).unwrap(), "0123");
        assert!(
            objects.read(&read(8, 4, false), now).is_err(),
            "past the end"
        );
        assert!(objects.read(&read(u64::MAX, 4, false), now).is_err());
        assert_eq!(objects.read(&read(4, 6, true), now).unwrap(), "456789");
        assert_eq!(objects.held(), (0, 0));
        assert!(objects.read(&read(0, 1, false), now).is_err(), "freed");
    }

    #[test]
    fn orphans_are_swept_and_reading_keeps_an_object() {
        let objects = Objects::default();
        let start = Instant::now();
        let read = objects.hold(Bytes::from_static(b"ab"), start);
        let orphan = objects.hold(Bytes::from_static(b"cd"), start);
        let later = start + ORPHANED_AFTER / 2;
        let touch = Read {
            id: read,
            offset: 0,
            len: 1,
            last: false,
        };
        objects.read(&touch, later).unwrap();
        assert_eq!(objects.sweep(start + ORPHANED_AFTER), 1);
        let gone = Read {
            id: orphan,
            ..touch
        };
        assert!(objects.read(&gone, later).is_err());
        assert_eq!(objects.sweep(later + ORPHANED_AFTER), 1);
        assert_eq!(objects.held().0, 0);
    }
}
