//! A task's options: Ray's `max_retries`, `retry_exceptions`, `num_cpus`, `num_gpus`, custom
//! resources and `name`, set by `#[remote(..)]` and overridden per handle.

use crate::resources::Resources;

/// Options of a task, with Ray's names and defaults: `#[remote(..)]` sets a fn's defaults,
/// and `f.options(TaskOptions::new()...)` overrides them for its calls.
///
/// | option | default | Ray |
/// | --- | --- | --- |
/// | `max_retries(n)`: `-1` (forever) or `n >= 0` | `3` | `max_retries` |
/// | `retry_on_panic(bool)` | `false` | `retry_exceptions` |
/// | `num_cpus(x)` | `1.0` | `num_cpus` |
/// | `num_gpus(x)` | `0.0` | `num_gpus` |
/// | `resource(name, x)` | none | `resources={name: x}` |
/// | `name(s)` | the fn's path | `name` |
/// | `resource_timeout(d)` | none: waits as long as it takes | none |
///
/// ```
/// use helio_runtime::TaskOptions;
/// let heavy = TaskOptions::new().num_cpus(2.0).resource("ssd", 1.0).max_retries(1);
/// # let _ = heavy;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskOptions {
    max_retries: Option<i64>,
    retry_on_panic: Option<bool>,
    resources: crate::asked::Asked,
    pub(crate) name: Option<String>,
    pub(crate) resource_timeout: Option<std::time::Duration>,
    /// The placement group bundle it runs in, if any.
    pub(crate) in_group: Option<crate::InGroup>,
}

impl TaskOptions {
    /// No overrides: every option keeps its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often a task that failed runs again: `-1` forever, `0` never (default 3, as in
    /// Ray). In one process only a panic fails a task, and it is retried only with
    /// [`retry_on_panic`](TaskOptions::retry_on_panic).
    pub fn max_retries(mut self, n: i64) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Whether a panic is retried (Ray's `retry_exceptions`; default `false`: the ref
    /// resolves to [`ActorError::TaskPanicked`](crate::ActorError::TaskPanicked) at once). Needs `Clone` arguments: a retry
    /// runs from a copy.
    pub fn retry_on_panic(mut self, retry: bool) -> Self {
        self.retry_on_panic = Some(retry);
        self
    }

    /// How many CPUs the task holds while it runs (default 1, fractions allowed, `0` never
    /// waits). At most `Config::num_cpus` run at once on a node.
    pub fn num_cpus(mut self, cpus: f64) -> Self {
        self.resources.set_cpus(cpus);
        self
    }

    /// How many GPUs the task holds while it runs (default 0).
    pub fn num_gpus(mut self, gpus: f64) -> Self {
        self.resources.set_gpus(gpus);
        self
    }

    /// How much of the custom resource `name` the task holds while it runs (a node declares
    /// it with `Config::resource`). Setting a name again replaces its amount.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.resources.set(name.into(), amount);
        self
    }

    /// A name for the task's calls, shown in their errors instead of the fn's path.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long the task may wait in line for its resources before it resolves to
    /// [`ActorError::ActorUnavailable`](crate::ActorError::ActorUnavailable) (default: as long as it takes, as in Ray; a cancel ends
    /// the wait too).
    ///
    /// ```
    /// use std::time::Duration;
    /// let impatient = helio_runtime::TaskOptions::new().resource_timeout(Duration::from_secs(5));
    /// # let _ = impatient;
    /// ```
    pub fn resource_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.resource_timeout = Some(timeout);
        self
    }

    /// Runs the task in a bundle of `pg` (Ray's `PlacementGroupSchedulingStrategy`): bundle
    /// `Some(i)`, or `None` for any bundle with room. It takes its resources from the bundle
    /// (waiting for the group to be reserved first). A bundle past the group's, or a group
    /// removed, fails the task. In cluster mode it runs on its bundle's node (register the fn
    /// there, `helio::register_task`), waiting there in the bundle's own line.
    ///
    /// ```
    /// use std::time::Duration;
    /// use helio::{Bundle, PlacementStrategy, TaskOptions};
    ///
    /// let pg = helio::placement_group([Bundle::new().num_cpus(1.0)], PlacementStrategy::Pack)
    ///     .unwrap();
    /// let options = TaskOptions::new().placement_group(&pg, Some(0));
    /// # let _ = options;
    /// helio::remove_placement_group(&pg);
    /// ```
    pub fn placement_group(mut self, pg: &crate::PlacementGroup, bundle: Option<usize>) -> Self {
        self.in_group = Some(crate::InGroup::of(pg, bundle));
        self
    }

    /// These options over `base`: each option set here wins.
    pub(crate) fn over(self, base: &TaskOptions) -> TaskOptions {
        TaskOptions {
            resources: self.resources.over(&base.resources),
            max_retries: self.max_retries.or(base.max_retries),
            retry_on_panic: self.retry_on_panic.or(base.retry_on_panic),
            name: self.name.or_else(|| base.name.clone()),
            resource_timeout: self.resource_timeout.or(base.resource_timeout),
            in_group: self.in_group.or(base.in_group),
        }
    }

    /// What the task asks of its node, checked.
    /// The placement group bundle it runs in, if any (cluster mode routes it there).
    pub fn in_group(&self) -> Option<crate::InGroup> {
        self.in_group
    }

    pub(crate) fn demand(&self) -> Result<Resources, String> {
        self.resources.declared(1.0, 0.0)
    }

    /// How often a task runs again after its node died (cluster mode): `None` forever.
    pub fn node_retries(&self) -> Option<u64> {
        match self.max_retries.unwrap_or(3) {
            n if n < 0 => None,
            n => Some(n.unsigned_abs()),
        }
    }

    /// How often a panic is retried: `None` forever, `Some(0)` never.
    pub(crate) fn panic_retries(&self) -> Result<Option<u64>, String> {
        if !self.retry_on_panic.unwrap_or(false) {
            return Ok(Some(0));
        }
        match self.max_retries.unwrap_or(3) {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(n.unsigned_abs())),
            n => Err(format!(
                "`max_retries` must be -1 (forever) or at least 0, not {n}"
            )),
        }
    }
}
