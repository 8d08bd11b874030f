//! The host's side: serving a local actor to the rest of the cluster.
//!
//! The host subscribes the actor's own subject first (a named actor's claim does, `claim.rs`),
//! answers each call from the type's table, and on the actor's death writes its tombstone (or
//! frees its name, at a shutdown: `deaths.rs`), then leaves the subject with a drain that
//! answers what was already on its way.

use std::{
    pin::pin,
    sync::{Arc, Weak},
    task::Poll,
    time::{Duration, Instant},
};

use async_nats::{HeaderMap, Message, Subscriber, message::OutboundMessage};
use bytes::Bytes;
use futures::{
    StreamExt,
    future::{BoxFuture, Either, poll_fn, select},
    stream::{BoxStream, FuturesUnordered},
};
use tokio::sync::watch;

use super::{
    Cluster, NodeId, deaths,
    inflight::Credit,
    registry::ActorRecord,
    types::HostTable,
    wire::{
        self, CODEC, CODEC_ID, FINGERPRINT, Failure, METHOD, SEQ, STATUS, VERB_CANCEL, VERB_CREDIT,
        VERB_KILL, VERB_READY, VERB_STATE, WINDOW,
    },
};
use crate::{
    ActorClass, ActorError, CallOptions, DeathCause,
    seam::{self, Canceller},
    seam::{ActorCell, ActorShared},
    seam::{Serve, ServedCall},
};

/// The record that names the anonymous actor of `cell`, hosted here.
pub(crate) fn record_of<A: ActorClass>(
    cluster: &Cluster,
    table: &HostTable<A>,
    cell: &ActorCell<A>,
) -> ActorRecord {
    let shared = &cell.shared();
    let node = NodeId::from_u64(shared.id.node());
    ActorRecord {
        namespace: String::new(),
        name: String::new(),
        id: shared.id.local(),
        node,
        type_name: shared.label.type_name().to_owned(),
        fingerprint: table.fingerprint,
        max_pending_calls: shared.max_pending_calls.map(|n| n as u64),
        max_task_retries: shared.max_task_retries,
        detached: false,
        host: Some(cluster.node()),
        moves: 0,
        revival: None,
        death: None,
    }
}

/// Serves the actor of `cell` on `sub` until it dies. With `revision`, it frees the name
/// `record` holds in the registry at the end.
pub(crate) fn serve_actor<A: ActorClass>(
    cluster: &Arc<Cluster>,
    table: Arc<HostTable<A>>,
    cell: &Arc<ActorCell<A>>,
    record: ActorRecord,
    mut sub: Subscriber,
    revision: Option<u64>,
) {
    let shared = Arc::clone(cell.shared());
    let weak = Arc::downgrade(cell);
    let id = shared.id.local();
    cluster
        .served
        .insert(record.clone(), weak.clone(), Arc::downgrade(&shared));
    cluster.fence.serving(&record, &shared);
    let cluster = Arc::clone(cluster);
    let handle = cluster.handle.clone();
    handle.spawn(async move {
        tracing::debug!(actor = %shared.label, "serving actor to the cluster");
        let mut answers = FuturesUnordered::new();
        let mut serving = Serving {
            cluster: &cluster,
            table: &table,
            cell: &weak,
            shared: &shared,
            moved: record.host() != record.node,
            answers: &mut answers,
            intake: super::intake::Intake::new(Arc::downgrade(&cluster)),
        };
        serving.until(&mut sub, died(&shared)).await;
        // Stopped by the fence: its record stays, to be rechecked once the node is back.
        if cluster.fence.stopped(id) {
            let _ = sub.unsubscribe().await;
        } else {
            // The tombstone is written while the subject is still served, so that a caller
            // that finds no one serving it finds the tombstone too (`verdict.rs`).
            deaths::bury_served(&cluster, &shared, record, revision).await;
            // Then the subject is left without losing what is on its way: a drain ends the
            // subscription once the server has delivered all it routed here, and each of
            // those calls is answered (with the death).
            if sub.drain().await.is_ok() {
                serving
                    .until(&mut sub, tokio::time::sleep(LAST_ANSWERS))
                    .await;
            }
        }
        // Every call of a dead actor resolves: send those last replies.
        while answers.next().await.is_some() {}
        cluster.served.remove(id);
    });
}

/// The most a dead actor's host waits for the last calls on their way to it.
const LAST_ANSWERS: Duration = Duration::from_secs(5);

/// What serving one actor's subject takes.
struct Serving<'a, A> {
    cluster: &'a Arc<Cluster>,
    table: &'a HostTable<A>,
    cell: &'a Weak<ActorCell<A>>,
    shared: &'a ActorShared,
    /// It was restarted here from another node: replies say which node answered.
    moved: bool,
    /// The replies in the making: polled here, not spawned one task per call.
    answers: &'a mut FuturesUnordered<BoxFuture<'static, ()>>,
    /// The calls as they come, each whole (a large argument fetched), in order.
    intake: super::intake::Intake,
}

impl<A: ActorClass> Serving<'_, A> {
    /// Answers what `sub` brings until `stop` resolves or `sub` ends, polling the replies in
    /// the making alongside.
    async fn until(&mut self, sub: &mut Subscriber, stop: impl Future<Output = ()>) {
        let mut stop = pin!(stop);
        loop {
            let answers = &mut *self.answers;
            let intake = &mut self.intake;
            let next = poll_fn(|cx| {
                while let Poll::Ready(Some(())) = answers.poll_next_unpin(cx) {}
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                intake.poll_next(cx, sub)
            })
            .await;
            let Some(message) = next else { return };
            let answer = serve_one(self, message);
            self.answers.extend(answer);
        }
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
/// actor, and the future returned sends its reply once it is ready.
fn serve_one<A: ActorClass>(
    serving: &Serving<'_, A>,
    message: Message,
) -> Option<BoxFuture<'static, ()>> {
    let Serving {
        cluster,
        table,
        cell,
        shared,
        moved,
        ..
    } = *serving;
    match wire::header(&message, METHOD) {
        // The payload names the call by its reply subject.
        Some(VERB_CANCEL) => {
            match wire::decode::<String>(&message.payload) {
                Ok(call) => cluster.inflight.cancel(&call),
                Err(err) => tracing::warn!(%err, "a bad cancel request from the wire"),
            }
            return None;
        }
        Some(VERB_CREDIT) => {
            match wire::decode::<(String, u64)>(&message.payload) {
                Ok((call, consumed)) => cluster.inflight.credit(&call, consumed),
                Err(err) => tracing::warn!(%err, "a bad credit from the wire"),
            }
            return None;
        }
        _ => {}
    }
    // A call its caller may send again after an outage: a copy of one still running here is
    // dropped, one answered lately gets the same reply again (`answered.rs`).
    let resends = wire::header(&message, wire::RESENDS).is_some();
    if resends && let Some(reply) = &message.reply {
        if cluster.inflight.contains(reply) {
            return None;
        }
        if let Some(answer) = cluster.answered.get(reply) {
            cluster.reply_bytes(reply.clone(), answer, moved);
            return None;
        }
    }
    let window = wire::header(&message, WINDOW).and_then(|w| w.parse::<u64>().ok());
    let outcome = dispatch(table, cell, shared, &message);
    let Some(reply) = message.reply else {
        return None; // a message that wants no answer (a kill)
    };
    let key = reply.to_string();
    let call = match outcome {
        Ok(Dispatched::Call(served)) => {
            cluster
                .inflight
                .insert(key.clone(), super::inflight::Served::Call(served.cancel));
            Ok(served.reply)
        }
        Ok(Dispatched::Stream(items)) => {
            let (credit, control) = watch::channel(Credit::default());
            cluster
                .inflight
                .insert(key.clone(), super::inflight::Served::Stream(credit));
            let window = window.unwrap_or(1).max(1);
            tokio::spawn(pump_stream(
                Arc::clone(cluster),
                reply,
                key,
                items,
                control,
                window,
            ));
            return None;
        }
        Err(failure) => Err(failure),
    };
    let cluster = Arc::clone(cluster);
    Some(Box::pin(async move {
        let result = match call {
            Ok(call) => {
                let result = call.await.map(Bytes::from).map_err(|err| Failure::of(&err));
                // Kept before it leaves the table of calls in flight: a copy always finds
                // one or the other.
                if resends {
                    cluster.answered.keep(&key, &result, Instant::now());
                }
                cluster.inflight.remove(&key);
                result
            }
            Err(failure) => Err(failure),
        };
        if let Err(Failure::Wire(what)) = &result {
            tracing::warn!(%what, "bad call from the wire");
        }
        cluster.reply_bytes(reply, result, moved);
    }))
}

/// Sends a stream's items to its caller, never more than `window` beyond what it consumed.
async fn pump_stream(
    cluster: Arc<Cluster>,
    reply: async_nats::Subject,
    key: String,
    mut items: BoxStream<'static, Result<Vec<u8>, ActorError>>,
    mut control: watch::Receiver<Credit>,
    window: u64,
) {
    let frame = |status: &str, seq: u64, payload: Vec<u8>| {
        let mut headers = HeaderMap::new();
        headers.insert(CODEC, CODEC_ID);
        headers.insert(STATUS, status);
        headers.insert(SEQ, seq.to_string().as_str());
        cluster.publish(OutboundMessage {
            subject: reply.clone(),
            reply: None,
            payload: Bytes::from(payload),
            headers: Some(headers),
        });
    };
    let mut seq = 0u64;
    loop {
        // Wait for credit for item `seq`.
        loop {
            let credit = *control.borrow_and_update();
            if credit.cancelled {
                // Dropping `items` cancels the producer.
                return;
            }
            if seq < credit.consumed.saturating_add(window) {
                break;
            }
            if control.changed().await.is_err() {
                return;
            }
        }
        let next = {
            let cancelled = pin!(async {
                loop {
                    if control.changed().await.is_err() || control.borrow().cancelled {
                        return;
                    }
                }
            });
            match select(items.next(), cancelled).await {
                Either::Left((next, _)) => next,
                Either::Right(((), _)) => return,
            }
        };
        match next {
            Some(Ok(bytes)) => {
                frame("item", seq, bytes);
                seq += 1;
            }
            Some(Err(err)) => {
                frame(
                    "err",
                    seq,
                    wire::encode(&Failure::of(&err)).unwrap_or_default(),
                );
                break;
            }
            None => {
                frame("end", seq, Vec::new());
                break;
            }
        }
    }
    cluster.inflight.remove(&key);
}

/// The caller's overrides of the call's group and retries, from its headers.
fn call_options(message: &Message) -> Result<Option<CallOptions>, Failure> {
    let group = wire::header(message, wire::GROUP);
    let retries = match wire::header(message, wire::RETRIES) {
        Some(n) => Some(
            n.parse::<i64>()
                .map_err(|_| Failure::Wire(format!("a bad max_task_retries header: {n:?}")))?,
        ),
        None => None,
    };
    if group.is_none() && retries.is_none() {
        return Ok(None);
    }
    let mut options = CallOptions::new();
    if let Some(group) = group {
        options = options.concurrency_group(group.to_owned());
    }
    if let Some(retries) = retries {
        options = options.max_task_retries(retries);
    }
    Ok(Some(options))
}

/// A call started for another process.
enum Dispatched {
    Call(ServedCall),
    Stream(BoxStream<'static, Result<Vec<u8>, ActorError>>),
}

/// Starts the call `message` asks for on the local actor.
fn dispatch<A: ActorClass>(
    table: &HostTable<A>,
    cell: &Weak<ActorCell<A>>,
    shared: &ActorShared,
    message: &Message,
) -> Result<Dispatched, Failure> {
    let codec = wire::header(message, CODEC);
    if codec != Some(CODEC_ID) {
        return Err(Failure::Wire(format!(
            "unknown codec {codec:?} (this host speaks {CODEC_ID})"
        )));
    }
    let Some(actor) = cell.upgrade().map(seam::from_cell) else {
        let cause = shared.death().unwrap_or(DeathCause::Shutdown);
        return Err(Failure::Died(wire::Cause::of(&cause)));
    };
    let method = wire::header(message, METHOD).unwrap_or_default();
    let options = call_options(message)?;
    match method {
        VERB_STATE => {
            let state = wire::WireState::of(&actor.state());
            let answer = wire::encode(&(state, actor.restarts()))
                .map_err(|err| Failure::Wire(err.to_string()))?;
            Ok(Dispatched::Call(ServedCall {
                reply: Box::pin(std::future::ready(Ok(answer))),
                cancel: Canceller::noop(),
            }))
        }
        VERB_READY => {
            let ready = actor.ready();
            let cancel = seam::canceller_of(&ready);
            Ok(Dispatched::Call(ServedCall {
                reply: Box::pin(async move { ready.await.map(|()| Vec::new()) }),
                cancel,
            }))
        }
        VERB_KILL => {
            let no_restart = wire::decode::<bool>(&message.payload).unwrap_or(true);
            crate::kill(&actor, no_restart);
            Err(Failure::Other("killed".to_owned()))
        }
        name => {
            if wire::header(message, FINGERPRINT) != Some(table.fingerprint_hex.as_str()) {
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
            let bad_args =
                |err| Failure::Wire(format!("the arguments of `{name}` do not decode: {err}"));
            match serve {
                Serve::Call(serve) => serve(&actor, &message.payload, options)
                    .map(Dispatched::Call)
                    .map_err(bad_args),
                Serve::Stream(serve) => serve(&actor, &message.payload, options)
                    .map(Dispatched::Stream)
                    .map_err(bad_args),
            }
        }
    }
}
