//! Claiming a name in the cluster as a named actor is created.
//!
//! A named actor of a registered type claims its name in the registry (an atomic create: of
//! two processes racing for a name, one wins; with `get_if_exists` the other gets a handle to
//! the winner's actor). A name held by a tombstone, or by a node whose process is gone, is
//! taken over by a revision-checked update. The winner subscribes the actor's subject before
//! it claims, so that a record naming it is never seen before it is served (`host.rs`).

use std::{any::Any, sync::Arc, time::Duration};

use async_nats::Subscriber;

use super::{
    Cluster, block_on, current, host,
    registry::{ActorRecord, Revival},
    types::{self, HostTable},
    watchdog,
};
use crate::{
    ActorClass, DeathCause,
    seam::{ActorCell, ActorId, Claim, Claimed, Hosting},
};

/// Claims the name `key` in the cluster for actor `id`, blocking for the registry's answer
/// (at most 10 s): the claim is what makes two processes racing for one name create one
/// actor.
///
/// Monomorphized for each registered type (`TypeEntry::claim`).
pub(crate) fn claim_named<A: ActorClass>(claim: Claim<'_>) -> Claimed {
    let Claim {
        class,
        key,
        id,
        detached,
        get_if_exists,
        max_pending_calls,
        max_task_retries,
        revival,
    } = claim;
    let Some(cluster) = current() else {
        return Claimed::Local;
    };
    let Some(entry) = types::registered::<A>() else {
        return Claimed::Local;
    };
    let Some(table) = entry.host::<A>() else {
        return Claimed::Local;
    };
    // Another node's actor being restarted here: its name is this node's already.
    if let Some(adopted) = cluster.adoptions.take(key) {
        return Claimed::Serve(Box::new(Hosted {
            inner: Some(Box::new(HostedInner {
                cluster,
                table,
                record: adopted.record,
                sub: adopted.sub,
                revision: adopted.revision,
            })),
        }));
    }
    let revival = detached.then(revival).and_then(|(options, args)| {
        let max_restarts = options.max_restarts_or_default();
        match (entry.encode_constructor)(args) {
            Ok(args) => Some(Revival {
                options,
                args,
                max_restarts,
            }),
            Err(err) => {
                tracing::warn!(%err, "a detached actor that cannot be restarted on another node");
                None
            }
        }
    });
    let (namespace, name) = key.clone();
    let record = ActorRecord {
        namespace: namespace.clone(),
        name: name.clone(),
        id: id.local(),
        node: cluster.node(),
        type_name: std::any::type_name::<A>().to_owned(),
        fingerprint: table.fingerprint,
        max_pending_calls: max_pending_calls.map(|n| n as u64),
        max_task_retries,
        detached,
        host: None,
        moves: 0,
        revival,
        death: None,
    };
    let claimed = record.clone();
    let claim = {
        let cluster = Arc::clone(&cluster);
        let subject = cluster.subjects.actor(cluster.node(), id.local());
        async move {
            let sub = cluster.subscribe_flushed(subject).await?;
            match cluster.registry.claim(&record).await? {
                Some(revision) => Ok(Ok((sub, revision))),
                None => {
                    let mut held = cluster
                        .registry
                        .lookup_entry(&record.namespace, &record.name)
                        .await?;
                    // A tombstone: the name is free to claim again.
                    if let Some((holder, revision)) = &held
                        && holder.death.is_some()
                    {
                        if let Some(revision) =
                            cluster.registry.take_over(&record, *revision).await?
                        {
                            return Ok(Ok((sub, revision)));
                        }
                        // Claimed by another meanwhile: that one holds it now.
                        held = cluster
                            .registry
                            .lookup_entry(&record.namespace, &record.name)
                            .await?;
                    }
                    // A name whose holder's process is gone (killed, say) is taken over.
                    if let Some((holder, revision)) = &held
                        && holder.node != cluster.node()
                        && watchdog::ping(&cluster, holder.node).await == watchdog::Ping::Gone
                        && let Some(revision) =
                            cluster.registry.take_over(&record, *revision).await?
                    {
                        tracing::info!(
                            namespace = %record.namespace,
                            name = %record.name,
                            dead = %holder.node,
                            "name taken over from a node that is gone"
                        );
                        return Ok(Ok((sub, revision)));
                    }
                    drop(sub);
                    Ok(Err(held.map(|(holder, _)| holder)))
                }
            }
        }
    };
    let outcome = match block_on(&cluster.handle, Duration::from_secs(10), claim) {
        Ok(outcome) => outcome,
        Err(err) => Err(err.to_string()),
    };
    let taken = || {
        Claimed::Refused(DeathCause::NameTaken {
            namespace: namespace.clone(),
            name: name.clone(),
        })
    };
    match outcome {
        Ok(Ok((sub, revision))) => Claimed::Serve(Box::new(Hosted {
            inner: Some(Box::new(HostedInner {
                cluster,
                table,
                record: claimed,
                sub,
                revision,
            })),
        })),
        // Held by this process: the local registry decides (it knows that actor).
        Ok(Err(Some(held))) if held.node == cluster.node() => Claimed::Local,
        Ok(Err(Some(held))) if get_if_exists => {
            match super::client::remote_handle(&cluster, held, Some(entry), class) {
                Ok(actor) => Claimed::Existing(actor),
                Err(err) => Claimed::Refused(DeathCause::InvalidOptions(err.to_string())),
            }
        }
        Ok(Err(_)) => taken(),
        Err(err) => Claimed::Refused(DeathCause::InitFailed(format!(
            "could not claim its name in the cluster: {err}"
        ))),
    }
}

/// A name this process won, to serve once its actor exists; released if dropped unserved.
pub(crate) struct Hosted<A> {
    inner: Option<Box<HostedInner<A>>>,
}

struct HostedInner<A> {
    cluster: Arc<Cluster>,
    table: Arc<HostTable<A>>,
    /// The record the name holds.
    record: ActorRecord,
    sub: Subscriber,
    revision: u64,
}

impl<A> Drop for Hosted<A> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let HostedInner {
                cluster,
                record,
                sub,
                revision,
                ..
            } = *inner;
            let handle = cluster.handle.clone();
            handle.spawn(async move {
                drop(sub);
                cluster
                    .registry
                    .release(&record.namespace, &record.name, revision)
                    .await;
            });
        }
    }
}

impl<A: ActorClass> Hosting for Hosted<A> {
    /// The id the actor takes: the claimed one, or, restarted here, the one it always had.
    fn id(&self) -> ActorId {
        match &self.inner {
            Some(inner) => ActorId::of(inner.record.node.as_u64(), inner.record.id),
            None => ActorId::next(),
        }
    }

    /// How often the actor moved to another node so far: the restarts it starts with.
    fn moves(&self) -> u32 {
        self.inner.as_ref().map_or(0, |inner| inner.record.moves)
    }

    /// Serves the actor of `cell` until it dies, then frees its name.
    fn serve(mut self: Box<Self>, cell: &dyn Any) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let Some(cell) = cell.downcast_ref::<Arc<ActorCell<A>>>() else {
            tracing::error!("internal: an actor of another type to serve under a claimed name");
            return;
        };
        let HostedInner {
            cluster,
            table,
            record,
            sub,
            revision,
        } = *inner;
        host::serve_actor(&cluster, table, cell, record, sub, Some(revision));
    }
}
