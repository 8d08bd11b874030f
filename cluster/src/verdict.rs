//! What a caller concludes when its actor does not answer: dead for good, or only unavailable.
//!
//! A call that no process serves ("no responders"), or whose host is found dead, reads the
//! actor's record before it resolves, as Ray's callers ask the GCS for an actor's final state:
//! - a tombstone (`deaths.rs`): `ActorDied` with the recorded cause, at once;
//! - a live record of an actor that may run again elsewhere (detached, restarts left):
//!   `ActorUnavailable`, which is transient (a call with task retries waits for the restart
//!   instead, `rerun.rs`);
//! - a live record of one that cannot, or no record at all: `ActorDied { NodeDied }` once its
//!   host is known dead (this process found it dead, or its node record is gone). Until then
//!   the call waits, reading again, for at most the node timeout plus [`SETTLE_WITHIN`]; then
//!   `ActorUnavailable`.
//!
//! A host writes an actor's tombstone before it stops serving the actor's subject, so "no
//! responders" with a live record means the host itself is gone or cut off.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::{Cluster, NodeId, address::Address, calls::Pending, deaths, registry::ActorRecord};
use crate::{ActorState, DeathCause};

/// How long past the node timeout a call waits for its host's fate to be known.
const SETTLE_WITHIN: Duration = Duration::from_secs(2);

/// How often the record is read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// What the record and the host's liveness say of an actor that did not answer.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    /// Dead for good.
    Died(DeathCause),
    /// Not served now; it may be again.
    Unavailable,
    /// Its host may be dead: not known yet.
    Undecided,
}

/// The verdict on the actor `record` names, last known to run on `host`.
pub(super) async fn of(cluster: &Cluster, record: &ActorRecord, host: NodeId) -> Verdict {
    match deaths::latest(&cluster.registry, record).await {
        Ok(now) => judge(cluster, now.as_ref(), host).await,
        Err(err) => {
            tracing::debug!(%err, "could not read an actor's record");
            Verdict::Undecided
        }
    }
}

/// The verdict, given the actor's record now (`None`: it has none).
async fn judge(cluster: &Cluster, now: Option<&ActorRecord>, host: NodeId) -> Verdict {
    if let Some(death) = now.and_then(|now| now.death.as_ref()) {
        return Verdict::Died(death.cause.clone().into_cause());
    }
    if now.is_some_and(ActorRecord::can_move) {
        return Verdict::Unavailable;
    }
    let host = now.map_or(host, ActorRecord::host);
    if host_is_dead(cluster, host).await {
        Verdict::Died(DeathCause::NodeDied(host.to_string()))
    } else {
        Verdict::Undecided
    }
}

/// Whether `host` is known dead: found dead here, or its node record is gone (another node
/// found it dead, or it left).
async fn host_is_dead(cluster: &Cluster, host: NodeId) -> bool {
    cluster.liveness.is_dead(host) || matches!(cluster.registry.has_node(host).await, Ok(false))
}

/// The calls waiting for a verdict, by actor: one reader of the record per actor, however
/// many of its calls wait (a batch that found no one serving it, say).
#[derive(Default)]
pub(super) struct Settling(Mutex<HashMap<ActorKey, Vec<Waiting>>>);

/// An actor, by the node that created it and its id there.
type ActorKey = (NodeId, u64);

/// A call waiting for a verdict, with its message should the actor be unavailable.
type Waiting = (Pending, String);

impl Settling {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ActorKey, Vec<Waiting>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Resolves the call `pending`, which its actor did not answer, by the [`Verdict`] on the
/// actor: `ActorDied` or, with `message`, `ActorUnavailable`. Runs on the cluster's runtime.
pub(super) fn settle(cluster: &Arc<Cluster>, pending: Pending, message: String) {
    let Some(address) = pending.address.clone() else {
        return pending.unavailable(&message);
    };
    let key = (address.record.node, address.record.id);
    let host = pending.node.unwrap_or_else(|| address.host());
    {
        let mut settling = cluster.settling.lock();
        if let Some(waiting) = settling.get_mut(&key) {
            // Another call of this actor reads its record already: its verdict is this one's.
            waiting.push((pending, message));
            return;
        }
        settling.insert(key, vec![(pending, message)]);
    }
    let deadline = Instant::now() + cluster.node_timeout + SETTLE_WITHIN;
    let judging = Arc::clone(cluster);
    cluster.handle.spawn(async move {
        let verdict = loop {
            match of(&judging, &address.record, host).await {
                Verdict::Undecided if Instant::now() + POLL < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                verdict => break verdict,
            }
        };
        let waiting = judging.settling.lock().remove(&key).unwrap_or_default();
        for (pending, message) in waiting {
            match &verdict {
                Verdict::Died(cause) => pending.died(cause.clone()),
                Verdict::Unavailable | Verdict::Undecided => pending.unavailable(&message),
            }
        }
    });
}

/// The state and restarts of an actor whose host did not answer, from its record: `Dead` with
/// the recorded cause, or with `NodeDied` once its host is known dead; `Unreachable` otherwise.
pub(super) async fn state(cluster: &Cluster, address: &Address) -> (ActorState, u32) {
    let (record, host) = (&address.record, address.host());
    let now = deaths::latest(&cluster.registry, record)
        .await
        .ok()
        .flatten();
    let restarts = now.as_ref().map_or(record.moves, |now| {
        now.death.as_ref().map_or(now.moves, |death| death.restarts)
    });
    match judge(cluster, now.as_ref(), host).await {
        Verdict::Died(cause) => (ActorState::Dead(cause), restarts),
        Verdict::Unavailable | Verdict::Undecided => (ActorState::Unreachable, restarts),
    }
}
