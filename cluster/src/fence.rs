//! Fencing: a node cut off from the cluster stops its detached actors, so that no actor ever
//! runs twice.
//!
//! A node hears its own heartbeats come back through the server (`watchdog.rs`). When none
//! has come back for two thirds of `node_timeout`, the node is cut off. The other nodes
//! declare it dead only after a full `node_timeout` of silence and a failed ping, and only
//! then restart its detached actors elsewhere (`revive.rs`): its own copies have stopped by
//! then. While cut off, a node:
//! - stops every detached actor it hosts (cause [`DeathCause::Fenced`](crate::DeathCause)),
//!   keeping their records in the registry;
//! - resolves every call it waits on to `ActorUnavailable` (the replies may never come), and
//!   every call it makes at once;
//! - declares no other node dead: it cannot hear them, which says nothing of them.
//!
//! Once its heartbeats come back, it rechecks the record of each actor it stopped. One that
//! still names this node as host starts again here, a restart counted against
//! `max_restarts` (one with none left is removed: it stays dead). One that another node
//! restarted meanwhile stays stopped here.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Cluster, deaths, registry::ActorRecord, revive};
use crate::seam::{ActorShared, Kill};

/// How long a recheck waits for the stopped actors to finish stopping.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Whether this node is cut off from the cluster, and the actors that stopped because of it.
pub(crate) struct Fence {
    /// When this node last heard one of its own heartbeats come back.
    echoed: Mutex<Instant>,
    cut_off: AtomicBool,
    /// A recheck is running.
    rechecking: AtomicBool,
    /// Actors told to stop by the fence, by local id, until they have.
    stopping: Mutex<HashMap<u64, ActorRecord>>,
    /// Actors the fence stopped, to recheck once the node is back.
    stopped: Mutex<Vec<ActorRecord>>,
    /// Notified as each actor finishes stopping.
    settled: tokio::sync::Notify,
}

impl Default for Fence {
    fn default() -> Self {
        Fence {
            echoed: Mutex::new(Instant::now()),
            cut_off: AtomicBool::new(false),
            rechecking: AtomicBool::new(false),
            stopping: Mutex::default(),
            stopped: Mutex::default(),
            settled: tokio::sync::Notify::new(),
        }
    }
}

impl Fence {
    /// One of this node's heartbeats came back: the server hears it.
    pub(crate) fn echoed(&self) {
        *self.echoed.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// How long since a heartbeat of this node last came back.
    fn silence(&self) -> Duration {
        self.echoed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    /// Whether this node is cut off from the cluster now.
    pub(crate) fn is_cut_off(&self) -> bool {
        self.cut_off.load(Ordering::SeqCst)
    }

    /// A detached actor starts being served here: stopped at once if this node is cut off
    /// (its restart here was under way when the node was cut off).
    pub(crate) fn serving(&self, record: &ActorRecord, shared: &ActorShared) {
        if record.detached && self.is_cut_off() {
            self.stop(record.clone(), shared);
        }
    }

    /// Stops the actor of `record`, keeping its record for the recheck.
    fn stop(&self, record: ActorRecord, shared: &ActorShared) {
        self.stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.id, record);
        shared.request_kill(Kill::Fenced);
    }

    /// The served actor `id` finished; `true` when the fence stopped it (its record must
    /// stay, to be rechecked).
    pub(crate) fn stopped(&self, id: u64) -> bool {
        let record = self
            .stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        let Some(record) = record else {
            return false;
        };
        self.stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
        self.settled.notify_waiters();
        true
    }

    fn still_stopping(&self) -> bool {
        !self
            .stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    fn take_stopped(&self) -> Vec<ActorRecord> {
        std::mem::take(&mut *self.stopped.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts back what a recheck could not settle, for the next one.
    fn keep_stopped(&self, again: Vec<ActorRecord>) {
        self.stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(again);
    }

    fn has_stopped(&self) -> bool {
        !self
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// Why a call fails while this node is cut off.
pub(crate) const CUT_OFF: &str =
    "this node is cut off from the cluster (the NATS server does not echo it): no reply can come";

impl Cluster {
    /// Fails the call or stream `id`, just registered, when this node is cut off: its reply
    /// could not come until the node is back. `true` when it did (then it must not be sent).
    /// Checked after registering, so that a cut that starts meanwhile fails it instead.
    pub(crate) fn refuse_if_cut_off(&self, id: u64) -> bool {
        if !self.fence.is_cut_off() {
            return false;
        }
        self.calls.fail_one(id, CUT_OFF);
        true
    }
}

/// Watches this node's own heartbeats: cuts the node off when they stop coming back, and
/// rechecks what it stopped once they do again.
pub(crate) async fn guard(cluster: Weak<Cluster>, timeout: Duration) {
    let cut_after = timeout * 2 / 3;
    let mut every = tokio::time::interval((timeout / 12).max(Duration::from_millis(5)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let fence = &cluster.fence;
        let silence = fence.silence();
        if !fence.is_cut_off() {
            if silence > cut_after {
                cut_off(&cluster, silence);
            } else if fence.has_stopped() && !fence.rechecking.swap(true, Ordering::AcqRel) {
                // A recheck that could not read the registry: again.
                cluster.handle.spawn(recheck(Arc::clone(&cluster)));
            }
        } else if silence <= cut_after {
            fence.cut_off.store(false, Ordering::SeqCst);
            tracing::warn!("back in the cluster: rechecking the actors stopped while cut off");
            cluster.liveness.restart_clocks();
            if !fence.rechecking.swap(true, Ordering::AcqRel) {
                cluster.handle.spawn(recheck(Arc::clone(&cluster)));
            }
        }
    }
}

/// Cuts this node off: stops its detached actors and fails the calls it waits on.
fn cut_off(cluster: &Arc<Cluster>, silence: Duration) {
    cluster.fence.cut_off.store(true, Ordering::SeqCst);
    let actors = cluster.served.detached_on(cluster.node());
    tracing::warn!(
        ?silence,
        actors = actors.len(),
        "cut off from the cluster (the server no longer echoes this node's heartbeats): \
         stopping its detached actors, which other nodes may restart"
    );
    for (record, shared) in actors {
        cluster.fence.stop(record, &shared);
    }
    cluster.calls.fail_all(&format!(
        "this node was cut off from the cluster (the NATS server did not echo it for \
         {silence:?}) while waiting for the reply"
    ));
}

/// Rechecks the actors the fence stopped: each starts again here if its record still names
/// this node as host.
async fn recheck(cluster: Arc<Cluster>) {
    let deadline = tokio::time::Instant::now() + STOP_WITHIN;
    while cluster.fence.still_stopping() {
        let settled = cluster.fence.settled.notified();
        if !cluster.fence.still_stopping()
            || tokio::time::timeout_at(deadline, settled).await.is_err()
        {
            break;
        }
    }
    if let Ok(false) = cluster.registry.has_node(cluster.node()).await {
        tracing::error!(
            node = %cluster.node(),
            "the cluster declared this node dead while it was cut off: the other nodes no \
             longer call it, and its detached actors may run elsewhere. Restart this process \
             to join again as a new node"
        );
    }
    let mut again = Vec::new();
    for stopped in cluster.fence.take_stopped() {
        if cluster.fence.is_cut_off() {
            again.push(stopped);
            continue;
        }
        if let Err(err) = recheck_one(&cluster, &stopped).await {
            tracing::warn!(%err, name = %stopped.name, "could not recheck a stopped actor");
            again.push(stopped);
        }
    }
    cluster.fence.keep_stopped(again);
    cluster.fence.rechecking.store(false, Ordering::Release);
}

async fn recheck_one(cluster: &Arc<Cluster>, stopped: &ActorRecord) -> Result<(), String> {
    let (namespace, name) = (&stopped.namespace, &stopped.name);
    let found = cluster.registry.lookup_entry(namespace, name).await?;
    let Some((record, revision)) = found else {
        tracing::info!(%namespace, %name, "a stopped actor's name was freed meanwhile");
        return Ok(());
    };
    if record.node != stopped.node || record.id != stopped.id {
        tracing::info!(%namespace, %name, "a stopped actor's name is another actor's now");
        return Ok(());
    }
    if record.death.is_some() {
        tracing::info!(%namespace, %name, "a stopped actor was declared dead meanwhile");
        return Ok(());
    }
    if record.host() != cluster.node() {
        tracing::info!(
            %namespace,
            %name,
            host = %record.host(),
            "another node restarted an actor while this node was cut off: it stays stopped here"
        );
        return Ok(());
    }
    match revive::restart_here(cluster, record.clone(), revision).await? {
        revive::Restart::Started => {}
        revive::Restart::Lost => {
            tracing::info!(%namespace, %name, "another node restarted a stopped actor first");
        }
        revive::Restart::Cannot => {
            tracing::warn!(
                %namespace,
                %name,
                "an actor stopped while this node was cut off has no restarts left: it stays dead"
            );
            let restarts = record.moves;
            let cause = crate::DeathCause::Fenced;
            deaths::bury(&cluster.registry, record, revision, &cause, restarts).await?;
        }
    }
    Ok(())
}
