//! Refs that cross processes: an `ObjectRef` travels as the address of its value (its owner
//! and the value's id there), and the process that receives one reads the value from the
//! owner, when it first waits for it, never through the processes in between.
//!
//! **Counting borrowers.** Each time a ref is serialized, its owner learns of one more
//! *ticket* (from itself at once, or from the borrower that passes the ref on: a `Ticket`
//! message), and the address carries that ticket. The process that deserializes it *claims*
//! the ticket (`Claim`, naming itself) and *releases* it once no ref of its own to the value
//! is left (`Release`). The owner keeps the value while any ticket is out. Tickets, claims
//! and releases travel from different processes, in any order: a released ticket is
//! remembered for a while, so that its `Ticket` or `Claim` coming late is not counted. A ticket whose holder died is dropped, and one that
//! nobody claimed within [`UNCLAIMED_AFTER`] (the message that carried it was lost) too.
//!
//! **Reading.** A `Get` to the owner, answered like a call: the encoded value, inline or
//! held for a fetch when large (`objects.rs`). If the owner dies first, the read fails with
//! `ActorError::OwnerDied` once the owner is found dead (within `node_timeout` + 2 s), or at
//! once when no process serves its subject.
//!
//! [`Shared`] is the owner's table, a pure core; the rest sends and answers its messages.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, NodeId, batch,
    calls::{Pending, Rerun},
    unanswered,
    wire::{self, CODEC, CODEC_ID, Failure},
};
use crate::{
    ActorError,
    seam::{ActorLabel, Borrow, Done, Export, Exported},
};

/// A ticket no process claimed for this long is dropped: the message carrying it was lost.
pub(crate) const UNCLAIMED_AFTER: Duration = Duration::from_secs(60);

/// How often the owner drops the tickets of dead holders and unclaimed ones.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// One crossing of a ref: the process that serialized it, and the encoding it was part of
/// there (one message may serialize a ref more than once: a serializer probes, a large value
/// is encoded again; each of those is the same crossing).
pub(crate) type Ticket = (u64, u64);

/// A ref's address on the wire: the owner, the value's id there, and the ticket it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Address {
    pub(crate) owner: u64,
    pub(crate) id: u64,
    pub(crate) ticket: Ticket,
}

/// Where a ref's value is: with its owner, or in the cluster's object store (`durable.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Where {
    Owner(Address),
    Store(String),
}

/// What borrowers tell an owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Told {
    /// A borrower passed the ref on: one more ticket is out.
    Ticket { id: u64, ticket: Ticket },
    /// `node` holds the ticket now.
    Claim { id: u64, ticket: Ticket, node: u64 },
    /// `node` holds one ref fewer by the ticket.
    Release { id: u64, ticket: Ticket, node: u64 },
    /// The value, please (a request: its reply is the encoded value).
    Get { id: u64 },
}

/// How the owner reads a value it shares (the runtime's, through the seam).
pub(crate) type Read = Arc<dyn Fn() -> crate::seam::EncodedValue + Send + Sync>;

/// The values this process owns that other processes may hold refs to.
#[derive(Default)]
pub(crate) struct Shared(Mutex<Table>);

#[derive(Default)]
struct Table {
    next_id: u64,
    /// By the value's identity in this process, so that one value shared twice is one id.
    ids: HashMap<usize, u64>,
    values: HashMap<u64, Value>,
    /// Tickets released, and when: remembered for a while, so that a `Ticket` or `Claim`
    /// that comes after its release (they travel from different processes) is not counted.
    released: HashMap<Ticket, Instant>,
}

struct Value {
    identity: usize,
    read: Read,
    tickets: HashMap<Ticket, Out>,
}

/// A ticket out: the refs each process holds by it (one message may carry a ref twice).
#[derive(Debug)]
struct Out {
    holders: HashMap<NodeId, u32>,
    claimed: bool,
    /// When it was issued.
    since: Instant,
}

impl Out {
    fn new(since: Instant) -> Self {
        Out {
            holders: HashMap::new(),
            claimed: false,
            since,
        }
    }

    /// Claimed, and every ref by it released.
    fn done(&self) -> bool {
        self.claimed && self.holders.is_empty()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Shares a value of this process by `ticket`: its id.
    pub(crate) fn share(&self, identity: usize, read: Read, ticket: Ticket, now: Instant) -> u64 {
        let mut table = self.lock();
        let id = match table.ids.get(&identity) {
            Some(&id) => id,
            None => {
                table.next_id += 1;
                let id = table.next_id;
                table.ids.insert(identity, id);
                table.values.insert(
                    id,
                    Value {
                        identity,
                        read,
                        tickets: HashMap::new(),
                    },
                );
                id
            }
        };
        if !table.released.contains_key(&ticket)
            && let Some(value) = table.values.get_mut(&id)
        {
            value.tickets.entry(ticket).or_insert_with(|| Out::new(now));
        }
        id
    }

    /// What a borrower told: `false` when it names no value held here.
    pub(crate) fn told(&self, told: &Told, now: Instant) -> bool {
        let mut table = self.lock();
        match *told {
            Told::Ticket { id, ticket } => {
                if table.released.contains_key(&ticket) {
                    return true; // released already
                }
                match table.values.get_mut(&id) {
                    Some(value) => {
                        value.tickets.entry(ticket).or_insert_with(|| Out::new(now));
                        true
                    }
                    None => false,
                }
            }
            Told::Claim { id, ticket, node } => {
                if table.released.contains_key(&ticket) {
                    return true;
                }
                match table.values.get_mut(&id) {
                    Some(value) => {
                        let out = value.tickets.entry(ticket).or_insert_with(|| Out::new(now));
                        out.claimed = true;
                        *out.holders.entry(NodeId::from_u64(node)).or_default() += 1;
                        true
                    }
                    None => false,
                }
            }
            Told::Release { id, ticket, node } => {
                let node = NodeId::from_u64(node);
                let done = match table
                    .values
                    .get_mut(&id)
                    .and_then(|value| value.tickets.get_mut(&ticket))
                {
                    Some(out) => {
                        if let Some(held) = out.holders.get_mut(&node) {
                            *held = held.saturating_sub(1);
                            if *held == 0 {
                                out.holders.remove(&node);
                            }
                        }
                        out.done()
                    }
                    None => true,
                };
                if done {
                    if let Some(value) = table.values.get_mut(&id) {
                        value.tickets.remove(&ticket);
                    }
                    table.released.insert(ticket, now);
                    table.free_if_unheld(id);
                }
                true
            }
            // A read counts nothing (`answer` serves it).
            Told::Get { id } => table.values.contains_key(&id),
        }
    }

    /// How to read value `id`, if it is held.
    pub(crate) fn read(&self, id: u64) -> Option<Read> {
        self.lock()
            .values
            .get(&id)
            .map(|value| Arc::clone(&value.read))
    }

    /// Drops the tickets of dead holders and those no one claimed in time, then the values
    /// no ticket holds; how many values were freed.
    pub(crate) fn sweep(&self, now: Instant, dead: impl Fn(NodeId) -> bool) -> usize {
        let mut table = self.lock();
        let old = |since: Instant| now.saturating_duration_since(since) >= UNCLAIMED_AFTER;
        for value in table.values.values_mut() {
            value.tickets.retain(|_, out| {
                out.holders.retain(|node, _| !dead(*node));
                !(out.done() || (!out.claimed && old(out.since)))
            });
        }
        table.released.retain(|_, since| !old(*since));
        let unheld: Vec<u64> = table
            .values
            .iter()
            .filter(|(_, value)| value.tickets.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in &unheld {
            table.free_if_unheld(*id);
        }
        unheld.len()
    }

    /// How many values other processes may read now.
    pub(crate) fn len(&self) -> usize {
        self.lock().values.len()
    }
}

impl Table {
    fn free_if_unheld(&mut self, id: u64) {
        if self
            .values
            .get(&id)
            .is_some_and(|value| value.tickets.is_empty())
            && let Some(value) = self.values.remove(&id)
        {
            self.ids.remove(&value.identity);
        }
    }
}

/// Bytes of ref values this process read from their owners (what [`ObjectStats`] reports).
///
/// [`ObjectStats`]: super::ObjectStats
pub(crate) static READ_BYTES: AtomicU64 = AtomicU64::new(0);

/// The address of `export`'s value, with a new ticket for the process that will read it.
pub(crate) fn export(cluster: &Cluster, export: Export) -> Result<Vec<u8>, String> {
    let me = cluster.node().as_u64();
    let ticket = (me, export.encoding);
    let address = match export.value {
        Exported::Borrowed(from) => {
            match wire::decode::<Where>(&from).map_err(|err| format!("a bad ref address: {err}"))? {
                // Durable: the store keeps it, whoever holds refs.
                Where::Store(name) => Where::Store(name),
                // Passed on: the owner counts one more ticket.
                Where::Owner(from) => {
                    tell(
                        cluster,
                        NodeId::from_u64(from.owner),
                        &Told::Ticket {
                            id: from.id,
                            ticket,
                        },
                    );
                    Where::Owner(Address { ticket, ..from })
                }
            }
        }
        Exported::Owned { identity, encode } => {
            let id = cluster
                .shared
                .share(identity, encode, ticket, Instant::now());
            Where::Owner(Address {
                owner: me,
                id,
                ticket,
            })
        }
    };
    wire::encode(&address).map_err(|err| err.to_string())
}

/// The value at `address` (with its owner), borrowed: claimed now, read when first wanted,
/// released when the last ref of this process to it is gone.
pub(crate) fn import(cluster: &Arc<Cluster>, address: Address) -> Result<Borrow, String> {
    let owner = NodeId::from_u64(address.owner);
    let Address { id, ticket, .. } = address;
    tell(
        cluster,
        owner,
        &Told::Claim {
            id,
            ticket,
            node: cluster.node().as_u64(),
        },
    );
    let reading = Arc::downgrade(cluster);
    let releasing = Arc::downgrade(cluster);
    Ok(Borrow {
        address: wire::encode(&Where::Owner(address)).map_err(|err| err.to_string())?,
        fetch: Box::new(move |done| get(&reading, owner, id, done)),
        release: Box::new(move || {
            if let Some(cluster) = releasing.upgrade() {
                let node = cluster.node().as_u64();
                tell(&cluster, owner, &Told::Release { id, ticket, node });
            }
        }),
    })
}

/// Sends `told` to `owner` (nothing waits on it).
fn tell(cluster: &Cluster, owner: NodeId, told: &Told) {
    match wire::encode(told) {
        Ok(payload) => send(cluster, owner, payload, None),
        Err(err) => tracing::warn!(%err, ?told, "a ref message not sent"),
    }
}

/// Sends an encoded `Told` to `owner`, answered to `reply` if any.
fn send(cluster: &Cluster, owner: NodeId, payload: Vec<u8>, reply: Option<String>) {
    cluster.publish(OutboundMessage {
        subject: cluster.subjects.refs(owner).into(),
        reply: reply.map(Into::into),
        payload: Bytes::from(payload),
        headers: Some(codec_headers()),
    });
}

/// The headers of a message to an owner: its codec.
fn codec_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers
}

/// Reads value `id` from `owner`, and tells `done`.
fn get(cluster: &Weak<Cluster>, owner: NodeId, id: u64, done: Done) {
    let Some(cluster) = cluster.upgrade() else {
        return done(Err(ActorError::OwnerDied {
            owner: format!("{owner} (this process left the cluster)"),
        }));
    };
    let ask = match wire::encode(&Told::Get { id }) {
        Ok(ask) => ask,
        Err(err) => {
            return done(Err(ActorError::Wire {
                message: format!("a read of a ref's value could not be encoded: {err}"),
            }));
        }
    };
    let call = cluster.calls.reserve();
    cluster.calls.insert_at(
        call,
        Pending {
            actor: ActorLabel::new("ObjectRef", None),
            method: "get",
            node: Some(owner),
            complete: Box::new(move |result| match result {
                Ok(bytes) => {
                    READ_BYTES.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    done(Ok(&bytes));
                }
                Err(ActorError::ActorDied { .. } | ActorError::ActorUnavailable { .. }) => {
                    done(Err(ActorError::OwnerDied {
                        owner: owner.to_string(),
                    }));
                }
                Err(err) => done(Err(err)),
            }),
            // A read runs any number of times: an outage sends it again (`outage.rs`).
            rerun: Some(Rerun {
                home: None,
                subject: cluster.subjects.refs(owner).into(),
                headers: codec_headers(),
                payload: Bytes::from(ask.clone()),
                retries: -1,
                deadline: None,
            }),
            dies_with_host: true,
            address: None,
            sent: Some(cluster.epochs.stamp(Some(owner))),
        },
    );
    unanswered::owed_by(&cluster, call, owner);
    send(&cluster, owner, ask, Some(cluster.subjects.inbox(call)));
}

/// Listens for what borrowers tell this process about the values it owns.
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    let sub = cluster
        .client
        .subscribe(cluster.subjects.refs(cluster.node()))
        .await
        .map_err(|err| format!("could not subscribe ref messages: {err}"))?;
    let sweep = |cluster: &Cluster| {
        let dead = |node| cluster.liveness.is_dead(node);
        let freed = cluster.shared.sweep(Instant::now(), dead);
        if freed > 0 {
            tracing::debug!(freed, "shared values no process holds were freed");
        }
    };
    let serving = super::sweeping::serve(
        Arc::downgrade(cluster),
        sub,
        SWEEP_EVERY,
        sweep,
        async |cluster, message| {
            for message in batch::split(message) {
                answer(cluster, message);
            }
        },
    );
    cluster.handle.spawn(serving);
    Ok(())
}

fn answer(cluster: &Arc<Cluster>, message: Message) {
    let told = match wire::decode::<Told>(&message.payload) {
        Ok(told) => told,
        Err(err) => {
            tracing::warn!(%err, "a bad ref message from the wire");
            return;
        }
    };
    let Told::Get { id } = told else {
        if !cluster.shared.told(&told, Instant::now()) {
            tracing::debug!(?told, "a ref message for a value no longer held");
        }
        return;
    };
    let Some(reply) = message.reply else { return };
    let Some(read) = cluster.shared.read(id) else {
        let why =
            format!("value {id} is no longer held by its owner (every ref to it was released)");
        return cluster.reply(reply, Err(Failure::Wire(why)));
    };
    let cluster = Arc::clone(cluster);
    let handle = cluster.handle.clone();
    handle.spawn(async move {
        let result = read().await.map_err(|err| Failure::of(&err));
        cluster.reply(reply, result);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read() -> Read {
        Arc::new(|| Box::pin(async { Ok(vec![1]) }))
    }

    const A: u64 = 0xa;
    const B: u64 = 0xb;
    const C: u64 = 0xc;

    fn release(id: u64, ticket: Ticket, node: u64) -> Told {
        Told::Release { id, ticket, node }
    }

    fn claim(id: u64, ticket: Ticket, node: u64) -> Told {
        Told::Claim { id, ticket, node }
    }

    #[test]
    fn a_value_is_held_while_a_ticket_is_out() {
        let shared = Shared::default();
        let now = Instant::now();
        let ticket = (A, 1);
        let id = shared.share(1, read(), ticket, now);
        // Serialized twice in one encoding: one ticket.
        assert_eq!(shared.share(1, read(), ticket, now), id);
        let second = (A, 2);
        assert_eq!(shared.share(1, read(), second, now), id);
        assert!(shared.told(&claim(id, ticket, B), now));
        assert!(shared.told(&release(id, ticket, B), now));
        assert_eq!(shared.len(), 1, "the second ticket holds it");
        shared.told(&claim(id, second, C), now);
        shared.told(&release(id, second, C), now);
        assert_eq!(shared.len(), 0);
        assert!(shared.read(id).is_none());
    }

    #[test]
    fn a_ticket_carrying_two_refs_is_held_until_both_are_released() {
        let shared = Shared::default();
        let now = Instant::now();
        let ticket = (A, 1);
        let id = shared.share(1, read(), ticket, now);
        for _ in 0..2 {
            shared.told(&claim(id, ticket, B), now);
        }
        shared.told(&release(id, ticket, B), now);
        assert_eq!(shared.len(), 1);
        shared.told(&release(id, ticket, B), now);
        assert_eq!(shared.len(), 0);
    }

    #[test]
    fn a_claim_and_release_before_their_ticket_leave_nothing_counted() {
        let shared = Shared::default();
        let now = Instant::now();
        let ticket = (A, 1);
        let id = shared.share(1, read(), ticket, now);
        shared.told(&claim(id, ticket, B), now);
        // B passes it to C; C claims and releases before B's word of the ticket comes.
        let passed = (B, 7);
        shared.told(&claim(id, passed, C), now);
        shared.told(&release(id, passed, C), now);
        assert!(shared.told(&Told::Ticket { id, ticket: passed }, now));
        shared.told(&release(id, ticket, B), now);
        assert_eq!(shared.len(), 0, "nothing holds it");
    }

    #[test]
    fn dead_holders_and_unclaimed_tickets_are_swept() {
        let shared = Shared::default();
        let now = Instant::now();
        let id = shared.share(1, read(), (A, 1), now);
        shared.told(&claim(id, (A, 1), B), now);
        let other = shared.share(2, read(), (A, 2), now);
        assert_eq!(shared.sweep(now, |_| false), 0);
        assert_eq!(shared.sweep(now, |node| node == NodeId::from_u64(B)), 1);
        assert!(shared.read(id).is_none());
        assert!(shared.read(other).is_some());
        assert_eq!(shared.sweep(now + UNCLAIMED_AFTER, |_| false), 1);
        assert_eq!(shared.len(), 0);
    }
}
