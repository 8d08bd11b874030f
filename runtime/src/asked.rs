//! Amounts of resources as a user sets them (`num_cpus`, `num_gpus`, `resource`), for a node
//! (`Config`), an actor (`ActorOptions`) or a task (`TaskOptions`): kept as given, merged
//! over defaults, and checked into [`Resources`] when used. The three builders' setters and
//! their merging are this one type.

use crate::resources::{Resources, declared};

/// The amounts a builder was given. Kept as `f64` bits, so that options holding them compare
/// and hash; nothing is checked until [`declared`](Asked::declared).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Asked {
    cpus: Option<u64>,
    gpus: Option<u64>,
    /// Custom resources by name, each set once (a name set again replaces its amount).
    custom: Vec<(String, u64)>,
}

impl Asked {
    /// `num_cpus`.
    pub(crate) fn set_cpus(&mut self, cpus: f64) {
        self.cpus = Some(cpus.to_bits());
    }

    /// `num_gpus`.
    pub(crate) fn set_gpus(&mut self, gpus: f64) {
        self.gpus = Some(gpus.to_bits());
    }

    /// `resource(name, amount)`: replaces an earlier amount of `name`.
    pub(crate) fn set(&mut self, name: String, amount: f64) {
        self.set_bits(name, amount.to_bits());
    }

    fn set_bits(&mut self, name: String, bits: u64) {
        self.custom.retain(|(known, _)| *known != name);
        self.custom.push((name, bits));
    }

    /// These amounts over `base`: each amount set here wins.
    pub(crate) fn over(&self, base: &Asked) -> Asked {
        let mut merged = base.clone();
        merged.cpus = self.cpus.or(base.cpus);
        merged.gpus = self.gpus.or(base.gpus);
        for (name, bits) in &self.custom {
            merged.set_bits(name.clone(), *bits);
        }
        merged
    }

    /// The amounts, checked, with `cpus` and `gpus` where none was set; an error names the bad
    /// amount or name.
    pub(crate) fn declared(&self, cpus: f64, gpus: f64) -> Result<Resources, String> {
        let amount = |bits: Option<u64>, default: f64| bits.map_or(default, f64::from_bits);
        let custom = self
            .custom
            .iter()
            .map(|(name, bits)| (name.as_str(), f64::from_bits(*bits)));
        declared(amount(self.cpus, cpus), amount(self.gpus, gpus), custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CPU, GPU};

    #[test]
    fn amounts_set_here_win_over_the_base_and_names_are_replaced() {
        let mut base = Asked::default();
        base.set_cpus(2.0);
        base.set("ssd".to_owned(), 1.0);
        base.set("fpga".to_owned(), 1.0);
        let mut mine = Asked::default();
        mine.set_gpus(1.0);
        mine.set("ssd".to_owned(), 3.0);
        let merged = mine.over(&base).declared(1.0, 0.0).unwrap();
        assert_eq!(merged.get(CPU).to_f64(), 2.0);
        assert_eq!(merged.get(GPU).to_f64(), 1.0);
        assert_eq!(merged.get("ssd").to_f64(), 3.0);
        assert_eq!(merged.get("fpga").to_f64(), 1.0);
    }

    #[test]
    fn defaults_fill_what_was_not_set_and_bad_amounts_are_named() {
        let none = Asked::default().declared(4.0, 0.0).unwrap();
        assert_eq!(none.get(CPU).to_f64(), 4.0);
        let mut bad = Asked::default();
        bad.set_cpus(-1.0);
        assert!(bad.declared(1.0, 0.0).is_err());
        let mut named_cpu = Asked::default();
        named_cpu.set(CPU.to_owned(), 1.0);
        assert!(
            named_cpu
                .declared(1.0, 0.0)
                .unwrap_err()
                .contains("num_cpus")
        );
    }
}
