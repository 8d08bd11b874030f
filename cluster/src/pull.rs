//! The caller's side of pulling: drives this process's [`Line`] of tasks that wait to be
//! placed. It asks for room while tasks wait, hears the nodes' reports, sends each task to a
//! node with room for it, takes back what a busy node refused, and gives up on what may wait
//! no longer. Every decision is the line's; this module only carries them out.

use std::{
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use async_nats::{HeaderMap, StatusCode, message::OutboundMessage};
use bytes::Bytes;
use futures::StreamExt;

use super::{
    Cluster, NodeId,
    line::{Entry, GiveUp, Line, Room, WANT_EVERY},
    load::Load,
    room::Offer,
    subjects,
    tasks::{Attempt, dispatch},
    wire::{self, CODEC, CODEC_ID},
};
use crate::ActorError;

/// This process's line, and whether its tick runs.
#[derive(Default)]
pub(crate) struct Pull {
    line: Mutex<Line<Attempt>>,
    ticking: AtomicBool,
}

impl Pull {
    fn lock(&self) -> std::sync::MutexGuard<'_, Line<Attempt>> {
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tasks wait in this process's line.
    pub(crate) fn waiting(&self) -> usize {
        self.lock().len()
    }
}

fn room_of(load: &Load) -> Room {
    Room {
        ledger: load.ledger(),
        tasks: if load.hosts {
            load.tasks.clone()
        } else {
            Vec::new()
        },
    }
}

/// `attempt` as the line holds it.
fn entry(attempt: Attempt) -> Entry<Attempt> {
    Entry {
        fingerprint: attempt.fingerprint,
        demand: attempt.demand.clone(),
        since: attempt.since,
        deadline: attempt.deadline,
        item: attempt,
    }
}

/// Places a task that asks for resources: on a node with room for it now, or in line.
pub(crate) fn submit(attempt: Attempt) {
    let cluster = Arc::clone(&attempt.cluster);
    let now = Instant::now();
    let (sent, wants) = {
        let mut line = cluster.pull.lock();
        let sent = line.submit(entry(attempt), now);
        (sent, line.wants(now))
    };
    carry_out(&cluster, sent.into_iter().collect(), &wants);
}

/// A node refused `attempt` (it is busy after all), reporting its room; `None`: it does not
/// serve the fn (it left).
pub(crate) fn refused(node: NodeId, load: Option<Load>, attempt: Attempt) {
    let cluster = Arc::clone(&attempt.cluster);
    let now = Instant::now();
    let room = load.as_ref().map_or_else(
        || Room {
            ledger: crate::seam::Ledger::new(crate::seam::Resources::new()),
            tasks: Vec::new(),
        },
        room_of,
    );
    let (sent, wants) = {
        let mut line = cluster.pull.lock();
        let sent = line.refused(node, room, entry(attempt), now);
        if load.is_none() {
            line.forget(node);
        }
        (sent, line.wants(now))
    };
    carry_out(&cluster, sent, &wants);
}

/// `node` died or left: no more tasks go to it on its last report.
pub(crate) fn forget(cluster: &Cluster, node: NodeId) {
    cluster.pull.lock().forget(node);
}

/// This process leaves: every task still in line fails.
pub(crate) fn leave(cluster: &Cluster) {
    let left = cluster.pull.lock().take_where(|_| true);
    for attempt in left {
        let (actor, method) = (attempt.label.clone(), attempt.method);
        (attempt.done)(Err(ActorError::ActorUnavailable {
            actor,
            method,
            message: "this process left the cluster before a node took the task".to_owned(),
        }));
    }
}

/// Sends what the line decided, asks for room for `wants`, and keeps the tick running while
/// tasks wait.
fn carry_out(cluster: &Arc<Cluster>, sent: Vec<(NodeId, Attempt)>, wants: &[u64]) {
    for (node, attempt) in sent {
        dispatch(attempt, node);
    }
    for fingerprint in wants {
        ask(cluster, *fingerprint);
    }
    if cluster.pull.waiting() > 0 && !cluster.pull.ticking.swap(true, Ordering::AcqRel) {
        cluster.handle.spawn(tick(Arc::downgrade(cluster)));
    }
}

/// Asks every node that runs the fn `fingerprint` for its room.
fn ask(cluster: &Cluster, fingerprint: u64) {
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    cluster.publish(OutboundMessage {
        subject: cluster.subjects.want(fingerprint).into(),
        reply: Some(cluster.subjects.room(fingerprint).into()),
        payload: Bytes::new(),
        headers: Some(headers),
    });
}

/// Listens for the nodes' reports of room to this process, and to every process.
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    for subject in [cluster.subjects.rooms(), cluster.subjects.offers()] {
        let reports = cluster
            .client
            .subscribe(subject)
            .await
            .map_err(|err| format!("could not subscribe reports of room: {err}"))?;
        cluster.handle.spawn(hear(Arc::downgrade(cluster), reports));
    }
    Ok(())
}

async fn hear(cluster: Weak<Cluster>, mut reports: async_nats::Subscriber) {
    while let Some(message) = reports.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let now = Instant::now();
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            let Some(fingerprint) = subjects::room_fingerprint(&message.subject) else {
                continue;
            };
            let nobody = cluster.pull.lock().nobody(fingerprint, now);
            for attempt in nobody {
                let (actor, method) = (attempt.label.clone(), attempt.method);
                (attempt.done)(Err(ActorError::ActorUnavailable {
                    actor,
                    method,
                    message: super::tasks::NOBODY.to_owned(),
                }));
            }
            continue;
        }
        for message in super::batch::split(message) {
            let offer = match wire::decode::<Offer>(&message.payload) {
                Ok(offer) => offer,
                Err(err) => {
                    tracing::warn!(%err, "a bad report of room from the wire");
                    continue;
                }
            };
            let (sent, wants) = {
                let mut line = cluster.pull.lock();
                let sent = line.room(offer.node, room_of(&offer.load), now);
                (sent, line.wants(now))
            };
            carry_out(&cluster, sent, &wants);
        }
    }
}

/// While tasks wait: drops the cancelled ones, gives up on those that may wait no longer, and
/// asks again for room.
async fn tick(cluster: Weak<Cluster>) {
    loop {
        tokio::time::sleep(WANT_EVERY / 2).await;
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let now = Instant::now();
        let (given_up, cancelled, wants, empty) = {
            let mut line = cluster.pull.lock();
            let cancelled = line.take_where(Attempt::is_cancelled);
            let given_up = line.expire(now);
            let wants = line.wants(now);
            (given_up, cancelled, wants, line.len() == 0)
        };
        drop(cancelled);
        for (attempt, why) in given_up {
            let (actor, method) = (attempt.label.clone(), attempt.method);
            (attempt.done)(Err(match why {
                GiveUp::Unavailable(message) => ActorError::ActorUnavailable {
                    actor,
                    method,
                    message,
                },
                GiveUp::Unschedulable(shortfall) => ActorError::Unschedulable {
                    actor,
                    method,
                    shortfall,
                },
                GiveUp::TimedOut(waited) => ActorError::ActorUnavailable {
                    actor,
                    method,
                    message: format!(
                        "its resources were not free within {waited:?} (`resource_timeout`)"
                    ),
                },
            }));
        }
        for fingerprint in wants {
            ask(&cluster, fingerprint);
        }
        if empty {
            cluster.pull.ticking.store(false, Ordering::Release);
            // A task that came as the flag fell found it set: tick for it.
            if cluster.pull.waiting() == 0 || cluster.pull.ticking.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    }
}
