//! Creating actors on other nodes: `ActorOptions::placement(Placement::Node(id) | Any)`.
//!
//! The creator sends a spawn request (the options, and the constructor's encoded arguments)
//! to `helio.<cluster>.spawn.<node>`. For `Any`, the node is the least loaded of the live
//! nodes that host and registered the type, where the actor's resources fit (`schedule.rs`);
//! the request counts there until its answer comes (`placing.rs`). That node creates the actor
//! locally, serves it, and answers with its address.

use std::{any::Any, sync::Arc, time::Duration};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, current, handles,
    load::Load,
    registry::ActorRecord,
    schedule::{self, Unfit},
    types,
    wire::{self, CODEC, CODEC_ID, FINGERPRINT, Failure},
};
use crate::{
    ActorClass, ActorError, ActorOptions, ActorState, DeathCause, MsgPack, Placement,
    seam::{self, ActorLabel, Class, Remotable, detached_pair},
};

/// How long creating an actor elsewhere may take.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to create an actor.
#[derive(Serialize, Deserialize)]
struct SpawnRequest {
    options: ActorOptions,
    args: Vec<u8>,
}

/// Creates an actor of `class` on the node `placement` picks, and returns its handle (a boxed
/// `Actor<A>`).
pub(crate) fn place(
    class: Class,
    options: ActorOptions,
    placement: Placement,
    args: Box<dyn Any + Send>,
) -> Result<Box<dyn Any + Send>, DeathCause> {
    let invalid = |message: String| DeathCause::InvalidOptions(message);
    let cluster = current().ok_or_else(|| {
        invalid(
            "a placement other than `Local` needs cluster mode \
             (`helio::init(helio::Config::cluster(url))`)"
                .to_owned(),
        )
    })?;
    let entry = types::by_class(class).ok_or_else(|| {
        invalid(format!(
            "placing a `{0}` on another node needs `helio::register::<{0}>()` first",
            class.type_name
        ))
    })?;
    let args = (entry.encode_constructor)(args)
        .map_err(|err| invalid(format!("the constructor's arguments do not encode: {err}")))?;
    let demand = seam::actor_demand(&options).map_err(invalid)?;
    let request = wire::encode(&SpawnRequest { options, args })
        .map_err(|err| invalid(format!("the options do not encode: {err}")))?;
    let failed = |message: String| {
        DeathCause::InitFailed(format!("could not create it on another node: {message}"))
    };
    // `Local` never comes here (the runtime creates it in this process).
    let (node, sending) = match placement {
        Placement::Node(node) => (node, None),
        Placement::Any | Placement::Local | Placement::PreferNode(_) | Placement::Spread => {
            let prefer = match placement {
                Placement::PreferNode(node) => Some(node),
                _ => None,
            };
            // The least-loaded node where its resources are (`schedule.rs`).
            let asking = Arc::clone(&cluster);
            let fingerprint = entry.fingerprint;
            let found = super::block_on(&cluster.handle, SPAWN_TIMEOUT, async move {
                let wants = |load: &Load| load.hosts && load.types.contains(&fingerprint);
                schedule::candidates(&asking, wants).await
            })
            .map_err(|err| DeathCause::Unschedulable(err.to_string()))?
            .map_err(DeathCause::Unschedulable)?;
            let chosen = match placement {
                Placement::Spread => schedule::spread(&cluster, &found, &demand),
                _ => schedule::place(&cluster, &found, &demand, prefer),
            };
            match chosen {
                Ok(sending) => (sending.node(), Some(sending)),
                // As when no node listened for its type: it asks for nothing, so only the
                // type was missing.
                Err(Unfit::Nobody) if demand.is_empty() => {
                    return Err(failed("no node has registered the type".to_owned()));
                }
                Err(unfit) => return Err(DeathCause::Unschedulable(unfit.to_string())),
            }
        }
    };
    let subject = cluster.subjects.spawn(node);
    let label = ActorLabel::new(entry.type_name, None);
    let (reply, done) = detached_pair::<Bytes>();
    let id = cluster.calls.insert_raw(
        label,
        "new_actor",
        Box::new(move |result| done.complete(result)),
    );
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(FINGERPRINT, format!("{:016x}", entry.fingerprint).as_str());
    cluster.publish(OutboundMessage {
        subject: subject.into(),
        reply: Some(cluster.subjects.inbox(id).into()),
        payload: Bytes::from(request),
        headers: Some(headers),
    });
    let bytes = match reply.get_timeout(SPAWN_TIMEOUT) {
        Ok(bytes) => bytes,
        Err(ActorError::ActorUnavailable { .. }) => {
            return Err(failed(match placement {
                Placement::Node(node) => format!("no node {node} serves spawn requests"),
                _ => format!("node {node}, chosen for it, no longer serves spawn requests"),
            }));
        }
        Err(ActorError::ActorDied { cause, .. }) => return Err(cause),
        Err(err) => return Err(failed(err.to_string())),
    };
    // Created: the node's next load counts it.
    if let Some(sending) = sending {
        sending.answered();
    }
    let record: ActorRecord =
        wire::decode(&bytes).map_err(|err| failed(format!("a bad answer: {err}")))?;
    handles::attach(&cluster, class, record).map_err(failed)
}

/// Creates an actor from a spawn request on this node, and answers with its address.
pub(crate) fn spawn_here<A: ActorClass + Remotable<MsgPack>>(
    options: ActorOptions,
    args: &[u8],
) -> Result<ActorRecord, Failure> {
    let actor = A::spawn_encoded(options, args)
        .map_err(|err| Failure::Wire(format!("the constructor's arguments: {err}")))?;
    if let ActorState::Dead(cause) = actor.state() {
        return Err(Failure::Died(wire::Cause::of(&cause)));
    }
    let cluster =
        current().ok_or_else(|| Failure::Other("this node left the cluster".to_owned()))?;
    let record = handles::address::<A>(&cluster, &actor).map_err(Failure::Other)?;
    // Nothing else here holds it: it lives until killed (or this node leaves).
    cluster.served.keep(actor);
    Ok(record)
}

/// Listens for spawn requests to this node; a client-only process listens for none.
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    if !cluster.hosts {
        return Ok(());
    }
    let sub = cluster
        .client
        .subscribe(cluster.subjects.spawn(cluster.node()))
        .await
        .map_err(|err| format!("could not subscribe spawn requests: {err}"))?;
    cluster.handle.spawn(serve(Arc::downgrade(cluster), sub));
    Ok(())
}

async fn serve(cluster: std::sync::Weak<Cluster>, mut sub: async_nats::Subscriber) {
    let mut intake = super::intake::Intake::new(cluster.clone());
    while let Some(message) = intake.next(&mut sub).await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        // Creating an actor may block on the registry (a named actor's claim).
        let handle = cluster.handle.clone();
        handle.spawn_blocking(move || answer(&cluster, message));
    }
}

fn answer(cluster: &Cluster, message: Message) {
    let Some(reply) = message.reply.clone() else {
        return;
    };
    let fingerprint =
        wire::header(&message, FINGERPRINT).and_then(|v| u64::from_str_radix(v, 16).ok());
    let outcome = match fingerprint.and_then(types::by_fingerprint) {
        None => Err(Failure::Wire(
            "this node has not registered the requested actor type".to_owned(),
        )),
        Some(entry) => match wire::decode::<SpawnRequest>(&message.payload) {
            Ok(request) => (entry.spawn)(request.options, &request.args),
            Err(err) => Err(Failure::Wire(format!("a bad spawn request: {err}"))),
        },
    };
    let result = outcome
        .and_then(|record| wire::encode(&record).map_err(|err| Failure::Wire(err.to_string())));
    if let Err(failure) = &result {
        tracing::warn!(?failure, "spawn request refused");
    }
    cluster.reply(reply, result);
}
