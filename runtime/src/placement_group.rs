//! Placement groups: Ray's `ray.util.placement_group(bundles, strategy)`. A group reserves
//! its bundles of resources from the node's ledger, all or nothing; tasks and actors
//! scheduled into a bundle then take their resources from that bundle alone.
//!
//! - [`placement_group`] checks the bundles, fails at once when they can never be held
//!   together, and starts the reservation: a task on the runtime that tries again each time
//!   the node gives resources back, until it holds every bundle or the group is removed.
//! - Each reserved bundle is a pool of its own (the node's pool type over a ledger of the
//!   bundle, with the GPU ids the bundle holds), so what runs in it waits in its own line.
//! - [`remove_placement_group`] kills the group's actors, fails what waits for its bundles,
//!   and gives the reservation back.
//!
//! In one process the node is this process; a group whose strategy needs several nodes
//! (`StrictSpread` of two bundles or more) can never be placed there.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
    time::Duration,
};

mod part;
pub(crate) mod spec;

pub use part::{held_parts, release_part, reserve_part};

pub use spec::{PlacementGroupId, PlacementStrategy, ReserveGroup, Unreserved};

use crate::{
    ActorError, NodeId, ObjectRef,
    actor::{ActorShared, Kill},
    asked::Asked,
    resource_pool::{Held, Pool},
    resources::Resources,
};

/// One bundle of a placement group: resources reserved together on one node.
///
/// ```
/// let bundle = helio::Bundle::new().num_cpus(1.0).num_gpus(0.5).resource("ssd", 1.0);
/// # let _ = bundle;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bundle {
    resources: Asked,
}

impl Bundle {
    /// An empty bundle; give it resources with the setters (an empty bundle is refused).
    pub fn new() -> Self {
        Bundle::default()
    }

    /// CPUs in the bundle.
    pub fn num_cpus(mut self, cpus: f64) -> Self {
        self.resources.set_cpus(cpus);
        self
    }

    /// GPUs in the bundle (a fraction shares a GPU).
    pub fn num_gpus(mut self, gpus: f64) -> Self {
        self.resources.set_gpus(gpus);
        self
    }

    /// `amount` of the custom resource `name` in the bundle.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.resources.set(name.into(), amount);
        self
    }

    /// The bundle, checked: only what was set (no default CPU).
    fn demand(&self) -> Result<Resources, String> {
        self.resources.declared(0.0, 0.0)
    }
}

/// Where a placement group is in its life (Ray's `PENDING`, `CREATED`, `REMOVED`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlacementGroupState {
    /// Its bundles are not all reserved yet: it waits for resources.
    Pending,
    /// Every bundle is reserved.
    Created,
    /// A node that held some of its bundles died: they are being reserved again on other
    /// nodes (Ray's `RESCHEDULING`); the others stay where they are.
    Rescheduling,
    /// Removed with [`remove_placement_group`].
    Removed,
}

/// What went wrong with a placement group.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlacementGroupError {
    /// The bundles are not valid (none, an empty one, a bad amount).
    #[error("invalid placement group: {0}")]
    Invalid(String),
    /// The group can never be placed: bundle `bundle` cannot be held with the others.
    #[error("bundle {bundle} of the {strategy} placement group can never be placed: {message}")]
    Unplaceable {
        /// The index of the bundle that does not fit.
        bundle: usize,
        /// The group's strategy.
        strategy: PlacementStrategy,
        /// Why.
        message: String,
    },
    /// The group was not placed within the time waited; `bundle` is the first bundle that did
    /// not fit at the last try.
    #[error("the placement group was not placed within {waited:?}: bundle {bundle} {message}")]
    Timeout {
        /// How long was waited.
        waited: Duration,
        /// The bundle that did not fit.
        bundle: usize,
        /// What it lacked.
        message: String,
    },
    /// The group was removed.
    #[error("the placement group was removed")]
    Removed,
    /// No runtime to reserve it on (helio is shutting down).
    #[error("no runtime to reserve the placement group on: {0}")]
    NoRuntime(String),
}

/// A placement group: its bundles, reserved on the node all or nothing. A handle; cloning it
/// names the same group, and dropping it leaves the group in place until
/// [`remove_placement_group`] (as in Ray).
///
/// ```
/// use std::time::Duration;
/// use helio::prelude::*;
/// use helio::{Bundle, PlacementStrategy};
///
/// #[remote(num_cpus = 1)]
/// fn gpu_ids_here() -> Vec<u32> {
///     helio::get_gpu_ids()
/// }
///
/// helio_runtime::init(helio_runtime::Config::new().num_cpus(4.0).num_gpus(2.0)).unwrap();
/// let pg = helio::placement_group(
///     [Bundle::new().num_cpus(1.0).num_gpus(1.0), Bundle::new().num_cpus(1.0).num_gpus(1.0)],
///     PlacementStrategy::Pack,
/// )
/// .unwrap();
/// pg.wait(Duration::from_secs(10)).unwrap();
/// let in_bundle = TaskOptions::new().num_gpus(1.0).placement_group(&pg, Some(1));
/// let ids = helio::get(gpu_ids_here.options(in_bundle).remote()).unwrap();
/// assert_eq!(ids.len(), 1);
/// helio::remove_placement_group(&pg);
/// # helio_runtime::shutdown();
/// ```
#[derive(Clone)]
pub struct PlacementGroup {
    group: Arc<Group>,
}

impl fmt::Debug for PlacementGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlacementGroup")
            .field("id", &self.group.id)
            .field("strategy", &self.group.strategy)
            .field("state", &self.state())
            .finish()
    }
}

impl PlacementGroup {
    /// The group's id.
    pub fn id(&self) -> PlacementGroupId {
        self.group.id
    }

    /// Its strategy.
    pub fn strategy(&self) -> PlacementStrategy {
        self.group.strategy
    }

    /// Its bundles' resources, by name, in order.
    pub fn bundles(&self) -> Vec<Vec<(String, f64)>> {
        self.group.bundles.iter().map(Resources::listed).collect()
    }

    /// Where it is in its life.
    pub fn state(&self) -> PlacementGroupState {
        match &*self.group.lock() {
            Phase::Pending { .. } => PlacementGroupState::Pending,
            Phase::Created { .. } => PlacementGroupState::Created,
            Phase::Rescheduling { .. } => PlacementGroupState::Rescheduling,
            Phase::Removed => PlacementGroupState::Removed,
        }
    }

    /// Blocks until every bundle is reserved, at most `timeout` (Ray's `pg.wait(timeout)`).
    ///
    /// # Errors
    /// [`PlacementGroupError::Timeout`] naming the first bundle that did not fit at the last
    /// try, or [`PlacementGroupError::Removed`].
    pub fn wait(&self, timeout: Duration) -> Result<(), PlacementGroupError> {
        let ready = self.group.ready();
        let mut ready = std::pin::pin!(ready);
        let deadline = std::time::Instant::now().checked_add(timeout);
        let waited = crate::blocking::block_until(deadline, |cx| ready.as_mut().poll(cx));
        match waited {
            Some(result) => result,
            None => Err(self.group.timed_out(timeout)),
        }
    }

    /// A ref that resolves once every bundle is reserved (Ray's `pg.ready()`): `Ok(())`, or
    /// `Unschedulable` when the group is removed first. Await it, or `get_timeout` it.
    pub fn ready(&self) -> ObjectRef<()> {
        let group = Arc::clone(&self.group);
        let label = crate::ActorLabel::task("placement_group", None);
        crate::dag::spawn_resolved(async move {
            group
                .ready()
                .await
                .map_err(|err| ActorError::Unschedulable {
                    actor: label,
                    method: "ready",
                    shortfall: err.to_string(),
                })
        })
    }
}

/// Reserves `bundles` with `strategy`: Ray's `ray.util.placement_group`. The reservation
/// goes on in the background; [`PlacementGroup::wait`] and [`PlacementGroup::ready`] say when
/// it is done.
///
/// In one process the bundles are reserved from this node. In cluster mode they are
/// reserved on the live nodes that host, as the strategy places them (all or nothing: the
/// nodes that took some give them back when another refuses, and the group tries again);
/// actors and tasks created in a bundle then run on its node. A bundle that no live node
/// could ever hold keeps the group pending there, as in Ray (a larger node may join);
/// [`PlacementGroup::wait`] names it. The group goes when this process does: the nodes give
/// its bundles back.
///
/// # Errors
/// [`PlacementGroupError::Invalid`] for no bundles, an empty bundle or a bad amount, and
/// [`PlacementGroupError::Unplaceable`] when the bundles can never be held together (naming
/// the first that does not fit).
pub fn placement_group(
    bundles: impl IntoIterator<Item = Bundle>,
    strategy: PlacementStrategy,
) -> Result<PlacementGroup, PlacementGroupError> {
    let bundles = checked(bundles)?;
    crate::system::at_shutdown(clear);
    let cluster = crate::seam::hooks::cluster();
    let pool = crate::system::task_pool();
    if cluster.is_none() {
        if strategy == PlacementStrategy::StrictSpread && bundles.len() > 1 {
            return Err(PlacementGroupError::Unplaceable {
                bundle: 1,
                strategy,
                message: "each bundle needs a node of its own, and this process is one node \
                          (in cluster mode the group spreads over nodes)"
                    .to_owned(),
            });
        }
        if let Some((bundle, message)) = pool.never_reserves(&bundles) {
            return Err(PlacementGroupError::Unplaceable {
                bundle,
                strategy,
                message,
            });
        }
    }
    let handle = crate::embedded::spawn_handle()
        .map_err(|err| PlacementGroupError::NoRuntime(err.to_string()))?;
    let group = Arc::new(Group {
        id: PlacementGroupId::next(),
        strategy,
        bundles,
        phase: Mutex::new(Phase::Pending { missing: None }),
        changed: tokio::sync::Notify::new(),
        early: Mutex::new(Vec::new()),
    });
    groups().insert(group.id, Arc::clone(&group));
    match cluster {
        Some(cluster) => handle.spawn(reserve_in_cluster(Arc::clone(&group), cluster, None)),
        None => handle.spawn(reserve_here(Arc::clone(&group), pool)),
    };
    Ok(PlacementGroup { group })
}

/// Removes the group (Ray's `remove_placement_group`): kills its actors, fails the tasks and
/// actors that wait for its bundles, and gives its resources back (on every node that holds
/// some). Tasks already running in it run to their end. Removing it again does nothing.
pub fn remove_placement_group(pg: &PlacementGroup) {
    groups().remove(&pg.group.id);
    pg.group.remove();
}

/// The bundles, checked.
fn checked(
    bundles: impl IntoIterator<Item = Bundle>,
) -> Result<Vec<Resources>, PlacementGroupError> {
    let bundles: Vec<Resources> = bundles
        .into_iter()
        .enumerate()
        .map(|(index, bundle)| {
            let demand = bundle
                .demand()
                .map_err(|err| PlacementGroupError::Invalid(format!("bundle {index}: {err}")))?;
            if demand.is_empty() {
                return Err(PlacementGroupError::Invalid(format!(
                    "bundle {index} is empty: give it some resource"
                )));
            }
            Ok(demand)
        })
        .collect::<Result<_, _>>()?;
    if bundles.is_empty() {
        return Err(PlacementGroupError::Invalid(
            "a placement group needs at least one bundle".to_owned(),
        ));
    }
    Ok(bundles)
}

/// A group, as the process that made it keeps it: what it reserves, and where it is.
struct Group {
    id: PlacementGroupId,
    strategy: PlacementStrategy,
    bundles: Vec<Resources>,
    phase: Mutex<Phase>,
    /// Notified at every change of phase.
    changed: tokio::sync::Notify,
    /// Actors created in the group before it was reserved here, killed at its removal.
    early: Mutex<Vec<Weak<ActorShared>>>,
}

enum Phase {
    /// Not reserved yet; `missing` is the first bundle that did not fit at the last try.
    Pending {
        missing: Option<(usize, String)>,
    },
    /// Reserved: where each bundle is (`None`: in this process, in its part).
    Created {
        homes: Vec<Option<NodeId>>,
    },
    /// A node that held some bundles died: those are being reserved again elsewhere, the
    /// others stay where `homes` says.
    Rescheduling {
        homes: Vec<Option<NodeId>>,
        missing: Option<(usize, String)>,
    },
    Removed,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the group is reserved (`Ok`) or removed.
    async fn ready(&self) -> Result<(), PlacementGroupError> {
        self.homes().await.map(drop)
    }

    /// Waits until the group is reserved, and says where its bundles are; or it is removed.
    async fn homes(&self) -> Result<Vec<Option<NodeId>>, PlacementGroupError> {
        self.until(|phase| match phase {
            Phase::Created { homes } => Some(Ok(homes.clone())),
            Phase::Removed => Some(Err(PlacementGroupError::Removed)),
            Phase::Pending { .. } | Phase::Rescheduling { .. } => None,
        })
        .await
    }

    /// Waits until the group is removed.
    async fn removed(&self) {
        self.until(|phase| matches!(phase, Phase::Removed).then_some(()))
            .await;
    }

    /// Waits until `seen` says something of the group's phase, looking again at each change.
    async fn until<T>(&self, seen: impl Fn(&Phase) -> Option<T>) -> T {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = seen(&self.lock()) {
                return found;
            }
            changed.await;
        }
    }

    fn is_removed(&self) -> bool {
        matches!(*self.lock(), Phase::Removed)
    }

    /// The error of a wait that ran out: the bundle that did not fit at the last try.
    fn timed_out(&self, waited: Duration) -> PlacementGroupError {
        match &*self.lock() {
            Phase::Pending { missing } | Phase::Rescheduling { missing, .. } => {
                let (bundle, message) = missing
                    .clone()
                    .unwrap_or_else(|| (0, "was not tried yet".to_owned()));
                PlacementGroupError::Timeout {
                    waited,
                    bundle,
                    message,
                }
            }
            Phase::Removed => PlacementGroupError::Removed,
            // Reserved just now.
            Phase::Created { .. } => PlacementGroupError::Timeout {
                waited,
                bundle: 0,
                message: "was reserved just as the wait ran out".to_owned(),
            },
        }
    }

    /// Moves to `phase` unless removed; `false` when removed.
    fn set(&self, phase: Phase) -> bool {
        let mut current = self.lock();
        if matches!(*current, Phase::Removed) {
            return false;
        }
        *current = phase;
        drop(current);
        self.changed.notify_waiters();
        true
    }

    /// Removed: gives the bundles back where they are, and wakes what waits.
    fn remove(&self) {
        let old = std::mem::replace(&mut *self.lock(), Phase::Removed);
        self.changed.notify_waiters();
        match old {
            Phase::Created { homes } | Phase::Rescheduling { homes, .. } => {
                release(self.id, &homes);
            }
            // Nothing reserved; in cluster mode its record goes.
            _ => release(self.id, &[]),
        }
        let early = std::mem::take(&mut *self.early.lock().unwrap_or_else(PoisonError::into_inner));
        for actor in early.iter().filter_map(Weak::upgrade) {
            actor.request_kill(Kill::ForGood);
        }
    }
}

/// Gives back the bundles of group `id` where `homes` says they are.
fn release(id: PlacementGroupId, homes: &[Option<NodeId>]) {
    if homes.iter().any(Option::is_none) {
        part::drop(id);
    }
    let mut nodes: Vec<NodeId> = homes.iter().flatten().copied().collect();
    nodes.sort_unstable();
    nodes.dedup();
    if let Some(cluster) = crate::seam::hooks::cluster() {
        cluster.release_group(id, nodes);
    }
}

/// Reserves the group's bundles from this node's `pool` when they all fit, trying again each
/// time the node gives resources back; stops when the group is removed.
async fn reserve_here(group: Arc<Group>, pool: Arc<Pool>) {
    let _counted = pool.reserving();
    loop {
        let freed = pool.freed();
        let mut freed = std::pin::pin!(freed);
        freed.as_mut().enable();
        if group.is_removed() {
            return;
        }
        let indexed: Vec<(usize, Resources)> = group.bundles.iter().cloned().enumerate().collect();
        match part::hold(&pool, group.id, &indexed) {
            Ok(()) => {
                tracing::debug!(group = %group.id, "placement group reserved");
                if !group.set(Phase::Created {
                    homes: vec![None; group.bundles.len()],
                }) {
                    // Removed meanwhile.
                    part::drop(group.id);
                }
                return;
            }
            Err(missing) => {
                group.set(Phase::Pending {
                    missing: Some(missing),
                });
            }
        }
        let removed = std::pin::pin!(group.removed());
        futures::future::select(freed, removed).await;
    }
}

/// How often a group that the cluster's nodes cannot hold now tries again.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// Reserves the group's bundles on the cluster's nodes, all or nothing, trying again every
/// [`RETRY_EVERY`] while they do not fit; stops when the group is removed. With `again`,
/// only the bundles listed (their node died), the others staying where its homes say.
async fn reserve_in_cluster(
    group: Arc<Group>,
    cluster: Arc<dyn crate::seam::hooks::Cluster>,
    again: Option<(Vec<usize>, Vec<Option<NodeId>>)>,
) {
    let here = crate::current_node();
    let first = again.is_none();
    let (indices, mut homes) = match again {
        Some((lost, homes)) => (lost, homes),
        None => (
            (0..group.bundles.len()).collect(),
            vec![None; group.bundles.len()],
        ),
    };
    let elsewhere: Vec<NodeId> = homes
        .iter()
        .enumerate()
        .filter(|(index, _)| !indices.contains(index))
        .filter_map(|(_, home)| home.or(here))
        .collect();
    loop {
        if group.is_removed() {
            return;
        }
        let request = ReserveGroup {
            group: group.id,
            strategy: group.strategy,
            bundles: indices
                .iter()
                .filter_map(|&index| Some((index, group.bundles.get(index)?.clone())))
                .collect(),
            elsewhere: elsewhere.clone(),
            all: group
                .bundles
                .iter()
                .enumerate()
                .map(|(index, bundle)| {
                    let home = homes.get(index).copied().flatten().or(here);
                    (bundle.clone(), home.filter(|_| !indices.contains(&index)))
                })
                .collect(),
        };
        match cluster.reserve_group(request).await {
            Ok(placed) => {
                for (&index, node) in indices.iter().zip(placed) {
                    if let Some(home) = homes.get_mut(index) {
                        *home = (Some(node) != here).then_some(node);
                    }
                }
                tracing::debug!(group = %group.id, ?homes, "placement group reserved");
                if !group.set(Phase::Created {
                    homes: homes.clone(),
                }) {
                    release(group.id, &homes);
                }
                return;
            }
            Err(unreserved) => {
                let missing = Some((unreserved.bundle, unreserved.message));
                group.set(if first {
                    Phase::Pending { missing }
                } else {
                    Phase::Rescheduling {
                        homes: homes.clone(),
                        missing,
                    }
                });
            }
        }
        let Ok(mut pause) = crate::wait::timer(RETRY_EVERY) else {
            return;
        };
        let removed = std::pin::pin!(group.removed());
        futures::future::select(pause.as_mut(), removed).await;
    }
}

/// Cluster mode: `node` died. The groups this process made that had bundles there reserve
/// those again on other nodes (as Ray reschedules them); their actors there died with it.
pub fn node_died(node: NodeId) {
    let Some(cluster) = crate::seam::hooks::cluster() else {
        return;
    };
    let Ok(handle) = crate::embedded::spawn_handle() else {
        return;
    };
    let all: Vec<Arc<Group>> = groups().values().cloned().collect();
    for group in all {
        let again = {
            let mut phase = group.lock();
            let Phase::Created { homes } = &*phase else {
                continue;
            };
            let lost: Vec<usize> = homes
                .iter()
                .enumerate()
                .filter(|(_, home)| **home == Some(node))
                .map(|(index, _)| index)
                .collect();
            if lost.is_empty() {
                continue;
            }
            let homes = homes.clone();
            *phase = Phase::Rescheduling {
                homes: homes.clone(),
                missing: None,
            };
            (lost, homes)
        };
        group.changed.notify_waiters();
        tracing::info!(group = %group.id, %node, bundles = ?again.0, "rescheduling the bundles of a dead node");
        handle.spawn(reserve_in_cluster(
            Arc::clone(&group),
            Arc::clone(&cluster),
            Some(again),
        ));
    }
}

/// The nodes other than this one that hold bundles of the groups this process made.
pub fn group_nodes() -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = groups()
        .values()
        .flat_map(|group| match &*group.lock() {
            Phase::Created { homes } | Phase::Rescheduling { homes, .. } => {
                homes.iter().flatten().copied().collect()
            }
            _ => Vec::new(),
        })
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// The groups this process made, by id, until removed.
fn groups() -> MutexGuard<'static, HashMap<PlacementGroupId, Arc<Group>>> {
    static GROUPS: std::sync::LazyLock<Mutex<HashMap<PlacementGroupId, Arc<Group>>>> =
        std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));
    GROUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The node a task of the group `in_group` goes to, when its group, made by this process,
/// is reserved and its bundle is on another node.
pub fn bundle_node(in_group: &InGroup) -> Option<NodeId> {
    let group = groups().get(&in_group.group).cloned()?;
    let phase = group.lock();
    let Phase::Created { homes } = &*phase else {
        return None;
    };
    in_group.home_in(homes)
}

/// Where a task or an actor goes in a placement group: the group, and a bundle (or any).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InGroup {
    /// The group.
    pub group: PlacementGroupId,
    /// The bundle's index; `None`: any bundle with room.
    pub bundle: Option<usize>,
}

impl InGroup {
    /// `pg` and `bundle`.
    pub(crate) fn of(pg: &PlacementGroup, bundle: Option<usize>) -> Self {
        InGroup {
            group: pg.group.id,
            bundle,
        }
    }

    fn removed(&self) -> String {
        format!("its placement group {} was removed", self.group)
    }

    /// The node of its bundle (any bundle: the first) among `homes`; `None` here.
    fn home_in(&self, homes: &[Option<NodeId>]) -> Option<NodeId> {
        homes.get(self.bundle.unwrap_or(0)).copied().flatten()
    }

    /// An error when the bundle index is past the group's bundles, or the group is unknown
    /// here (removed, or made by another process and not held here).
    pub(crate) fn check(&self) -> Result<(), String> {
        let group = groups().get(&self.group).cloned();
        let count = match group {
            Some(group) => group.bundles.len(),
            None if part::part(self.group).is_some() => return Ok(()),
            None => return Err(self.removed()),
        };
        match self.bundle {
            Some(bundle) if bundle >= count => Err(format!(
                "placement group {} has {count} bundles: there is no bundle {bundle}",
                self.group,
            )),
            _ => Ok(()),
        }
    }

    /// Where a task or an actor of this group runs: `Ok(None)` here (this node holds its
    /// bundle, or no group is known here), `Ok(Some(node))` on the node of its bundle, once
    /// the group is reserved.
    ///
    /// # Errors
    /// The group was removed.
    pub(crate) async fn home(&self) -> Result<Option<NodeId>, String> {
        if let Some(part) = part::part(self.group)
            && self.bundle.is_none_or(|bundle| part.pool(bundle).is_some())
        {
            return Ok(None);
        }
        let Some(group) = groups().get(&self.group).cloned() else {
            return Ok(None);
        };
        let homes = group.homes().await.map_err(|_| self.removed())?;
        Ok(self.home_in(&homes))
    }

    /// As [`home`](InGroup::home), blocking the thread at most `timeout`.
    ///
    /// # Errors
    /// The group was removed, or not reserved within `timeout`.
    pub(crate) fn home_within(&self, timeout: Duration) -> Result<Option<NodeId>, String> {
        let home = self.home();
        let mut home = std::pin::pin!(home);
        let deadline = std::time::Instant::now().checked_add(timeout);
        crate::blocking::block_until(deadline, |cx| home.as_mut().poll(cx)).unwrap_or_else(|| {
            Err(format!(
                "its placement group {} was not reserved within {timeout:?}",
                self.group
            ))
        })
    }

    /// Counts `actor` in the group: it is killed when the group is removed.
    pub(crate) fn enlist(&self, actor: &Arc<ActorShared>) {
        if let Some(part) = part::part(self.group) {
            return part.enlist(actor);
        }
        // Not reserved here yet: killed with the group all the same.
        match groups().get(&self.group).cloned() {
            Some(group) => {
                let mut early = group.early.lock().unwrap_or_else(PoisonError::into_inner);
                early.retain(|known| known.strong_count() > 0);
                early.push(Arc::downgrade(actor));
            }
            None => actor.request_kill(Kill::ForGood),
        }
    }

    /// Takes `demand` from the bundle (or, for any bundle, from the first with room now, else
    /// the first it fits in at all), once the group is reserved: waits in that bundle's line.
    /// An error says why it never will (the group removed, the demand too large, the bundle
    /// on another node).
    pub(crate) async fn acquire(self, demand: Resources) -> Result<Held, String> {
        let part = self.part().await?;
        let removed = async {
            part.ended().await;
            Err::<Held, String>(self.removed())
        };
        let taken = async {
            let pool = match self.bundle {
                Some(bundle) => part.pool(bundle).cloned().ok_or_else(|| {
                    format!(
                        "bundle {bundle} of placement group {} is on another node",
                        self.group
                    )
                })?,
                None => part
                    .pools()
                    .find(|pool| pool.fits_now(&demand))
                    .or_else(|| part.pools().find(|pool| pool.never_fits(&demand).is_none()))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "no bundle of placement group {} here is large enough",
                            self.group
                        )
                    })?,
            };
            pool.acquire(demand)
                .await
                .map_err(|shortfall| format!("its bundle {shortfall}"))
        };
        let (taken, removed) = (std::pin::pin!(taken), std::pin::pin!(removed));
        match futures::future::select(taken, removed).await {
            futures::future::Either::Left((taken, _)) => taken,
            futures::future::Either::Right((removed, _)) => removed,
        }
    }

    /// This node's part of the group, once the group is reserved (waiting for it when this
    /// process made it).
    async fn part(&self) -> Result<Arc<part::Part>, String> {
        if let Some(part) = part::part(self.group) {
            return Ok(part);
        }
        let group = groups()
            .get(&self.group)
            .cloned()
            .ok_or_else(|| self.removed())?;
        let homes = group.homes().await.map_err(|_| self.removed())?;
        if let Some(part) = part::part(self.group) {
            return Ok(part);
        }
        Err(match self.home_in(&homes) {
            Some(node) => format!(
                "bundle {} of placement group {} is on node {node}, not here",
                self.bundle.unwrap_or(0),
                self.group
            ),
            None => self.removed(),
        })
    }
}

/// Removes every group this process made (at shutdown).
fn clear() {
    let all: Vec<Arc<Group>> = groups().drain().map(|(_, group)| group).collect();
    for group in all {
        group.remove();
    }
}
