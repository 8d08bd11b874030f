//! Final deaths: an actor's tombstone, who writes it, who reads it, and how long the registry
//! keeps it.
//!
//! An actor that dies for good keeps its record in the registry, with its
//! [`Death`](super::registry::Death) filled in: its *tombstone*. A named actor's is its record
//! under its name (a revision-checked update, so only the actor that holds the name is
//! buried); an anonymous one whose handle crossed processes gets one under `anon.<node>.<id>`
//! (no one else writes that key). Who writes it:
//! - the host of an actor that dies ([`bury_served`], `host.rs`), before it stops serving the
//!   actor's subject. At a shutdown of its process, a named actor's name is freed instead: the
//!   actor did not fail, its process left;
//! - the first node to find a node dead, for each actor that died with it: not detached, or
//!   no restarts left ([`died_with_node`], `revive.rs`);
//! - a node back from being cut off, for an actor it stopped that has no restarts left
//!   (`fence.rs`).
//!
//! A caller whose actor does not answer reads it ([`latest`], `verdict.rs`): `ActorDied` with
//! the recorded cause. A new actor may claim a tombstoned name (`claim.rs`).
//!
//! **Retention** (`Config::dead_actors_kept`): a sweep drops the oldest tombstones beyond the
//! retention's count, and every one older than its time. Any node may sweep (the purges are
//! revision-checked); each does about every 30 s (`watchdog.rs` calls [`sweep`]), once it has
//! written half the retention's count of tombstones since its last sweep, so that a burst of
//! deaths cannot outgrow the retention by more than that, and again within about a second of
//! its last tombstone, so that the registry is back within the retention soon after a burst.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use super::{
    Cluster, NodeId, node,
    registry::{self, ActorRecord, Death, Registry},
    wire,
};
use crate::{DeathCause, seam::ActorShared};

/// How many tombstones the registry keeps, and for how long (`Config::dead_actors_kept`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retention {
    pub(crate) most: usize,
    pub(crate) longest: Duration,
}

/// `record` made a tombstone: the actor died for good of `cause`, now, after `restarts`
/// restarts.
fn tombstone(mut record: ActorRecord, cause: &DeathCause, restarts: u32) -> ActorRecord {
    record.death = Some(Death {
        cause: wire::Cause::of(cause),
        at_ms: node::now_millis(),
        restarts,
    });
    record
}

/// Makes `record` (read at `revision`) the tombstone of its actor, dead of `cause`; `false`
/// when the record changed since (another node buried it, or the name went to another).
pub(crate) async fn bury(
    registry: &Registry,
    record: ActorRecord,
    revision: u64,
    cause: &DeathCause,
    restarts: u32,
) -> Result<bool, String> {
    let dead = tombstone(record, cause, restarts);
    Ok(registry.take_over(&dead, revision).await?.is_some())
}

/// Writes the tombstone of the anonymous actor `record`, dead of `cause`.
async fn bury_anonymous(
    registry: &Registry,
    record: ActorRecord,
    cause: &DeathCause,
    restarts: u32,
) -> Result<(), String> {
    let key = registry::anonymous_key(record.node, record.id);
    registry
        .put_record(&key, &tombstone(record, cause, restarts))
        .await
}

/// Records the death of the actor `shared` that this node served under `record`: a named
/// actor's record (held at `revision`) becomes its tombstone, and so does an anonymous one's.
/// A shutdown of this process frees the name instead: the actor did not fail, its process left.
pub(crate) async fn bury_served(
    cluster: &Arc<Cluster>,
    shared: &ActorShared,
    record: ActorRecord,
    revision: Option<u64>,
) {
    let cause = shared.death().unwrap_or(DeathCause::Shutdown);
    let restarts = shared.restarts();
    let registry = &cluster.registry;
    let outcome = match revision {
        Some(revision) if cause == DeathCause::Shutdown => {
            registry
                .release(&record.namespace, &record.name, revision)
                .await;
            Ok(())
        }
        Some(revision) => bury(registry, record, revision, &cause, restarts)
            .await
            .map(drop),
        None => bury_anonymous(registry, record, &cause, restarts).await,
    };
    match outcome {
        Ok(()) if cause != DeathCause::Shutdown => buried(cluster),
        Ok(()) => {}
        Err(err) => {
            tracing::warn!(actor = %shared.label, %err, "the actor's death was not recorded")
        }
    }
}

/// The actor of `record` (read at `revision`) died with its dead host `node`: makes the record
/// its tombstone, unless another node that found `node` dead did first.
pub(crate) async fn died_with_node(
    cluster: &Arc<Cluster>,
    record: ActorRecord,
    revision: u64,
    node: NodeId,
) {
    let cause = DeathCause::NodeDied(node.to_string());
    let restarts = record.moves;
    match bury(&cluster.registry, record, revision, &cause, restarts).await {
        Ok(true) => buried(cluster),
        Ok(false) => {} // another node wrote it first
        Err(err) => {
            tracing::warn!(%err, %node, "could not record the death of a dead node's actor");
        }
    }
}

/// The record of the actor `record` names now (its tombstone, for an anonymous actor), if it
/// is still this actor's: a name may be another actor's since.
pub(crate) async fn latest(
    registry: &Registry,
    record: &ActorRecord,
) -> Result<Option<ActorRecord>, String> {
    let found = if record.name.is_empty() {
        let key = registry::anonymous_key(record.node, record.id);
        registry.read(&key).await?.map(|(record, _)| record)
    } else {
        registry.lookup(&record.namespace, &record.name).await?
    };
    Ok(found.filter(|now| now.same_actor(record)))
}

/// What a process counts to decide when to sweep.
pub(crate) struct Sweeper {
    retention: Retention,
    /// Tombstones this process wrote since its last sweep.
    buried: AtomicUsize,
    /// A sweep after the current burst of deaths is scheduled.
    pending: AtomicBool,
}

impl Sweeper {
    /// Sweeps beyond `retention`.
    pub(crate) fn new(retention: Retention) -> Self {
        Sweeper {
            retention,
            buried: AtomicUsize::new(0),
            pending: AtomicBool::new(false),
        }
    }
}

/// How long after a tombstone, with no other since, this process sweeps.
const AFTER_A_BURST: Duration = Duration::from_secs(1);

/// Counts a tombstone this process wrote, and sweeps when the rules above say so.
fn buried(cluster: &Arc<Cluster>) {
    let sweeper = &cluster.sweeper;
    let threshold = (sweeper.retention.most / 2).max(1);
    if sweeper.buried.fetch_add(1, Ordering::AcqRel) + 1 >= threshold {
        sweep(cluster);
    }
    if !sweeper.pending.swap(true, Ordering::AcqRel) {
        let cluster = Arc::clone(cluster);
        let handle = cluster.handle.clone();
        handle.spawn(async move {
            tokio::time::sleep(AFTER_A_BURST).await;
            cluster.sweeper.pending.store(false, Ordering::Release);
            if cluster.sweeper.buried.load(Ordering::Acquire) > 0 {
                sweep(&cluster);
            }
        });
    }
}

/// Drops the tombstones beyond the retention, in the background.
pub(crate) fn sweep(cluster: &Arc<Cluster>) {
    cluster.sweeper.buried.store(0, Ordering::Release);
    let sweeping = Arc::clone(cluster);
    cluster.handle.spawn(async move {
        let retention = sweeping.sweeper.retention;
        match drop_beyond(&sweeping.registry, retention).await {
            Ok(0) => {}
            Ok(dropped) => tracing::debug!(dropped, "old tombstones dropped"),
            Err(err) => tracing::debug!(%err, "tombstones not swept"),
        }
    });
}

/// Drops the tombstones beyond `retention`: the oldest first, past its count, and every one
/// older than its time. Returns how many it dropped.
async fn drop_beyond(registry: &Registry, retention: Retention) -> Result<usize, String> {
    let mut dead: Vec<(u64, String, u64)> = Vec::new();
    for prefix in ["name.", "anon."] {
        for (record, revision) in registry.scan_entries::<ActorRecord>(prefix).await? {
            if let Some(death) = &record.death {
                let key = if prefix == "anon." {
                    registry::anonymous_key(record.node, record.id)
                } else {
                    registry::name_key(&record.namespace, &record.name)
                };
                dead.push((death.at_ms, key, revision));
            }
        }
    }
    // Newest first: keep the first `most` that are young enough.
    dead.sort_unstable_by_key(|(at_ms, ..)| std::cmp::Reverse(*at_ms));
    let longest = u64::try_from(retention.longest.as_millis()).unwrap_or(u64::MAX);
    let oldest_kept = node::now_millis().saturating_sub(longest);
    let mut dropped = 0;
    for (rank, (at_ms, key, revision)) in dead.into_iter().enumerate() {
        if rank < retention.most && at_ms >= oldest_kept {
            continue;
        }
        // A name claimed again since is not a tombstone any more: its newer record stays.
        match registry.forget(&key, revision).await {
            Ok(()) => dropped += 1,
            Err(err) => tracing::debug!(%err, "a tombstone not dropped"),
        }
    }
    Ok(dropped)
}
