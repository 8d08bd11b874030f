//! The host's side: serving a local named actor to the rest of the cluster.
//!
//! A named actor of a registered type claims its name in the registry before its constructor
//! runs (the constructor waits for the claim, so a name taken elsewhere fails the actor's
//! start). Its host subscribes the actor's own subject, answers each call from the type's
//! table, and on the actor's death unsubscribes and frees the name.

use std::{
    pin::pin,
    sync::{Arc, Weak},
};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use futures::{
    StreamExt,
    future::{BoxFuture, Either, select},
};
use tokio::sync::watch;

use super::{
    Cluster, current,
    registry::ActorRecord,
    types::{self, HostTable},
    wire::{self, CODEC, CODEC_ID, FINGERPRINT, Failure, METHOD, STATUS, VERB_KILL, VERB_READY},
};
use crate::{
    Actor, ActorClass, ActorError,
    actor::{ActorCell, ActorShared},
    driver::Constructor,
    error::DeathCause,
    options::ActorConfig,
    registry::Key,
};

/// The outcome of claiming the name: `None` while in flight.
type Claimed = Option<Result<(), String>>;

/// A named actor about to be served to the cluster.
pub(crate) struct Hosting<A> {
    cluster: Arc<Cluster>,
    table: Arc<HostTable<A>>,
    key: Key,
    detached: bool,
    max_pending_calls: Option<u64>,
    max_task_retries: i64,
    claimed: watch::Sender<Claimed>,
}

/// The hosting of the named actor `key` when this process is in a cluster and has
/// registered `A`; `None` otherwise (the actor stays local).
pub(crate) fn host_named<A: ActorClass>(key: &Key, config: &ActorConfig) -> Option<Hosting<A>> {
    let cluster = current()?;
    let table = types::registered::<A>()?.host::<A>()?;
    let (claimed, _) = watch::channel(None);
    Some(Hosting {
        cluster,
        table,
        key: key.clone(),
        detached: config.lifetime == crate::Lifetime::Detached,
        max_pending_calls: config.max_pending_calls.map(|n| n as u64),
        max_task_retries: config.max_task_retries,
        claimed,
    })
}

impl<A: ActorClass> Hosting<A> {
    /// `construct`, first waiting (once) for the name's claim to succeed.
    pub(crate) fn wrap(&self, construct: Constructor<A>) -> Constructor<A> {
        let claimed = self.claimed.subscribe();
        Box::new(move || {
            let mut claimed = claimed.clone();
            let construct = construct();
            Box::pin(async move {
                let outcome = claimed
                    .wait_for(Option::is_some)
                    .await
                    .map(|claimed| claimed.clone());
                match outcome {
                    Ok(Some(Ok(()))) => construct.await,
                    Ok(Some(Err(err))) => Err(err),
                    _ => Err("the cluster connection closed before the name was claimed".into()),
                }
            }) as BoxFuture<'static, _>
        })
    }

    /// Claims the name and serves the actor until it dies.
    pub(crate) fn start(self, cell: &Arc<ActorCell<A>>) {
        let shared = Arc::clone(&cell.shared);
        let weak = Arc::downgrade(cell);
        let handle = self.cluster.handle.clone();
        handle.spawn(self.serve(weak, shared));
    }

    async fn serve(self, cell: Weak<ActorCell<A>>, shared: Arc<ActorShared>) {
        let cluster = Arc::clone(&self.cluster);
        let (namespace, name) = self.key.clone();
        let subject = cluster.actor_subject(cluster.node(), shared.id.local());
        let subscribed = async {
            let sub = cluster
                .client
                .subscribe(subject)
                .await
                .map_err(|e| e.to_string())?;
            // The subscription reaches the server before the record names it.
            cluster.client.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(sub)
        };
        let mut sub = match subscribed.await {
            Ok(sub) => sub,
            Err(err) => {
                self.claimed.send_replace(Some(Err(format!(
                    "could not serve the actor to the cluster: {err}"
                ))));
                return;
            }
        };
        let record = ActorRecord {
            namespace: namespace.clone(),
            name: name.clone(),
            id: shared.id.local(),
            node: cluster.node(),
            type_name: shared.label.type_name().to_owned(),
            fingerprint: self.table.fingerprint,
            max_pending_calls: self.max_pending_calls,
            max_task_retries: self.max_task_retries,
            detached: self.detached,
        };
        let revision = match cluster.registry.claim(&record).await {
            Ok(Some(revision)) => revision,
            Ok(None) => {
                self.claimed.send_replace(Some(Err(format!(
                    "the name \"{namespace}/{name}\" is taken by another actor in the cluster"
                ))));
                return;
            }
            Err(err) => {
                self.claimed.send_replace(Some(Err(err)));
                return;
            }
        };
        self.claimed.send_replace(Some(Ok(())));
        tracing::debug!(%namespace, %name, "serving actor to the cluster");
        let mut died = pin!(died(&shared));
        while let Either::Left((Some(message), _)) = select(sub.next(), died.as_mut()).await {
            serve_one(&cluster, &self.table, &cell, &shared, message);
        }
        let _ = sub.unsubscribe().await;
        cluster.registry.release(&namespace, &name, revision).await;
    }
}

/// Resolves once the actor is dead.
async fn died(shared: &ActorShared) {
    loop {
        let mut changed = pin!(shared.changed().notified());
        changed.as_mut().enable();
        if shared.death().is_some() {
            return;
        }
        changed.await;
    }
}

/// Answers one message to the actor's subject. Never blocks: the call is queued on the
/// actor, and a task sends its reply.
fn serve_one<A: ActorClass>(
    cluster: &Arc<Cluster>,
    table: &HostTable<A>,
    cell: &Weak<ActorCell<A>>,
    shared: &ActorShared,
    message: Message,
) {
    let header = |name: &str| {
        message
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let method = header(METHOD).unwrap_or_default();
    let reply = message.reply.clone();
    let actor = cell.upgrade().map(Actor::from_cell);
    let outcome: Result<BoxFuture<'static, Result<Vec<u8>, ActorError>>, Failure> = (|| {
        if header(CODEC).as_deref() != Some(CODEC_ID) {
            return Err(Failure::Wire(format!(
                "unknown codec {:?} (this host speaks {CODEC_ID})",
                header(CODEC)
            )));
        }
        let Some(actor) = &actor else {
            let cause = shared.death().unwrap_or(DeathCause::Shutdown);
            return Err(Failure::of(&ActorError::ActorDied {
                actor: shared.label.clone(),
                method: "?",
                cause,
            }));
        };
        match method.as_str() {
            VERB_READY => {
                let ready = actor.ready();
                Ok(Box::pin(async move { ready.await.map(|()| Vec::new()) })
                    as BoxFuture<'static, _>)
            }
            VERB_KILL => {
                let no_restart = wire::decode::<bool>(&message.payload).unwrap_or(true);
                crate::kill(actor, no_restart);
                Ok(Box::pin(async { Ok(Vec::new()) }) as BoxFuture<'static, _>)
            }
            name => {
                let expected = format!("{:016x}", table.fingerprint);
                if header(FINGERPRINT).as_deref() != Some(expected.as_str()) {
                    return Err(Failure::Wire(format!(
                        "the caller's type `{}` differs from this host's (another definition)",
                        shared.label.type_name()
                    )));
                }
                let Some(serve) = table.methods.get(name) else {
                    return Err(Failure::Wire(format!(
                        "actor {} has no remote method `{name}`",
                        shared.label
                    )));
                };
                serve(actor, &message.payload).map_err(|err| {
                    Failure::Wire(format!("the arguments of `{name}` do not decode: {err}"))
                })
            }
        }
    })();
    let Some(reply) = reply else {
        return; // a message that wants no answer (a kill)
    };
    let cluster = Arc::clone(cluster);
    let answer = async move {
        let result = match outcome {
            Ok(call) => call.await.map_err(|err| Failure::of(&err)),
            Err(failure) => Err(failure),
        };
        let (status, payload) = match result {
            Ok(bytes) => ("ok", bytes),
            Err(failure) => {
                if let Failure::Wire(what) = &failure {
                    tracing::warn!(%what, "bad call from the wire");
                }
                ("err", wire::encode(&failure).unwrap_or_default())
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(CODEC, CODEC_ID);
        headers.insert(STATUS, status);
        cluster.publish(OutboundMessage {
            subject: reply,
            reply: None,
            payload: Bytes::from(payload),
            headers: Some(headers),
        });
    };
    tokio::spawn(answer);
}
