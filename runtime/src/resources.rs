//! Resources: Ray's `num_cpus`, `num_gpus` and custom resources, as plain data.
//!
//! - **Fixed point.** An [`Amount`] is a whole number of units of 1/10 000 (Ray's
//!   granularity), so `0.1 + 0.2` is exactly `0.3` and holding and giving back never drifts.
//!   Finer values are rounded to the nearest unit.
//! - **All or nothing.** A [`Ledger`] is what one node has (`total`) and holds (`held`).
//!   [`Ledger::try_acquire`] takes every resource of a demand or none of them, and hands back a
//!   [`Grant`] that [`Ledger::release`] takes back, exactly once.
//! - **Never fits vs not now.** A demand above a node's *total* can never run there
//!   ([`Ledger::never_fits`], a [`Shortfall`] the user should hear about); a demand above what
//!   is *free* just waits for a release ([`Busy`], no error). [`pick`] applies both to a set of
//!   nodes.

// Used by the tasks issue next (task limits and placement); nothing calls it yet.
#![cfg_attr(not(test), allow(dead_code))]

use std::collections::BTreeMap;
use std::fmt;

mod gpu_ids;

use gpu_ids::GpuSlots;
pub(crate) use gpu_ids::visible as visible_gpu_ids;

/// The well-known name of CPU units (`num_cpus`).
pub const CPU: &str = "CPU";
/// The well-known name of GPU units (`num_gpus`).
pub const GPU: &str = "GPU";

/// How many units make one whole resource: amounts are kept in 1/10 000ths.
pub(crate) const SCALE: u64 = 10_000;

/// An amount of one resource, in fixed point: a whole number of 1/10 000ths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u64);

impl Amount {
    /// No amount at all.
    pub const ZERO: Amount = Amount(0);
    /// The largest amount that can be held.
    pub const MAX: Amount = Amount(u64::MAX);

    /// Reads a user's amount (`0.5`, `2`): it must be finite, at least 0, and at most
    /// [`Amount::MAX`]; anything finer than 1/10 000 is rounded to the nearest 1/10 000.
    pub fn from_f64(value: f64) -> Result<Amount, ResourceError> {
        Amount::parse(value, || "a resource".to_owned())
    }

    /// [`Amount::from_f64`], with `what` naming the amount in the error (`` `num_cpus` ``).
    fn parse(value: f64, what: impl FnOnce() -> String) -> Result<Amount, ResourceError> {
        // `-0.0 < 0.0` is false: a negative zero reads as zero.
        if !value.is_finite() || value < 0.0 {
            return Err(ResourceError::Invalid {
                what: what(),
                value,
            });
        }
        let scaled = (value * SCALE as f64).round();
        // 2^64, the first value past `u64::MAX`; `u64::MAX as f64` rounds up to it.
        if scaled >= 18_446_744_073_709_551_616.0 {
            return Err(ResourceError::TooLarge {
                what: what(),
                value,
            });
        }
        // In range and whole, so the cast is exact up to f64's own precision.
        Ok(Amount(scaled as u64))
    }

    /// An amount of `units` 1/10 000ths.
    pub const fn from_units(units: u64) -> Amount {
        Amount(units)
    }

    /// How many 1/10 000ths this is.
    pub const fn units(self) -> u64 {
        self.0
    }

    /// The amount as a float, for display to users or for reports.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }

    /// Whether this is no amount at all.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` past [`Amount::MAX`].
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` below zero.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `self + other`, stopping at [`Amount::MAX`].
    pub fn saturating_add(self, other: Amount) -> Amount {
        Amount(self.0.saturating_add(other.0))
    }

    /// `self - other`, stopping at zero.
    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Amount {
    /// Decimal, without trailing zeros: `2`, `1.5`, `0.25`, `0.0001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / SCALE;
        let fraction = self.0 % SCALE;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{fraction:04}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// A resource amount or name that cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ResourceError {
    /// Negative, NaN or infinite.
    #[error("{what} must be a finite amount ≥ 0, not {value}")]
    Invalid {
        /// The amount, as the user spells it: `` `num_cpus` ``, ``resource `ssd` ``.
        what: String,
        /// What was given.
        value: f64,
    },
    /// More than [`Amount::MAX`].
    #[error(
        "{what} must be at most {max}, not {value:e}; ask for a smaller amount",
        max = Amount::MAX
    )]
    TooLarge {
        /// The amount, as the user spells it: `` `num_cpus` ``, ``resource `ssd` ``.
        what: String,
        /// What was given.
        value: f64,
    },
    /// A custom resource named `""`.
    #[error("a custom resource needs a name, not \"\"; name it (for example \"ssd\")")]
    EmptyName,
}

/// How the user spells the amount of resource `name`, for error messages.
fn spelled(name: &str) -> String {
    match name {
        CPU => "`num_cpus`".to_owned(),
        GPU => "`num_gpus`".to_owned(),
        _ => format!("resource `{name}`"),
    }
}

/// A set of named amounts: a node's capacity, or what a task or actor asks for.
///
/// Zero amounts are never stored, so a demand of `num_cpus = 0` is empty and two sets with the
/// same non-zero amounts are equal. CPUs and GPUs are kept inline: a demand of CPUs and GPUs
/// only (nearly every task's) allocates nothing, and neither does its grant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// `num_cpus` (zero: none).
    cpu: Amount,
    /// `num_gpus` (zero: none).
    gpu: Amount,
    /// Every other resource by name, never zero, never named [`CPU`] or [`GPU`].
    custom: BTreeMap<String, Amount>,
}

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Resources::default()
    }

    /// These resources with `amount` of `name` (replacing any amount of `name` already
    /// there; zero removes it). Fails on an invalid amount or an empty name.
    pub fn with(mut self, name: &str, amount: f64) -> Result<Self, ResourceError> {
        if name.is_empty() {
            return Err(ResourceError::EmptyName);
        }
        let amount = Amount::parse(amount, || spelled(name))?;
        self.set(name, amount);
        Ok(self)
    }

    /// How much of `name` there is; zero when there is none.
    pub fn get(&self, name: &str) -> Amount {
        match name {
            CPU => self.cpu,
            GPU => self.gpu,
            other => self.custom.get(other).copied().unwrap_or(Amount::ZERO),
        }
    }

    /// Whether there is no resource at all.
    pub fn is_empty(&self) -> bool {
        self.cpu.is_zero() && self.gpu.is_zero() && self.custom.is_empty()
    }

    /// Each resource and its (non-zero) amount, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Amount)> + '_ {
        use std::ops::Bound::{Excluded, Unbounded};
        let named =
            |name: &'static str, amount: Amount| (!amount.is_zero()).then_some((name, amount));
        let custom = |range: (std::ops::Bound<&str>, std::ops::Bound<&str>)| {
            self.custom
                .range::<str, _>(range)
                .map(|(name, amount)| (name.as_str(), *amount))
        };
        // In name order, as one map would give them: the custom names sort around "CPU"
        // and "GPU".
        custom((Unbounded, Excluded(CPU)))
            .chain(named(CPU, self.cpu))
            .chain(custom((Excluded(CPU), Excluded(GPU))))
            .chain(named(GPU, self.gpu))
            .chain(custom((Excluded(GPU), Unbounded)))
    }

    /// Each resource and its amount as a float, by name: as users and the wire read them.
    pub fn listed(&self) -> Vec<(String, f64)> {
        self.iter()
            .map(|(name, amount)| (name.to_owned(), amount.to_f64()))
            .collect()
    }

    /// Sets `name` to `amount`; zero removes it.
    fn set(&mut self, name: &str, amount: Amount) {
        match name {
            CPU => self.cpu = amount,
            GPU => self.gpu = amount,
            other if amount.is_zero() => {
                self.custom.remove(other);
            }
            other => match self.custom.get_mut(other) {
                Some(slot) => *slot = amount,
                None => {
                    self.custom.insert(other.to_owned(), amount);
                }
            },
        }
    }
}

/// `cpus` CPUs, `gpus` GPUs and the `custom` resources, as a node declares them or a task or
/// actor asks for them; an error says which amount or name cannot be used (CPUs and GPUs are
/// given with `num_cpus` / `num_gpus`, never as custom resources).
pub fn declared<'a>(
    cpus: f64,
    gpus: f64,
    custom: impl IntoIterator<Item = (&'a str, f64)>,
) -> Result<Resources, String> {
    let mut all = Resources::new()
        .with(CPU, cpus)
        .and_then(|all| all.with(GPU, gpus))
        .map_err(|err| err.to_string())?;
    for (name, amount) in custom {
        if name == CPU || name == GPU {
            return Err(format!(
                "resource \"{name}\" is given with `num_cpus` / `num_gpus`, not `resource`"
            ));
        }
        all = all.with(name, amount).map_err(|err| err.to_string())?;
    }
    Ok(all)
}

/// Why a demand can never run on a node: it wants more of `resource` than the node has in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// The resource the node has too little of.
    pub resource: String,
    /// How much the demand wants.
    pub wanted: Amount,
    /// How much the node has in all (zero: none at all).
    pub total: Amount,
}

impl fmt::Display for Shortfall {
    /// `needs 2 GPU, the node has 1`, or `needs 1 ssd, the node has none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "needs {} {}, the node has ", self.wanted, self.resource)?;
        if self.total.is_zero() {
            f.write_str("none")
        } else {
            write!(f, "{}", self.total)
        }
    }
}

/// Why a demand cannot be granted *now*: too little of `resource` is free. Not an error; the
/// demand fits once enough is released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Busy {
    /// The first resource (by name) with too little free.
    pub resource: String,
    /// How much the demand wants.
    pub wanted: Amount,
    /// How much is free now.
    pub free: Amount,
}

impl fmt::Display for Busy {
    /// `needs 2 CPU, 0.5 free now`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "needs {} {}, {} free now",
            self.wanted, self.resource, self.free
        )
    }
}

/// Resources taken from a [`Ledger`] by [`Ledger::try_acquire`], held until they are given
/// back with [`Ledger::release`].
///
/// Not `Clone`: a grant is given back once, by value.
#[must_use = "a grant holds its resources until it is given back with `Ledger::release`"]
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    /// Exactly what was taken.
    taken: Resources,
    /// Which GPUs of the node it holds, and how much of each (empty without GPUs).
    gpus: gpu_ids::Taken,
}

impl Grant {
    /// A grant of nothing: what an empty demand takes, without asking any ledger.
    pub fn empty() -> Grant {
        Grant {
            taken: Resources::new(),
            gpus: Vec::new(),
        }
    }

    /// Adds what `other` holds to this grant: the two are given back as one.
    pub fn absorb(&mut self, other: Grant) {
        for (name, amount) in other.taken.iter() {
            let sum = self.taken.get(name).saturating_add(amount);
            self.taken.set(name, sum);
        }
        self.gpus.extend(other.gpus);
    }

    /// What this grant holds.
    pub fn resources(&self) -> &Resources {
        &self.taken
    }

    /// The ids of the GPUs this grant holds some of, in order (Ray's `ray.get_gpu_ids()`):
    /// empty when it holds none, or when its ledger assigns no ids.
    pub fn gpu_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.gpus.iter().map(|(id, _)| *id).collect();
        ids.dedup();
        ids
    }

    /// Moves all of resource `name` out of this grant into a grant of its own (empty when it
    /// holds none), so that the two are given back apart: a task blocked in `get` gives back
    /// its CPUs but keeps its GPUs.
    pub fn split_off(&mut self, name: &str) -> Grant {
        let amount = self.taken.get(name);
        self.taken.set(name, Amount::ZERO);
        let mut split = Resources::new();
        split.set(name, amount);
        let gpus = if name == GPU {
            std::mem::take(&mut self.gpus)
        } else {
            Vec::new()
        };
        Grant { taken: split, gpus }
    }
}

/// The resources of one node: what it has in all, and what grants hold now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    /// What the node has in all.
    total: Resources,
    /// What outstanding grants hold; never more than `total`.
    held: Resources,
    /// Which GPUs grants hold, by id (see [`Grant::gpu_ids`]).
    gpus: GpuSlots,
}

impl Ledger {
    /// A node with `total` resources, none held. Its GPUs have ids `0..n`, one per started
    /// whole GPU of `total`.
    pub fn new(total: Resources) -> Self {
        let count = GpuSlots::count(total.get(GPU));
        Ledger::with_gpu_ids(total, 0..u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// As [`Ledger::new`], with the GPUs' ids given (those in `CUDA_VISIBLE_DEVICES`, say):
    /// as many of them as [`Ledger::new`] would number are used.
    pub fn with_gpu_ids(total: Resources, ids: impl IntoIterator<Item = u32>) -> Self {
        let count = GpuSlots::count(total.get(GPU));
        Ledger {
            gpus: GpuSlots::new(ids.into_iter().take(count)),
            total,
            held: Resources::new(),
        }
    }

    /// How many GPUs have ids on a node with `gpus` GPUs: one per started whole.
    pub fn gpu_count(gpus: Amount) -> usize {
        GpuSlots::count(gpus)
    }

    /// A node with `total` resources of which `held` are held (another node's figures, as it
    /// reported them; `held` may exceed `total` there for a moment). Its GPUs are amounts
    /// only: it assigns no ids.
    pub fn with_held(total: Resources, held: Resources) -> Self {
        Ledger {
            total,
            held,
            gpus: GpuSlots::default(),
        }
    }

    /// The same node with nothing held: its total, and its GPUs' ids.
    pub fn emptied(&self) -> Ledger {
        Ledger {
            total: self.total.clone(),
            held: Resources::new(),
            gpus: self.gpus.emptied(),
        }
    }

    /// What the node has in all.
    pub fn total(&self) -> &Resources {
        &self.total
    }

    /// What outstanding grants hold.
    pub fn held(&self) -> &Resources {
        &self.held
    }

    /// What is free now: `total - held`, without zero amounts.
    pub fn free(&self) -> Resources {
        let mut free = Resources::new();
        for (name, _) in self.total.iter() {
            free.set(name, self.free_of(name));
        }
        free
    }

    /// Whether nothing at all is free: no demand but an empty one fits now.
    pub fn is_full(&self) -> bool {
        self.total
            .iter()
            .all(|(name, total)| self.held.get(name) >= total)
    }

    /// How much of `name` is free now.
    fn free_of(&self, name: &str) -> Amount {
        self.total.get(name).saturating_sub(self.held.get(name))
    }

    /// `Some` when `demand` wants more of some resource than the node has *in all*, so it can
    /// never run here however much is released: the first such resource, by name.
    pub fn never_fits(&self, demand: &Resources) -> Option<Shortfall> {
        self.shortfalls(demand).next()
    }

    /// Every resource `demand` wants more of than the node has in all, by name.
    fn shortfalls<'s>(&'s self, demand: &'s Resources) -> impl Iterator<Item = Shortfall> + 's {
        demand.iter().filter_map(|(name, wanted)| {
            let total = self.total.get(name);
            (wanted > total).then(|| Shortfall {
                resource: name.to_owned(),
                wanted,
                total,
            })
        })
    }

    /// The first resource (by name) of `demand` with too little free now, if any.
    pub(crate) fn busy(&self, demand: &Resources) -> Option<Busy> {
        demand.iter().find_map(|(name, wanted)| {
            let free = self.free_of(name);
            // GPUs also need room on GPUs by id: halves held on two GPUs leave no whole one.
            let fits = wanted <= free && (name != GPU || self.gpus.fits(wanted));
            (!fits).then(|| Busy {
                resource: name.to_owned(),
                wanted,
                free,
            })
        })
    }

    /// Takes all of `demand`, or nothing: fails with the first resource (by name) that has too
    /// little free now. An empty demand (`num_cpus = 0`) always succeeds.
    ///
    /// A demand that [never fits](Ledger::never_fits) is always `Busy` here; check that first
    /// to tell the user instead of waiting forever.
    pub fn try_acquire(&mut self, demand: &Resources) -> Result<Grant, Busy> {
        if let Some(busy) = self.busy(demand) {
            return Err(busy);
        }
        // Fits: `busy` checked the GPUs by id too.
        let gpus = self.gpus.take(demand.get(GPU)).unwrap_or_default();
        for (name, wanted) in demand.iter() {
            // Cannot saturate: `held + wanted ≤ total` was just checked.
            let held = self.held.get(name).saturating_add(wanted);
            self.held.set(name, held);
        }
        Ok(Grant {
            taken: demand.clone(),
            gpus,
        })
    }

    /// Gives back exactly what `grant` holds. The grant must come from this ledger; one from
    /// another ledger trips a debug assertion, and in release builds never takes `held` below
    /// zero.
    pub fn release(&mut self, grant: Grant) {
        for (name, amount) in grant.taken.iter() {
            let held = self.held.get(name);
            debug_assert!(
                amount <= held,
                "released {amount} {name} but only {held} is held: a grant from another ledger?"
            );
            self.held.set(name, held.saturating_sub(amount));
        }
        self.gpus.give_back(&grant.gpus);
    }
}

/// Where a demand goes, as chosen by [`pick`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick<K> {
    /// This node's free resources fit the demand now.
    Fits(K),
    /// No node fits it now, but some node would once others release.
    Wait,
    /// No node has enough in all: the shortfall of the node that comes closest.
    Never(Shortfall),
}

/// How far a node's total is from a demand that never fits there; less is closer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Distance {
    /// How many resources are short.
    short: usize,
    /// The sum, over those resources, of the missing part of what is wanted, in 1/10 000ths of
    /// the amount wanted (so different resources compare: 1 of 2 GPUs missing is 5 000).
    missing: u128,
}

impl Distance {
    /// The distance of a node with these shortfalls (none: zero).
    fn of(shortfalls: impl Iterator<Item = Shortfall>) -> Distance {
        shortfalls.fold(
            Distance {
                short: 0,
                missing: 0,
            },
            |distance, shortfall| {
                let missing = u128::from(shortfall.wanted.units() - shortfall.total.units())
                    * u128::from(SCALE)
                    / u128::from(shortfall.wanted.units());
                Distance {
                    short: distance.short + 1,
                    missing: distance.missing + missing,
                }
            },
        )
    }
}

/// Chooses where `demand` goes among `nodes`:
///
/// - [`Pick::Fits`]: of the nodes whose free resources fit it now, the one with the most free
///   CPU left after it (ties: the first);
/// - [`Pick::Wait`]: none fits now, but some node's total does;
/// - [`Pick::Never`]: no node's total fits it; the shortfall of the node that comes closest
///   (fewest resources short, then the smallest missing share of what is wanted; ties: the
///   first). With no nodes at all, the shortfall is on the first resource demanded, against a
///   total of zero; an empty demand with no nodes waits.
pub fn pick<'a, K>(
    nodes: impl IntoIterator<Item = (K, &'a Ledger)>,
    demand: &Resources,
) -> Pick<K> {
    let mut best: Option<(K, Amount)> = None;
    let mut could_fit = false;
    let mut closest: Option<(Distance, Shortfall)> = None;
    for (key, ledger) in nodes {
        if let Some(first) = ledger.never_fits(demand) {
            let distance = Distance::of(ledger.shortfalls(demand));
            if closest.as_ref().is_none_or(|(best, _)| distance < *best) {
                closest = Some((distance, first));
            }
            continue;
        }
        could_fit = true;
        if ledger.busy(demand).is_none() {
            let cpu_after = ledger.free_of(CPU).saturating_sub(demand.get(CPU));
            if best.as_ref().is_none_or(|(_, most)| cpu_after > *most) {
                best = Some((key, cpu_after));
            }
        }
    }
    if let Some((key, _)) = best {
        return Pick::Fits(key);
    }
    if could_fit {
        return Pick::Wait;
    }
    if let Some((_, shortfall)) = closest {
        return Pick::Never(shortfall);
    }
    // No nodes at all.
    match demand.iter().next() {
        Some((name, wanted)) => Pick::Never(Shortfall {
            resource: name.to_owned(),
            wanted,
            total: Amount::ZERO,
        }),
        None => Pick::Wait,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn amount(value: f64) -> Amount {
        Amount::from_f64(value).unwrap()
    }

    fn res(pairs: &[(&str, f64)]) -> Resources {
        pairs
            .iter()
            .try_fold(Resources::new(), |r, (name, value)| r.with(name, *value))
            .unwrap()
    }

    #[test]
    fn fixed_point_sums_do_not_drift() {
        let sum = amount(0.1).checked_add(amount(0.2)).unwrap();
        assert_eq!(sum, amount(0.3));
        assert_eq!(sum.to_f64(), 0.3);
        let mut total = Amount::ZERO;
        for _ in 0..10 {
            total = total.checked_add(amount(0.1)).unwrap();
        }
        assert_eq!(total, amount(1.0));
        assert_eq!(total.checked_sub(amount(0.7)).unwrap(), amount(0.3));
    }

    #[test]
    fn finer_values_round_to_the_nearest_ten_thousandth() {
        assert_eq!(amount(1.0 / 3.0), Amount::from_units(3333));
        assert_eq!(amount(2.0 / 3.0), Amount::from_units(6667));
        assert_eq!(amount(0.00004), Amount::ZERO);
        assert_eq!(amount(0.00006), Amount::from_units(1));
        assert_eq!(amount(-0.0), Amount::ZERO);
    }

    #[test]
    fn display_drops_trailing_zeros() {
        assert_eq!(amount(1.5).to_string(), "1.5");
        assert_eq!(amount(0.25).to_string(), "0.25");
        assert_eq!(amount(2.0).to_string(), "2");
        assert_eq!(Amount::ZERO.to_string(), "0");
        assert_eq!(amount(0.0001).to_string(), "0.0001");
        assert_eq!(amount(10.05).to_string(), "10.05");
        assert_eq!(Amount::MAX.to_string(), "1844674407370955.1615");
    }

    #[test]
    fn checked_math_stops_at_the_ends() {
        assert_eq!(amount(1.0).checked_sub(amount(1.5)), None);
        assert_eq!(Amount::MAX.checked_add(Amount::from_units(1)), None);
        assert_eq!(amount(1.0).saturating_sub(amount(1.5)), Amount::ZERO);
        assert_eq!(Amount::MAX.saturating_add(amount(1.0)), Amount::MAX);
    }

    #[test]
    fn invalid_amounts_are_rejected_with_what_to_fix() {
        let error = Resources::new().with(CPU, -1.0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`num_cpus` must be a finite amount ≥ 0, not -1"
        );
        let error = Resources::new().with(GPU, f64::NAN).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`num_gpus` must be a finite amount ≥ 0, not NaN"
        );
        let error = Resources::new().with("ssd", f64::INFINITY).unwrap_err();
        assert_eq!(
            error.to_string(),
            "resource `ssd` must be a finite amount ≥ 0, not inf"
        );
        let error = Resources::new().with(CPU, 1e300).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`num_cpus` must be at most 1844674407370955.1615, not 1e300; ask for a smaller amount"
        );
        assert!(matches!(
            Amount::from_f64(2e15),
            Err(ResourceError::TooLarge { .. })
        ));
        assert!(Amount::from_f64(1e15).is_ok());
        let error = Amount::from_f64(-0.5).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a resource must be a finite amount ≥ 0, not -0.5"
        );
        assert_eq!(
            Resources::new().with("", 1.0),
            Err(ResourceError::EmptyName)
        );
    }

    #[test]
    fn resources_iterate_in_name_order_around_cpu_and_gpu() {
        let all = Resources::new()
            .with("Z", 1.0)
            .and_then(|all| all.with(GPU, 2.0))
            .and_then(|all| all.with("D", 3.0))
            .and_then(|all| all.with(CPU, 4.0))
            .and_then(|all| all.with("A", 5.0))
            .unwrap();
        let names: Vec<&str> = all.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["A", CPU, "D", GPU, "Z"]);
        assert_eq!(all.get("D"), Amount::from_units(30_000));
        let cpu_only = Resources::new().with(CPU, 1.0).unwrap();
        assert_eq!(
            cpu_only.iter().collect::<Vec<_>>(),
            [(CPU, Amount::from_units(10_000))]
        );
    }

    #[test]
    fn zero_amounts_are_not_stored_and_with_replaces() {
        let r = res(&[(CPU, 0.0), (GPU, 0.0)]);
        assert!(r.is_empty());
        assert_eq!(r, Resources::new());
        let r = res(&[(CPU, 2.0), ("ssd", 1.0), (CPU, 0.5)]);
        assert_eq!(r.get(CPU), amount(0.5));
        assert_eq!(r.get(GPU), Amount::ZERO);
        let listed: Vec<(&str, Amount)> = r.iter().collect();
        assert_eq!(listed, [(CPU, amount(0.5)), ("ssd", amount(1.0))]);
        let r = r.with("ssd", 0.0).unwrap();
        assert_eq!(r, res(&[(CPU, 0.5)]));
    }

    #[test]
    fn acquire_then_release_restores_free() {
        let mut ledger = Ledger::new(res(&[(CPU, 4.0), (GPU, 1.0)]));
        let before = ledger.free();
        assert_eq!(&before, ledger.total());
        let a = ledger.try_acquire(&res(&[(CPU, 1.5)])).unwrap();
        let b = ledger.try_acquire(&res(&[(CPU, 0.5), (GPU, 1.0)])).unwrap();
        assert_eq!(ledger.held(), &res(&[(CPU, 2.0), (GPU, 1.0)]));
        assert_eq!(ledger.free(), res(&[(CPU, 2.0)]));
        assert_eq!(b.resources(), &res(&[(CPU, 0.5), (GPU, 1.0)]));
        ledger.release(a);
        assert_eq!(ledger.free(), res(&[(CPU, 3.5)]));
        ledger.release(b);
        assert_eq!(ledger.free(), before);
        assert!(ledger.held().is_empty());
    }

    #[test]
    fn acquire_is_all_or_nothing() {
        let mut ledger = Ledger::new(res(&[(CPU, 4.0), (GPU, 1.0)]));
        let gpu = ledger.try_acquire(&res(&[(GPU, 1.0)])).unwrap();
        let busy = ledger
            .try_acquire(&res(&[(CPU, 2.0), (GPU, 0.5)]))
            .unwrap_err();
        assert_eq!(
            busy,
            Busy {
                resource: GPU.to_owned(),
                wanted: amount(0.5),
                free: Amount::ZERO,
            }
        );
        assert_eq!(busy.to_string(), "needs 0.5 GPU, 0 free now");
        // The CPU part was not taken either.
        assert_eq!(ledger.held(), &res(&[(GPU, 1.0)]));
        assert_eq!(ledger.free(), res(&[(CPU, 4.0)]));
        ledger.release(gpu);
        let both = ledger.try_acquire(&res(&[(CPU, 2.0), (GPU, 0.5)])).unwrap();
        ledger.release(both);
        assert!(ledger.held().is_empty());
    }

    #[test]
    fn busy_names_the_first_short_resource_by_name() {
        let mut ledger = Ledger::new(res(&[(CPU, 1.0), (GPU, 1.0)]));
        let busy = ledger
            .try_acquire(&res(&[(CPU, 2.0), (GPU, 2.0)]))
            .unwrap_err();
        assert_eq!(busy.resource, CPU);
        assert_eq!(busy.wanted, amount(2.0));
        assert_eq!(busy.free, amount(1.0));
    }

    #[test]
    fn an_empty_demand_always_fits() {
        let zero = res(&[(CPU, 0.0)]);
        let mut empty_node = Ledger::new(Resources::new());
        assert_eq!(empty_node.never_fits(&zero), None);
        let grant = empty_node.try_acquire(&zero).unwrap();
        empty_node.release(grant);

        let mut full = Ledger::new(res(&[(CPU, 1.0)]));
        let all = full.try_acquire(&res(&[(CPU, 1.0)])).unwrap();
        assert!(full.free().is_empty());
        let grant = full.try_acquire(&zero).unwrap();
        assert!(grant.resources().is_empty());
        full.release(grant);
        full.release(all);
        assert_eq!(pick([("full", &full)], &zero), Pick::Fits("full"));
    }

    #[test]
    fn never_fits_names_the_resource_and_the_amounts() {
        let ledger = Ledger::new(res(&[(CPU, 8.0), (GPU, 1.0)]));
        assert_eq!(ledger.never_fits(&res(&[(CPU, 8.0), (GPU, 1.0)])), None);
        let shortfall = ledger.never_fits(&res(&[(CPU, 1.0), (GPU, 2.0)])).unwrap();
        assert_eq!(
            shortfall,
            Shortfall {
                resource: GPU.to_owned(),
                wanted: amount(2.0),
                total: amount(1.0),
            }
        );
        assert_eq!(shortfall.to_string(), "needs 2 GPU, the node has 1");
        let shortfall = ledger.never_fits(&res(&[("ssd", 1.0)])).unwrap();
        assert_eq!(shortfall.to_string(), "needs 1 ssd, the node has none");
        // Holding does not change what never fits.
        let mut ledger = ledger;
        let grant = ledger.try_acquire(&res(&[(CPU, 8.0)])).unwrap();
        assert_eq!(ledger.never_fits(&res(&[(CPU, 8.0)])), None);
        ledger.release(grant);
    }

    #[test]
    fn pick_chooses_the_most_free_cpu_after_ties_to_the_first() {
        let mut small = Ledger::new(res(&[(CPU, 2.0)]));
        let big = Ledger::new(res(&[(CPU, 8.0)]));
        let twin = Ledger::new(res(&[(CPU, 8.0)]));
        let demand = res(&[(CPU, 1.0)]);
        assert_eq!(
            pick([("small", &small), ("big", &big), ("twin", &twin)], &demand),
            Pick::Fits("big")
        );
        // Only a node that fits now is chosen, however much CPU another would have.
        let mut gpu_node = Ledger::new(res(&[(CPU, 1.0), (GPU, 1.0)]));
        let held = gpu_node.try_acquire(&res(&[(GPU, 1.0)])).unwrap();
        let gpu_demand = res(&[(GPU, 1.0)]);
        let other = Ledger::new(res(&[(CPU, 0.5), (GPU, 1.0)]));
        assert_eq!(
            pick([(1, &gpu_node), (2, &other)], &gpu_demand),
            Pick::Fits(2)
        );
        gpu_node.release(held);
        let grant = small.try_acquire(&res(&[(CPU, 2.0)])).unwrap();
        assert_eq!(pick([("small", &small)], &demand), Pick::Wait);
        small.release(grant);
    }

    #[test]
    fn pick_waits_when_a_node_could_fit_it_later() {
        let mut a = Ledger::new(res(&[(CPU, 2.0), (GPU, 1.0)]));
        let b = Ledger::new(res(&[(CPU, 16.0)]));
        let held = a.try_acquire(&res(&[(GPU, 1.0)])).unwrap();
        assert_eq!(
            pick([("a", &a), ("b", &b)], &res(&[(GPU, 1.0)])),
            Pick::Wait
        );
        a.release(held);
        assert_eq!(
            pick([("a", &a), ("b", &b)], &res(&[(GPU, 1.0)])),
            Pick::Fits("a")
        );
    }

    #[test]
    fn pick_never_reports_the_closest_node() {
        let cpu_only = Ledger::new(res(&[(CPU, 64.0)]));
        let one_gpu = Ledger::new(res(&[(CPU, 4.0), (GPU, 1.0)]));
        let demand = res(&[(CPU, 8.0), (GPU, 2.0)]);
        // `cpu_only` is short of GPU only (all of it); `one_gpu` of both: `cpu_only` is closer.
        let Pick::Never(shortfall) = pick([("one_gpu", &one_gpu), ("cpu", &cpu_only)], &demand)
        else {
            panic!("expected Never");
        };
        assert_eq!(shortfall.to_string(), "needs 2 GPU, the node has none");
        // Both short of GPU only: the one missing less of it is closer.
        let two_cpu = Ledger::new(res(&[(CPU, 64.0), (GPU, 1.0)]));
        assert_eq!(
            pick([("cpu", &cpu_only), ("two", &two_cpu)], &demand),
            Pick::Never(Shortfall {
                resource: GPU.to_owned(),
                wanted: amount(2.0),
                total: amount(1.0),
            })
        );
        // Equally close: the first.
        assert_eq!(
            pick([("a", &cpu_only), ("b", &cpu_only.clone())], &demand),
            Pick::Never(Shortfall {
                resource: GPU.to_owned(),
                wanted: amount(2.0),
                total: Amount::ZERO,
            })
        );
    }

    #[test]
    fn pick_skips_a_node_lacking_a_custom_resource() {
        let plain = Ledger::new(res(&[(CPU, 32.0)]));
        let with_ssd = Ledger::new(res(&[(CPU, 2.0), ("ssd", 1.0)]));
        let demand = res(&[(CPU, 1.0), ("ssd", 1.0)]);
        assert_eq!(
            pick([("plain", &plain), ("ssd", &with_ssd)], &demand),
            Pick::Fits("ssd")
        );
        assert_eq!(
            pick([("plain", &plain)], &demand),
            Pick::Never(Shortfall {
                resource: "ssd".to_owned(),
                wanted: amount(1.0),
                total: Amount::ZERO,
            })
        );
    }

    #[test]
    fn pick_with_no_nodes() {
        let none: [(u32, &Ledger); 0] = [];
        assert_eq!(
            pick(none, &res(&[(GPU, 1.0), (CPU, 2.0)])),
            Pick::Never(Shortfall {
                resource: CPU.to_owned(),
                wanted: amount(2.0),
                total: Amount::ZERO,
            })
        );
        assert_eq!(pick(none, &Resources::new()), Pick::Wait);
    }

    /// The resources of the model check.
    const NAMES: [&str; 3] = [CPU, GPU, "ssd"];

    #[derive(Clone, Debug)]
    enum Op {
        /// Try to take these units of each of `NAMES`.
        Acquire([u64; 3]),
        /// Give back the `n`-th (modulo how many) outstanding grant.
        Release(usize),
    }

    /// Units of one resource: zero a quarter of the time, else up to `max`.
    fn units(max: u64) -> impl Strategy<Value = u64> {
        prop_oneof![1 => Just(0u64), 3 => 1..=max]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => [units(15_000), units(15_000), units(15_000)].prop_map(Op::Acquire),
            2 => any::<usize>().prop_map(Op::Release),
        ]
    }

    /// Resources with these units of each of `NAMES`, built through the user's `f64` path.
    fn from_units(units: [u64; 3]) -> Resources {
        NAMES
            .iter()
            .zip(units)
            .try_fold(Resources::new(), |r, (name, u)| {
                r.with(name, u as f64 / SCALE as f64)
            })
            .unwrap()
    }

    fn check(total: [u64; 3], ops: &[Op]) -> Result<(), TestCaseError> {
        // Amounts only: which GPU a grant holds is `gpu_ids`'s model.
        let mut ledger = Ledger::with_gpu_ids(from_units(total), []);
        let mut grants: Vec<(Grant, [u64; 3])> = Vec::new();
        for op in ops {
            match *op {
                Op::Acquire(demand) => {
                    let held: Vec<u64> = (0..3)
                        .map(|i| grants.iter().map(|(_, d)| d[i]).sum())
                        .collect();
                    let fits = (0..3).all(|i| demand[i] <= total[i] - held[i]);
                    match ledger.try_acquire(&from_units(demand)) {
                        Ok(grant) => {
                            prop_assert!(fits, "granted {demand:?} beyond {total:?} - {held:?}");
                            prop_assert_eq!(grant.resources(), &from_units(demand));
                            grants.push((grant, demand));
                        }
                        Err(busy) => {
                            prop_assert!(!fits, "refused {demand:?} within {total:?} - {held:?}");
                            let i = NAMES.iter().position(|n| *n == busy.resource).unwrap();
                            prop_assert!(demand[i] > total[i] - held[i]);
                        }
                    }
                }
                Op::Release(n) => {
                    if !grants.is_empty() {
                        let (grant, _) = grants.remove(n % grants.len());
                        ledger.release(grant);
                    }
                }
            }
            for (i, name) in NAMES.iter().enumerate() {
                let held = ledger.held().get(name).units();
                prop_assert!(held <= total[i], "{name}: held {held} > total {}", total[i]);
                let outstanding: u64 = grants.iter().map(|(_, d)| d[i]).sum();
                prop_assert_eq!(held, outstanding, "{} held vs outstanding grants", name);
                prop_assert_eq!(ledger.free().get(name).units(), total[i] - held);
            }
        }
        for (grant, _) in grants {
            ledger.release(grant);
        }
        prop_assert!(ledger.held().is_empty());
        prop_assert_eq!(&ledger.free(), ledger.total());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn acquire_and_release_follow_the_model(
            total in [units(40_000), units(40_000), units(40_000)],
            ops in prop::collection::vec(op(), 1..60),
        ) {
            check(total, &ops)?;
        }
    }

    #[test]
    fn a_split_grant_is_given_back_in_two_parts() {
        let total = Resources::new()
            .with(CPU, 4.0)
            .unwrap()
            .with(GPU, 1.0)
            .unwrap();
        let mut ledger = Ledger::new(total);
        let demand = Resources::new()
            .with(CPU, 2.0)
            .unwrap()
            .with(GPU, 1.0)
            .unwrap();
        let mut grant = ledger.try_acquire(&demand).unwrap();
        let cpus = grant.split_off(CPU);
        assert_eq!(cpus.resources(), &Resources::new().with(CPU, 2.0).unwrap());
        assert_eq!(grant.resources(), &Resources::new().with(GPU, 1.0).unwrap());
        ledger.release(cpus);
        assert_eq!(ledger.held(), &Resources::new().with(GPU, 1.0).unwrap());
        // Splitting what it does not hold gives an empty grant.
        assert!(grant.split_off("ssd").resources().is_empty());
        ledger.release(grant);
        assert!(ledger.held().is_empty());
    }
}
