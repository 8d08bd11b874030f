//! Restarting elsewhere: when a node dies, its detached named actors start again on a live
//! node that registered their type.
//!
//! Every node that declares a node dead (`watchdog.rs`) scans the registry for the actors
//! that node ran. Those that cannot run elsewhere (not detached, or no restarts left) died with
//! it: their records become tombstones (`deaths.rs`). For each detached one with restarts left
//! whose type it registered, a node that hosts actors (not a client-only one) tries a
//! revision-checked update of the actor's record naming itself as host: exactly one node wins.
//! The winner subscribes the actor's subject (the same as before: it is named by the actor's
//! id, which never changes), then creates the actor from the stored constructor arguments and
//! options. Existing handles keep working: their calls go to that subject.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_nats::Subscriber;

use super::{Cluster, NodeId, deaths, registry::ActorRecord, types};
use crate::seam::{self, Key};

/// A restart this node won, waiting for the builder to pick it up by name.
pub(crate) struct Adopted {
    pub(crate) record: ActorRecord,
    pub(crate) sub: Subscriber,
    pub(crate) revision: u64,
}

/// Restarts in progress on this node, by name.
#[derive(Default)]
pub(crate) struct Adoptions(Mutex<HashMap<Key, Adopted>>);

impl Adoptions {
    pub(crate) fn put(&self, key: Key, adopted: Adopted) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, adopted);
    }

    /// The restart of `key` in progress, if any.
    pub(crate) fn take(&self, key: &Key) -> Option<Adopted> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }
}

/// Restarts here what the dead `node` ran and this node can run, where it wins the record.
pub(crate) async fn revive(cluster: &Arc<Cluster>, node: NodeId) {
    let records = match cluster.registry.scan_entries::<ActorRecord>("name.").await {
        Ok(records) => records,
        Err(err) => {
            tracing::warn!(%err, %node, "could not look for the actors of a dead node");
            return;
        }
    };
    for (record, revision) in records {
        if record.host() != node || record.death.is_some() {
            continue;
        }
        if !record.can_move() {
            // It died with its node: not detached, or no restarts left. Whoever declares the
            // node dead first writes the tombstone; the others find the record changed.
            tracing::info!(name = %record.name, "actor of a dead node cannot run elsewhere");
            deaths::died_with_node(cluster, record, revision, node).await;
            continue;
        }
        if !cluster.hosts {
            continue; // a client-only process restarts nothing here
        }
        if let Err(err) = restart_here(cluster, record, revision).await {
            tracing::warn!(%err, %node, "could not restart an actor of a dead node");
        }
    }
}

/// What came of [`restart_here`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Restart {
    /// This node won the record and created the actor again.
    Started,
    /// Another node changed the record first: not ours to restart.
    Lost,
    /// It cannot restart here: no restarts left, no stored arguments, or its type is not
    /// registered here.
    Cannot,
}

/// Restarts the actor of `record` (read at `revision`) on this node: serves its subject, wins
/// the record by a revision-checked update naming this node as host, then creates it from its
/// stored constructor arguments. The restart counts against its `max_restarts`.
pub(crate) async fn restart_here(
    cluster: &Arc<Cluster>,
    record: ActorRecord,
    revision: u64,
) -> Result<Restart, String> {
    let Some(revival) = record.revival.clone().filter(|_| record.can_move()) else {
        return Ok(Restart::Cannot);
    };
    let used = record.moves;
    let Some(entry) = types::by_fingerprint(record.fingerprint) else {
        return Ok(Restart::Cannot);
    };
    let subject = cluster.subjects.actor(record.node, record.id);
    let sub = cluster.subscribe_flushed(subject).await?;
    let mut moved = record;
    moved.host = Some(cluster.node());
    moved.moves += 1;
    let Some(won) = cluster.registry.take_over(&moved, revision).await? else {
        return Ok(Restart::Lost);
    };
    tracing::info!(
        namespace = %moved.namespace,
        name = %moved.name,
        restarts = moved.moves,
        "restarting a detached actor here"
    );
    let key = (moved.namespace.clone(), moved.name.clone());
    cluster.adoptions.put(
        key.clone(),
        Adopted {
            record: moved,
            sub,
            revision: won,
        },
    );
    // The restart counts against `max_restarts`: the new instance has what is left.
    let mut options = revival.options.clone();
    options = options.max_restarts(seam::restarts_left_after(revival.max_restarts, used));
    let spawn = entry.spawn;
    let args = revival.args.clone();
    let picked = Arc::clone(cluster);
    let created = cluster
        .handle
        .clone()
        .spawn_blocking(move || {
            let outcome = spawn(options, &args);
            // Not picked up (the spawn failed early): release the subscription and name.
            drop(picked.adoptions.take(&key));
            outcome
        })
        .await;
    match created {
        Ok(Ok(_)) => Ok(Restart::Started),
        Ok(Err(failure)) => Err(format!("the actor did not start again: {failure:?}")),
        Err(err) => Err(format!("the actor did not start again: {err}")),
    }
}
