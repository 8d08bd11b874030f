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
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::{
    ActorError, ObjectRef,
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

/// How a placement group's bundles go onto nodes (Ray's strategies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PlacementStrategy {
    /// On as few nodes as it can (Ray's `PACK`, the default): on one node when they fit.
    #[default]
    Pack,
    /// Over as many nodes as it can (Ray's `SPREAD`), several on one node when needed.
    Spread,
    /// Every bundle on one node, or none (Ray's `STRICT_PACK`).
    StrictPack,
    /// Each bundle on a node of its own, or none (Ray's `STRICT_SPREAD`).
    StrictSpread,
}

impl fmt::Display for PlacementStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlacementStrategy::Pack => "PACK",
            PlacementStrategy::Spread => "SPREAD",
            PlacementStrategy::StrictPack => "STRICT_PACK",
            PlacementStrategy::StrictSpread => "STRICT_SPREAD",
        })
    }
}

/// A placement group's id: unique in its process, and across a cluster (it names the node
/// that made it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlacementGroupId {
    node: u64,
    local: u64,
}

impl PlacementGroupId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PlacementGroupId {
            node: crate::label::node(),
            local: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl fmt::Display for PlacementGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pg-{:x}-{}", self.node, self.local)
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
        self.group
            .bundles
            .iter()
            .map(|bundle| {
                bundle
                    .iter()
                    .map(|(name, amount)| (name.to_owned(), amount.to_f64()))
                    .collect()
            })
            .collect()
    }

    /// Where it is in its life.
    pub fn state(&self) -> PlacementGroupState {
        match &self.group.lock().phase {
            Phase::Pending { .. } => PlacementGroupState::Pending,
            Phase::Created { .. } => PlacementGroupState::Created,
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

/// Reserves `bundles` on the node with `strategy`: Ray's `ray.util.placement_group`. The
/// reservation goes on in the background; [`PlacementGroup::wait`] and
/// [`PlacementGroup::ready`] say when it is done.
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
    let pool = crate::system::task_pool();
    crate::system::at_shutdown(clear);
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
    let handle = crate::embedded::spawn_handle()
        .map_err(|err| PlacementGroupError::NoRuntime(err.to_string()))?;
    let group = Arc::new(Group {
        id: PlacementGroupId::next(),
        strategy,
        bundles,
        state: Mutex::new(State {
            phase: Phase::Pending { missing: None },
            actors: Vec::new(),
        }),
        changed: tokio::sync::Notify::new(),
    });
    groups().insert(group.id, Arc::clone(&group));
    handle.spawn(reserve(Arc::clone(&group), pool));
    Ok(PlacementGroup { group })
}

/// Removes the group (Ray's `remove_placement_group`): kills its actors, fails the tasks and
/// actors that wait for its bundles, and gives its resources back. Tasks already running in
/// it run to their end. Removing it again does nothing.
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

/// A group: what it reserves, and where it is.
struct Group {
    id: PlacementGroupId,
    strategy: PlacementStrategy,
    bundles: Vec<Resources>,
    state: Mutex<State>,
    /// Notified at every change of phase.
    changed: tokio::sync::Notify,
}

struct State {
    phase: Phase,
    /// The actors created in the group, killed when it is removed.
    actors: Vec<Weak<ActorShared>>,
}

enum Phase {
    /// Not reserved yet; `missing` is the first bundle that did not fit at the last try.
    Pending {
        missing: Option<(usize, String)>,
    },
    /// Reserved: the node's grants, and a pool per bundle.
    Created {
        _reserved: Vec<Held>,
        pools: Vec<Arc<Pool>>,
    },
    Removed,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the group is reserved (`Ok`) or removed.
    async fn ready(&self) -> Result<(), PlacementGroupError> {
        self.pools().await.map(drop)
    }

    /// Waits until the group is reserved, and gives its bundles' pools; or it is removed.
    async fn pools(&self) -> Result<Vec<Arc<Pool>>, PlacementGroupError> {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            match &self.lock().phase {
                Phase::Created { pools, .. } => return Ok(pools.clone()),
                Phase::Removed => return Err(PlacementGroupError::Removed),
                Phase::Pending { .. } => {}
            }
            changed.await;
        }
    }

    /// Waits until the group is removed.
    async fn removed(&self) {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if matches!(self.lock().phase, Phase::Removed) {
                return;
            }
            changed.await;
        }
    }

    /// The error of a wait that ran out: the bundle that did not fit at the last try.
    fn timed_out(&self, waited: Duration) -> PlacementGroupError {
        match &self.lock().phase {
            Phase::Pending { missing } => {
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

    fn set(&self, phase: Phase) {
        let mut state = self.lock();
        if matches!(state.phase, Phase::Removed) {
            return;
        }
        let old = std::mem::replace(&mut state.phase, phase);
        drop(state);
        // The node's grants (of a reservation undone) are given back outside the lock.
        drop(old);
        self.changed.notify_waiters();
    }

    fn remove(&self) {
        let (old, actors) = {
            let mut state = self.lock();
            let old = std::mem::replace(&mut state.phase, Phase::Removed);
            (old, std::mem::take(&mut state.actors))
        };
        self.changed.notify_waiters();
        for actor in actors.iter().filter_map(Weak::upgrade) {
            actor.request_kill(Kill::ForGood);
        }
        drop(old);
    }
}

/// Reserves the group's bundles from `pool` when they all fit, trying again each time the
/// node gives resources back; stops when the group is removed.
async fn reserve(group: Arc<Group>, pool: Arc<Pool>) {
    loop {
        let freed = pool.freed();
        let mut freed = std::pin::pin!(freed);
        freed.as_mut().enable();
        if matches!(group.lock().phase, Phase::Removed) {
            return;
        }
        match pool.try_reserve(&group.bundles) {
            Ok(reserved) => {
                let pools = group
                    .bundles
                    .iter()
                    .zip(&reserved)
                    .map(|(bundle, held)| {
                        let ledger =
                            crate::resources::Ledger::with_gpu_ids(bundle.clone(), held.gpu_ids());
                        Pool::with_ledger(ledger)
                    })
                    .collect();
                tracing::debug!(group = %group.id, "placement group reserved");
                group.set(Phase::Created {
                    _reserved: reserved,
                    pools,
                });
                return;
            }
            Err(missing) => group.set(Phase::Pending {
                missing: Some(missing),
            }),
        }
        let removed = std::pin::pin!(group.removed());
        futures::future::select(freed, removed).await;
    }
}

/// The groups of this process, by id, until removed.
fn groups() -> MutexGuard<'static, HashMap<PlacementGroupId, Arc<Group>>> {
    static GROUPS: std::sync::LazyLock<Mutex<HashMap<PlacementGroupId, Arc<Group>>>> =
        std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));
    GROUPS.lock().unwrap_or_else(PoisonError::into_inner)
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

    fn group(&self) -> Result<Arc<Group>, String> {
        groups()
            .get(&self.group)
            .cloned()
            .ok_or_else(|| format!("its placement group {} was removed", self.group))
    }

    /// An error when the bundle index is past the group's bundles (or the group is gone).
    pub(crate) fn check(&self) -> Result<(), String> {
        let group = self.group()?;
        match self.bundle {
            Some(bundle) if bundle >= group.bundles.len() => Err(format!(
                "placement group {} has {} bundles: there is no bundle {bundle}",
                self.group,
                group.bundles.len()
            )),
            _ => Ok(()),
        }
    }

    /// Counts `actor` in the group: it is killed when the group is removed.
    pub(crate) fn enlist(&self, actor: &Arc<ActorShared>) {
        if let Ok(group) = self.group() {
            let mut state = group.lock();
            state.actors.retain(|known| known.strong_count() > 0);
            state.actors.push(Arc::downgrade(actor));
            if matches!(state.phase, Phase::Removed) {
                actor.request_kill(Kill::ForGood);
            }
        }
    }

    /// Takes `demand` from the bundle (or, for any bundle, from the first with room now, else
    /// the first it fits in at all), once the group is reserved: waits in that bundle's line.
    /// An error says why it never will (the group removed, the demand too large).
    pub(crate) async fn acquire(self, demand: Resources) -> Result<Held, String> {
        let group = self.group()?;
        let removed = async {
            group.removed().await;
            Err::<Held, String>(format!("its placement group {} was removed", self.group))
        };
        let taken = async {
            let pools = group.pools().await.map_err(|err| err.to_string())?;
            let pool = match self.bundle {
                Some(bundle) => pools.get(bundle).cloned().ok_or_else(|| {
                    format!("placement group {} has no bundle {bundle}", self.group)
                })?,
                None => pools
                    .iter()
                    .find(|pool| pool.fits_now(&demand))
                    .or_else(|| pools.iter().find(|pool| pool.never_fits(&demand).is_none()))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "no bundle of placement group {} is large enough",
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
}

/// Removes every group (at shutdown).
fn clear() {
    let all: Vec<Arc<Group>> = groups().drain().map(|(_, group)| group).collect();
    for group in all {
        group.remove();
    }
}
