//! `Limit`: a count that may be unlimited, in place of Ray's `-1` sentinel.

use std::fmt;

/// How many more times something may happen: a restart, or a re-run of a call.
///
/// Ray spells "unlimited" as `-1`; inside helio that is [`Limit::Unlimited`], so no code path
/// has to remember what a negative count means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// At most this many more times.
    AtMost(u64),
    /// Any number of times.
    Unlimited,
}

impl Limit {
    /// Reads a Ray-style count: `-1` (or any negative value) is unlimited.
    pub(crate) fn from_ray(n: i64) -> Self {
        u64::try_from(n).map_or(Limit::Unlimited, Limit::AtMost)
    }

    /// Whether none is left.
    pub(crate) fn is_exhausted(self) -> bool {
        self == Limit::AtMost(0)
    }

    /// Uses one up; `false` (and no change) when none is left.
    pub(crate) fn take_one(&mut self) -> bool {
        match self {
            Limit::Unlimited => true,
            Limit::AtMost(0) => false,
            Limit::AtMost(n) => {
                *n -= 1;
                true
            }
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::AtMost(n) => write!(f, "{n}"),
            Limit::Unlimited => f.write_str("unlimited"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn minus_one_is_unlimited_and_never_runs_out() {
        let mut limit = Limit::from_ray(-1);
        assert_eq!(limit, Limit::Unlimited);
        for _ in 0..1000 {
            assert!(limit.take_one());
        }
        assert!(!limit.is_exhausted());
    }

    #[test]
    fn a_count_runs_out_and_stays_out() {
        let mut limit = Limit::from_ray(2);
        assert!(limit.take_one());
        assert!(limit.take_one());
        assert!(limit.is_exhausted());
        assert!(!limit.take_one());
        assert_eq!(limit, Limit::AtMost(0));
    }
}
