//! Actor and call options, with Ray's names and defaults.

use std::borrow::Cow;

use crate::limit::Limit;

/// How long a named actor lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Lifetime {
    /// The actor stops once every handle is dropped (Ray's default).
    #[default]
    NonDetached,
    /// The actor lives until it is killed or the runtime shuts down.
    Detached,
}

/// Options for creating an actor: `#[actor(..)]` sets an actor's defaults, and
/// `new_actor().options(ActorOptions::new()...)` overrides them for one actor.
///
/// ```
/// # use helio_runtime::ActorOptions;
/// let options = ActorOptions::new().name("counter").namespace("demo").max_restarts(3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActorOptions {
    name: Option<String>,
    namespace: Option<String>,
    max_restarts: Option<i64>,
    max_task_retries: Option<i64>,
    max_pending_calls: Option<i64>,
    max_concurrency: Option<usize>,
    concurrency_groups: Vec<(String, usize)>,
    lifetime: Option<Lifetime>,
    get_if_exists: Option<bool>,
    /// What it holds while it lives, as asked (amounts as `f64` bits, so options compare).
    resources: crate::asked::Asked,
    /// How long it may wait for its resources.
    resource_timeout: Option<std::time::Duration>,
    /// Cluster mode: where the actor runs. Never sent: the chosen node creates it locally.
    #[cfg_attr(feature = "serde", serde(skip))]
    placement: Option<Placement>,
    /// The placement group bundle it lives in, if any.
    in_group: Option<crate::InGroup>,
}

/// Cluster mode: which node an actor is created on (`ActorOptions::placement`).
///
/// ```no_run
/// use helio_runtime::{ActorOptions, Placement};
/// let anywhere = ActorOptions::new().name("c").placement(Placement::Any);
/// # let _ = anywhere;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Placement {
    /// This process (the default).
    #[default]
    Local,
    /// The node with this id (see `helio::nodes`).
    Node(crate::NodeId),
    /// Any node that hosts and registered the actor's type, this one included: the least
    /// loaded (fewest actors) of those where its resources are free, ties at random.
    Any,
    /// The node with this id when it is alive, hosts the actor's type and has its resources
    /// free now; else where [`Any`](Placement::Any) would place it. Ray's
    /// `NodeAffinitySchedulingStrategy(node, soft=True)`; [`Node`](Placement::Node) is the
    /// hard form.
    PreferNode(crate::NodeId),
    /// Spread over the nodes that host the actor's type: of those where its resources are
    /// free now, the one this process has spread the fewest actors to, then the least
    /// loaded. Ray's `scheduling_strategy="SPREAD"`: actors placed one after another go
    /// round the nodes, whatever else runs there.
    Spread,
}

impl ActorOptions {
    /// Where the actor runs (default [`Placement::Local`]). Elsewhere, `.remote(..)` waits
    /// (at most 10 s) for the chosen node to create it, and the constructor's arguments must
    /// be serde types. An actor placed on another node lives until it is killed or its node
    /// leaves the cluster: remote handles do not count towards its life.
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = Some(placement);
        self
    }

    /// The `max_restarts` these options set (0 when unset).
    pub fn max_restarts_or_default(&self) -> i64 {
        self.max_restarts.unwrap_or(0)
    }

    /// The placement, with this node's own id meaning `Local`; `None` for local.
    pub(crate) fn take_placement(&mut self) -> Option<Placement> {
        match self.placement.take()? {
            Placement::Local => None,
            Placement::Node(node) if Some(node) == crate::current_node() => None,
            other => Some(other),
        }
    }
}

impl ActorOptions {
    /// No options set: every value falls back to the actor's attribute, then to Ray's default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the actor under `name` (unique within its namespace).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The namespace of the name (default `"default"`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// How often the actor restarts after a crash: `0` (default) never, `-1` forever.
    pub fn max_restarts(mut self, n: i64) -> Self {
        self.max_restarts = Some(n);
        self
    }

    /// How often a call interrupted by a crash is re-run on the restarted actor: `0` (default)
    /// never, `-1` forever. Only async and `blocking` calls can be interrupted (sync calls run
    /// to the end before a crash is handled), and only calls whose arguments are `Clone` can be
    /// re-run; others resolve to `ActorDied`. A call that panicked itself is never re-run.
    pub fn max_task_retries(mut self, n: i64) -> Self {
        self.max_task_retries = Some(n);
        self
    }

    /// Calls one handle may have in flight before `.remote()` fails at once with
    /// `PendingCallsLimitExceeded`: `-1` (default) is unlimited.
    pub fn max_pending_calls(mut self, n: i64) -> Self {
        self.max_pending_calls = Some(n);
        self
    }

    /// How many `&self` calls of the default group run at once (at least 1).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Declares (or resizes) the concurrency group `name` with `max_concurrency` permits.
    pub fn concurrency_group(mut self, name: impl Into<String>, max_concurrency: usize) -> Self {
        let name = name.into();
        self.concurrency_groups.retain(|(n, _)| *n != name);
        self.concurrency_groups.push((name, max_concurrency));
        self
    }

    /// Whether a named actor outlives its handles.
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// When the name is taken by an actor of the same type, return that actor instead of
    /// failing (the constructor arguments are then ignored).
    pub fn get_if_exists(mut self, yes: bool) -> Self {
        self.get_if_exists = Some(yes);
        self
    }

    /// How many CPUs the actor holds while it lives (default 0, as Ray's actors once placed):
    /// its node lends them to no task meanwhile. An actor asking for more than its node has
    /// (with `Placement::Any`, than any node has) dies at once with
    /// `DeathCause::Unschedulable`; one whose resources are held by others waits, at most
    /// [`resource_timeout`](ActorOptions::resource_timeout), before its constructor runs.
    ///
    /// ```
    /// # use helio_runtime::ActorOptions;
    /// let trainer = ActorOptions::new().num_cpus(2.0).num_gpus(1.0).resource("ssd", 1.0);
    /// # let _ = trainer;
    /// ```
    pub fn num_cpus(mut self, cpus: f64) -> Self {
        self.resources.set_cpus(cpus);
        self
    }

    /// How many GPUs the actor holds while it lives (default 0); see
    /// [`num_cpus`](ActorOptions::num_cpus).
    pub fn num_gpus(mut self, gpus: f64) -> Self {
        self.resources.set_gpus(gpus);
        self
    }

    /// How much of the custom resource `name` the actor holds while it lives (a node declares
    /// it with `Config::resource`); setting a name again replaces its amount.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.resources.set(name.into(), amount);
        self
    }

    /// How long the actor may wait for its resources to be free before it dies with
    /// `DeathCause::Unschedulable` (default 60 s). Killing it ends the wait too.
    pub fn resource_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.resource_timeout = Some(timeout);
        self
    }

    /// Creates the actor in a bundle of `pg` (Ray's `PlacementGroupSchedulingStrategy`):
    /// bundle `Some(i)`, or `None` for any bundle with room (the first bundle's node). It
    /// holds its resources from the bundle while it lives, and is killed when the group is
    /// removed. In cluster mode it is created on its bundle's node: `.remote(..)` waits for
    /// the group to be reserved (at most `resource_timeout`), and its type must be
    /// registered there.
    ///
    /// ```
    /// use helio::{ActorOptions, Bundle, PlacementStrategy};
    ///
    /// let pg = helio::placement_group([Bundle::new().num_cpus(1.0)], PlacementStrategy::Pack)
    ///     .unwrap();
    /// let options = ActorOptions::new().num_cpus(1.0).placement_group(&pg, Some(0));
    /// # let _ = options;
    /// helio::remove_placement_group(&pg);
    /// ```
    pub fn placement_group(mut self, pg: &crate::PlacementGroup, bundle: Option<usize>) -> Self {
        self.in_group = Some(crate::InGroup::of(pg, bundle));
        self
    }

    /// The placement group bundle it is created in, if any.
    pub(crate) fn in_group(&self) -> Option<crate::InGroup> {
        self.in_group
    }

    /// How long it may wait for its resources (or its placement group).
    pub(crate) fn resource_wait(&self) -> std::time::Duration {
        self.resource_timeout
            .unwrap_or(std::time::Duration::from_secs(60))
    }

    /// What the actor asks of its node, checked.
    pub(crate) fn demand(&self) -> Result<crate::resources::Resources, String> {
        self.resources.declared(0.0, 0.0)
    }

    /// `self`, with every option that `overrides` sets taken from it.
    #[doc(hidden)]
    pub fn overridden_by(mut self, overrides: ActorOptions) -> Self {
        macro_rules! take {
            ($($field:ident),*) => { $( if overrides.$field.is_some() { self.$field = overrides.$field; } )* };
        }
        take!(
            name,
            namespace,
            max_restarts,
            max_task_retries,
            max_pending_calls,
            max_concurrency,
            lifetime,
            get_if_exists,
            resource_timeout,
            in_group
        );
        self.resources = overrides.resources.over(&self.resources);
        take!(placement);
        for (name, n) in overrides.concurrency_groups {
            self = self.concurrency_group(name, n);
        }
        self
    }

    /// Checks the options and fills in Ray's defaults.
    pub(crate) fn resolve(self) -> Result<ActorConfig, String> {
        let demand = self.demand()?;
        fn at_least_minus_one(what: &str, n: i64) -> Result<i64, String> {
            if n < -1 {
                Err(format!(
                    "`{what}` must be -1 (unlimited) or at least 0, not {n}"
                ))
            } else {
                Ok(n)
            }
        }
        let max_restarts = at_least_minus_one("max_restarts", self.max_restarts.unwrap_or(0))?;
        let max_task_retries =
            at_least_minus_one("max_task_retries", self.max_task_retries.unwrap_or(0))?;
        let max_pending_calls = match self.max_pending_calls.unwrap_or(-1) {
            -1 => None,
            n if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            n => {
                return Err(format!(
                    "`max_pending_calls` must be -1 (unlimited) or at least 1, not {n}"
                ));
            }
        };
        let max_concurrency = self.max_concurrency.unwrap_or(1);
        if max_concurrency == 0 {
            return Err("`max_concurrency` must be at least 1".to_owned());
        }
        let mut groups = vec![(DEFAULT_GROUP.to_owned(), max_concurrency)];
        for (name, n) in self.concurrency_groups {
            if name == DEFAULT_GROUP {
                return Err(format!(
                    "\"{DEFAULT_GROUP}\" is the implicit group; set its size with `max_concurrency`"
                ));
            }
            if n == 0 {
                return Err(format!(
                    "concurrency group \"{name}\" must allow at least 1 call"
                ));
            }
            groups.push((name, n));
        }
        let name = match (self.name, self.namespace) {
            (Some(name), namespace) => Some((
                namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
                name,
            )),
            (None, Some(_)) => return Err("a `namespace` needs a `name`".to_owned()),
            (None, None) => None,
        };
        if name.as_ref().is_some_and(|(_, n)| n.is_empty()) {
            return Err("an actor name must not be empty".to_owned());
        }
        Ok(ActorConfig {
            demand,
            resource_timeout: self
                .resource_timeout
                .unwrap_or(std::time::Duration::from_secs(60)),
            name,
            max_restarts: Limit::from_ray(max_restarts),
            max_task_retries,
            max_pending_calls,
            groups,
            lifetime: self.lifetime.unwrap_or_default(),
            get_if_exists: self.get_if_exists.unwrap_or(false),
            in_group: match self.in_group {
                Some(in_group) => {
                    in_group.check()?;
                    Some(in_group)
                }
                None => None,
            },
        })
    }
}

/// The implicit concurrency group, sized by `max_concurrency`.
pub(crate) const DEFAULT_GROUP: &str = "default";
/// The namespace of names given without one (`ActorOptions::name` alone).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Checked options with defaults filled in.
#[derive(Clone, Debug)]
pub(crate) struct ActorConfig {
    /// `(namespace, name)`.
    pub(crate) name: Option<(String, String)>,
    pub(crate) max_restarts: Limit,
    pub(crate) max_task_retries: i64,
    pub(crate) max_pending_calls: Option<usize>,
    /// `groups[0]` is the default group.
    pub(crate) groups: Vec<(String, usize)>,
    pub(crate) lifetime: Lifetime,
    pub(crate) get_if_exists: bool,
    /// What it holds from its node while it lives.
    pub(crate) demand: crate::resources::Resources,
    pub(crate) resource_timeout: std::time::Duration,
    /// The placement group bundle it lives in.
    pub(crate) in_group: Option<crate::InGroup>,
}

/// Per-call overrides, set with a method handle's `.options(..)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallOptions {
    pub(crate) concurrency_group: Option<Cow<'static, str>>,
    pub(crate) max_task_retries: Option<i64>,
}

impl CallOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Re-runs this call up to `n` times if a crash interrupts it (`-1` forever, `0` never;
    /// values below `-1` count as `0`), instead of the method's or the actor's setting.
    pub fn max_task_retries(mut self, n: i64) -> Self {
        self.max_task_retries = Some(if n < -1 { 0 } else { n });
        self
    }

    /// Runs the call in the concurrency group `name` instead of the method's own. A group the
    /// actor does not declare fails the call at once, at `.remote(..)`, with
    /// `ActorError::UnknownConcurrencyGroup`.
    pub fn concurrency_group(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.concurrency_group = Some(name.into());
        self
    }
}
