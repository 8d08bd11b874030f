//! Restarting elsewhere: when a node dies, its detached named actors start again on a live
//! node that registered their type.
//!
//! Every node that declares a node dead (`liveness.rs`) scans the registry for the actors that
//! node ran. For each detached one with restarts left whose type it registered, it tries a
//! revision-checked update of the actor's record naming itself as host: exactly one node wins.
//! The winner subscribes the actor's subject (the same as before: it is named by the actor's
//! id, which never changes), then creates the actor from the stored constructor arguments and
//! options. Existing handles keep working: their calls go to that subject.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_nats::Subscriber;

use super::{Cluster, NodeId, registry::ActorRecord, types};
use crate::registry::Key;

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
        if record.host() != node || !record.detached {
            continue;
        }
        let Some(revival) = record.revival.clone().filter(|_| record.can_move()) else {
            tracing::info!(name = %record.name, "actor of a dead node has no restarts left");
            continue;
        };
        let used = i64::from(record.moves);
        let Some(entry) = types::by_fingerprint(record.fingerprint) else {
            continue;
        };
        let subject = cluster.actor_subject(record.node, record.id);
        let sub = match cluster.subscribe_flushed(subject).await {
            Ok(sub) => sub,
            Err(err) => {
                tracing::warn!(%err, "could not serve a restarted actor");
                continue;
            }
        };
        let mut moved = record.clone();
        moved.host = Some(cluster.node());
        moved.moves += 1;
        let won = match cluster.registry.take_over(&moved, revision).await {
            Ok(Some(revision)) => revision,
            // Another node won, or the registry is unreachable: not ours to restart.
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(%err, "could not restart an actor of a dead node");
                continue;
            }
        };
        tracing::info!(
            namespace = %moved.namespace,
            name = %moved.name,
            dead = %node,
            "restarting an actor of a dead node here"
        );
        let key = (moved.namespace.clone(), moved.name.clone());
        cluster.adoptions.put(
            key.clone(),
            Adopted {
                record: moved.clone(),
                sub,
                revision: won,
            },
        );
        // The restart counts against `max_restarts`: the new instance has what is left.
        let mut options = revival.options.clone();
        if revival.max_restarts != -1 {
            options = options.max_restarts((revival.max_restarts - used - 1).max(0));
        }
        let spawn = entry.spawn;
        let args = revival.args.clone();
        let cluster = Arc::clone(cluster);
        let created = cluster
            .handle
            .clone()
            .spawn_blocking(move || {
                let outcome = spawn(options, &args);
                // Not picked up (the spawn failed early): release the subscription and name.
                drop(cluster.adoptions.take(&key));
                outcome
            })
            .await;
        match created {
            Ok(Ok(_)) => {}
            Ok(Err(failure)) => tracing::warn!(?failure, "an actor of a dead node did not restart"),
            Err(err) => tracing::warn!(%err, "an actor of a dead node did not restart"),
        }
    }
}
