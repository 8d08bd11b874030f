//! What the node, or the whole cluster, has and has free: Ray's `ray.cluster_resources()` and
//! `ray.available_resources()`.

use std::collections::BTreeMap;

use crate::resources::Resources;

/// Every resource's total, by name (`CPU`, `GPU`, custom): this process's node, or in
/// cluster mode every live node's, summed (each node asked now). Ray's
/// `ray.cluster_resources()`.
///
/// ```
/// helio::init(helio::Config::new().num_cpus(4.0).resource("ssd", 2.0)).unwrap();
/// let total = helio::cluster_resources();
/// assert_eq!(total.get("CPU"), Some(&4.0));
/// assert_eq!(total.get("ssd"), Some(&2.0));
/// assert_eq!(helio::available_resources().get("CPU"), Some(&4.0)); // nothing runs
/// ```
pub fn cluster_resources() -> BTreeMap<String, f64> {
    both().0
}

/// What is free now of every resource, by name: this process's node, or in cluster mode
/// every live node's, summed (each node asked now). A resource that is all held is listed
/// with 0. Ray's `ray.available_resources()` (which leaves such a resource out).
pub fn available_resources() -> BTreeMap<String, f64> {
    both().1
}

fn both() -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    if let Some(cluster) = crate::seam::hooks::cluster() {
        return cluster.resources();
    }
    let (total, held) = crate::system::task_pool().snapshot();
    (by_name(&total, None), by_name(&total, Some(&held)))
}

/// `total` by name, less `held` when given.
fn by_name(total: &Resources, held: Option<&Resources>) -> BTreeMap<String, f64> {
    total
        .iter()
        .map(|(name, amount)| {
            let free = held.map_or(amount, |held| amount.saturating_sub(held.get(name)));
            (name.to_owned(), free.to_f64())
        })
        .collect()
}
