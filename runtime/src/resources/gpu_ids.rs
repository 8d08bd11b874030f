//! Which GPUs a grant holds: a node's GPUs by id, each shared out in fractions, as Ray
//! assigns them (`ray.get_gpu_ids()`). Pure: the [`Ledger`](super::Ledger) keeps
//! one [`GpuSlots`] beside its amounts and asks it on every grant and release.
//!
//! - A whole demand (`num_gpus = 2`) takes that many GPUs no one holds any of, lowest ids
//!   first.
//! - A fraction (`num_gpus = 0.5`, or the `.5` of `1.5`) takes room on one GPU: the one with
//!   the least room that is still enough (best fit, lowest id on a tie), so fractions pack
//!   onto shared GPUs and leave whole ones free. Four `0.5` demands on two GPUs share them
//!   two by two.

use super::{Amount, SCALE};

/// One whole GPU, in the fixed-point units of [`Amount`].
const ONE: u64 = SCALE;

/// A node's GPUs by id, and how much of each is held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GpuSlots {
    /// Each GPU: its id, and the units of it held (at most one whole GPU).
    slots: Vec<(u32, u64)>,
}

/// The GPUs a grant holds: each id, and how much of it.
pub(crate) type Taken = Vec<(u32, Amount)>;

impl GpuSlots {
    /// GPUs with these ids, none held.
    pub(crate) fn new(ids: impl IntoIterator<Item = u32>) -> Self {
        GpuSlots {
            slots: ids.into_iter().map(|id| (id, 0)).collect(),
        }
    }

    /// `count` GPUs for a node with `total` GPUs: one per started whole (`1.5` has two).
    pub(crate) fn count(total: Amount) -> usize {
        usize::try_from(total.units().div_ceil(ONE)).unwrap_or(usize::MAX)
    }

    /// The same GPUs, none held.
    pub(crate) fn emptied(&self) -> Self {
        GpuSlots::new(self.slots.iter().map(|(id, _)| *id))
    }

    /// Whether there are no GPUs to assign (the node's figures carry only amounts).
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Which GPUs `wanted` would take now, by slot index, or `None` when no set of them has
    /// room (however much is free in all).
    fn pick(&self, wanted: Amount) -> Option<Vec<(usize, u64)>> {
        let (whole, part) = (wanted.units() / ONE, wanted.units() % ONE);
        let whole = usize::try_from(whole).ok()?;
        let mut picked: Vec<(usize, u64)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, (_, held))| *held == 0)
            .take(whole)
            .map(|(index, _)| (index, ONE))
            .collect();
        if picked.len() < whole {
            return None;
        }
        if part > 0 {
            let best = self
                .slots
                .iter()
                .enumerate()
                .filter(|(index, (_, held))| {
                    ONE - held >= part && !picked.iter().any(|(taken, _)| taken == index)
                })
                .min_by_key(|(index, (_, held))| (ONE - held, *index))?;
            picked.push((best.0, part));
        }
        Some(picked)
    }

    /// Whether `wanted` fits on the GPUs now.
    pub(crate) fn fits(&self, wanted: Amount) -> bool {
        self.slots.is_empty() || wanted.is_zero() || self.pick(wanted).is_some()
    }

    /// Takes `wanted` and says which GPUs it holds; `None` (taking nothing) when it does not
    /// fit now. With no GPUs to assign, takes nothing and holds no ids.
    pub(crate) fn take(&mut self, wanted: Amount) -> Option<Taken> {
        if self.slots.is_empty() || wanted.is_zero() {
            return Some(Vec::new());
        }
        let picked = self.pick(wanted)?;
        let mut taken: Taken = picked
            .into_iter()
            .map(|(index, units)| {
                let slot = &mut self.slots[index];
                slot.1 += units;
                (slot.0, Amount::from_units(units))
            })
            .collect();
        taken.sort_unstable_by_key(|(id, _)| *id);
        Some(taken)
    }

    /// Gives back what `taken` holds (ids this node does not have are ignored).
    pub(crate) fn give_back(&mut self, taken: &Taken) {
        for (id, amount) in taken {
            if let Some(slot) = self.slots.iter_mut().find(|(slot, _)| slot == id) {
                debug_assert!(slot.1 >= amount.units(), "GPU {id} given back twice");
                slot.1 = slot.1.saturating_sub(amount.units());
            }
        }
    }
}

/// The GPU ids in `CUDA_VISIBLE_DEVICES` (`value`, as `"0,2"`) for a node with `count` GPUs:
/// the first `count` of them. `Ok(None)` when they are not all numbers (device UUIDs): the
/// ids are then `0..count`. An error when fewer than `count` are listed, as Ray refuses too.
pub(crate) fn visible(value: &str, count: usize) -> Result<Option<Vec<u32>>, String> {
    let listed: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let Ok(ids) = listed
        .iter()
        .map(|id| id.parse::<u32>())
        .collect::<Result<Vec<u32>, _>>()
    else {
        return Ok(None);
    };
    if ids.len() < count {
        return Err(format!(
            "`num_gpus` asks for {count} GPUs, but CUDA_VISIBLE_DEVICES={value:?} lists {}",
            ids.len()
        ));
    }
    Ok(Some(ids.into_iter().take(count).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpus(value: f64) -> Amount {
        Amount::from_f64(value).unwrap()
    }

    fn ids(taken: &Taken) -> Vec<u32> {
        taken.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn whole_gpus_are_distinct_and_come_back() {
        let mut slots = GpuSlots::new([0, 1]);
        let a = slots.take(gpus(1.0)).unwrap();
        let b = slots.take(gpus(1.0)).unwrap();
        assert_eq!((ids(&a), ids(&b)), (vec![0], vec![1]));
        assert!(!slots.fits(gpus(1.0)));
        assert_eq!(slots.take(gpus(1.0)), None);
        slots.give_back(&a);
        assert_eq!(ids(&slots.take(gpus(1.0)).unwrap()), [0]);
    }

    #[test]
    fn halves_share_two_gpus_two_by_two() {
        let mut slots = GpuSlots::new([0, 1]);
        let taken: Vec<Vec<u32>> = (0..4)
            .map(|_| ids(&slots.take(gpus(0.5)).unwrap()))
            .collect();
        assert_eq!(taken, [[0], [0], [1], [1]]);
        assert_eq!(slots.take(gpus(0.5)), None);
    }

    #[test]
    fn fractions_pack_and_leave_whole_gpus_free() {
        let mut slots = GpuSlots::new([3, 7]);
        let quarter = slots.take(gpus(0.25)).unwrap();
        assert_eq!(ids(&quarter), [3]);
        // The half goes where a quarter is held, so GPU 7 stays whole for a whole demand.
        assert_eq!(ids(&slots.take(gpus(0.5)).unwrap()), [3]);
        assert_eq!(ids(&slots.take(gpus(1.0)).unwrap()), [7]);
    }

    #[test]
    fn a_whole_demand_does_not_fit_on_fragments() {
        let mut slots = GpuSlots::new([0, 1]);
        let _a = slots.take(gpus(0.5)).unwrap();
        let _b = slots.take(gpus(0.5)).unwrap();
        let c = slots.take(gpus(0.75)).unwrap();
        assert_eq!(ids(&c), [1]);
        // One GPU and a quarter are free in all, but no whole GPU is.
        assert!(!slots.fits(gpus(1.0)));
        assert!(slots.fits(gpus(0.25)));
    }

    #[test]
    fn one_and_a_half_takes_a_whole_gpu_and_half_of_another() {
        let mut slots = GpuSlots::new([0, 1, 2]);
        let taken = slots.take(gpus(1.5)).unwrap();
        assert_eq!(taken, [(0, gpus(1.0)), (1, gpus(0.5))]);
        assert_eq!(GpuSlots::count(gpus(1.5)), 2);
    }

    #[test]
    fn without_slots_nothing_is_assigned() {
        let mut slots = GpuSlots::default();
        assert!(slots.is_empty());
        assert_eq!(slots.take(gpus(2.0)), Some(Vec::new()));
    }

    #[test]
    fn visible_devices_give_the_ids() {
        assert_eq!(visible("3, 5,7", 2), Ok(Some(vec![3, 5])));
        assert_eq!(visible("GPU-1f2e,GPU-77aa", 2), Ok(None));
        assert!(visible("4", 2).unwrap_err().contains("lists 1"));
        assert!(visible("", 1).is_err());
        assert_eq!(visible("", 0), Ok(Some(vec![])));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any run of takes (whole, fractional, mixed) and give-backs: no GPU is held past
        /// one whole, a grant holds what it asked for on distinct GPUs, a take fails only
        /// when no GPUs have the room, and giving everything back frees every GPU.
        #[test]
        fn takes_and_give_backs_keep_every_gpu_within_one(
            slots in 1u32..4,
            ops in proptest::collection::vec((0u64..25_000, proptest::bool::ANY), 1..40),
        ) {
            let mut gpus = GpuSlots::new(0..slots);
            let mut grants: Vec<Taken> = Vec::new();
            for (wanted, give_back) in ops {
                if give_back && !grants.is_empty() {
                    let grant = grants.remove(wanted as usize % grants.len());
                    gpus.give_back(&grant);
                    continue;
                }
                let (whole, part) = (wanted / ONE, wanted % ONE);
                let free_whole = gpus.slots.iter().filter(|(_, held)| *held == 0).count() as u64;
                let fits = whole <= free_whole
                    && (part == 0 || {
                        // Room for the fraction on a GPU the whole ones leave.
                        let mut rooms: Vec<u64> = gpus.slots.iter().map(|(_, h)| ONE - h).collect();
                        rooms.sort_unstable();
                        let mut wholes_left = whole;
                        rooms.retain(|room| {
                            if *room == ONE && wholes_left > 0 {
                                wholes_left -= 1;
                                false
                            } else {
                                true
                            }
                        });
                        rooms.iter().any(|room| *room >= part)
                    });
                match gpus.take(Amount::from_units(wanted)) {
                    Some(taken) => {
                        proptest::prop_assert!(fits || wanted == 0);
                        let sum: u64 = taken.iter().map(|(_, a)| a.units()).sum();
                        proptest::prop_assert_eq!(sum, wanted);
                        let mut ids: Vec<u32> = taken.iter().map(|(id, _)| *id).collect();
                        ids.dedup();
                        proptest::prop_assert_eq!(ids.len(), taken.len());
                        grants.push(taken);
                    }
                    None => proptest::prop_assert!(!fits),
                }
                for (_, held) in &gpus.slots {
                    proptest::prop_assert!(*held <= ONE);
                }
            }
            for grant in grants {
                gpus.give_back(&grant);
            }
            proptest::prop_assert!(gpus.slots.iter().all(|(_, held)| *held == 0));
        }
    }
}
