#![cfg(test)]
//! Model check of the [scheduling core](crate::scheduler): random sequences of operations
//! against the core and against a plain sequential model of its documented rules, compared
//! after every step.
//!
//! The model knows every call by its sequence number (the call's payload is that number too)
//! and says, from the rules alone, which queued calls may start. The core must only start such
//! calls (safety), must start one whenever there is one (liveness), and must neither lose nor
//! duplicate a call (conservation).

use proptest::prelude::*;

use crate::limit::Limit;
use crate::scheduler::{AfterCrash, Core, Lane, Start};

#[derive(Clone, Debug)]
enum Op {
    /// Queue a call in group `group % groups` (`None`: an exclusive call), by
    /// [`admit`](Core::admit) or by [`submit`](Core::submit).
    Submit { group: Option<usize>, admit: bool },
    /// [`next_start`](Core::next_start) until `None`.
    Drain,
    /// The `n`-th (modulo how many run, by seq) running call returns.
    Finish(usize),
    /// An instance is ready.
    Serve,
    /// The instance crashes. Bit `k` of `retry` says whether the `k`-th interrupted call (by
    /// seq) is retried, when the crash answers `Restart`; `order` shuffles the requeues.
    Crash { retry: u16, order: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::option::weighted(0.8, 0..3usize), any::<bool>())
            .prop_map(|(group, admit)| Op::Submit { group, admit }),
        5 => Just(Op::Drain),
        6 => (0..9usize).prop_map(Op::Finish),
        3 => Just(Op::Serve),
        1 => (any::<u16>(), any::<usize>()).prop_map(|(retry, order)| Op::Crash { retry, order }),
    ]
}

/// `None` is unlimited.
fn max_restarts() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![3 => (0..=3u64).prop_map(Some), 2 => Just(None)]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Queued,
    Running,
    Finished,
    /// Interrupted by a crash and not retried, or taken by `drain`.
    Dropped,
}

#[derive(Debug)]
struct Call {
    lane: Lane,
    status: Status,
    /// How often the core started it.
    starts: u32,
    /// How often it was queued: once, plus once per requeue.
    runs: u32,
}

/// The documented rules, as directly as they can be written down.
#[derive(Debug)]
struct Model {
    limits: Vec<usize>,
    /// Indexed by seq.
    calls: Vec<Call>,
    serving: bool,
    /// `None` is unlimited.
    restarts_left: Option<u64>,
}

impl Model {
    fn new(limits: &[usize], restarts_left: Option<u64>) -> Self {
        Model {
            limits: limits.to_vec(),
            calls: Vec::new(),
            serving: false,
            restarts_left,
        }
    }

    fn with(&self, status: Status) -> impl Iterator<Item = usize> + '_ {
        (0..self.calls.len()).filter(move |&seq| self.calls[seq].status == status)
    }

    fn running_in(&self, group: usize) -> usize {
        self.with(Status::Running)
            .filter(|&seq| self.calls[seq].lane == Lane::Shared(group))
            .count()
    }

    fn exclusive_running(&self) -> bool {
        self.with(Status::Running)
            .any(|seq| self.calls[seq].lane == Lane::Exclusive)
    }

    /// Whether the rules let the call `seq` start now.
    fn startable(&self, seq: usize) -> bool {
        let call = &self.calls[seq];
        if !self.serving || call.status != Status::Queued {
            return false;
        }
        let earlier = &self.calls[..seq];
        match call.lane {
            Lane::Shared(group) => {
                self.running_in(group) < self.limits[group]
                    && !earlier
                        .iter()
                        .any(|c| c.lane == call.lane && c.status == Status::Queued)
                    && !self.exclusive_running()
                    && !earlier.iter().any(|c| {
                        c.lane == Lane::Exclusive
                            && matches!(c.status, Status::Queued | Status::Running)
                    })
            }
            Lane::Exclusive => {
                earlier
                    .iter()
                    .all(|c| matches!(c.status, Status::Finished | Status::Dropped))
                    && self.with(Status::Running).next().is_none()
            }
        }
    }

    fn startable_calls(&self) -> Vec<usize> {
        (0..self.calls.len())
            .filter(|&seq| self.startable(seq))
            .collect()
    }

    fn take_restart(&mut self) -> AfterCrash {
        match &mut self.restarts_left {
            None => AfterCrash::Restart,
            Some(0) => AfterCrash::Die,
            Some(n) => {
                *n -= 1;
                AfterCrash::Restart
            }
        }
    }
}

fn index(seq: u64) -> usize {
    usize::try_from(seq).expect("seq fits usize")
}

/// Checks a start the core made (from `next_start`, or from `admit`) and records it.
fn started(model: &mut Model, start: Start<u64>) -> Result<(), TestCaseError> {
    let Start { lane, seq, call } = start;
    prop_assert_eq!(seq, call, "a start's seq is not its call's");
    let seq = index(seq);
    prop_assert!(seq < model.calls.len(), "call {} was never submitted", seq);
    prop_assert_eq!(
        lane,
        model.calls[seq].lane,
        "call {} started in another lane",
        seq
    );
    prop_assert!(
        model.startable(seq),
        "call {} ({:?}) started against the rules: {:?}",
        seq,
        lane,
        model
    );
    // Requeued calls keep their place: within a lane, the earliest queued call starts first.
    let first = model
        .with(Status::Queued)
        .find(|&s| model.calls[s].lane == lane);
    prop_assert_eq!(
        first,
        Some(seq),
        "call {} overtook an earlier one in its lane",
        seq
    );
    let call = &mut model.calls[seq];
    call.status = Status::Running;
    call.starts += 1;
    prop_assert!(
        call.starts <= call.runs,
        "call {} started {} times but was queued {} times",
        seq,
        call.starts,
        call.runs
    );
    Ok(())
}

/// What must hold after every step.
fn consistent(core: &Core<u64>, model: &Model) -> Result<(), TestCaseError> {
    for (group, &limit) in model.limits.iter().enumerate() {
        let running = model.running_in(group);
        prop_assert!(
            running <= limit,
            "{} running in group {} of limit {}",
            running,
            group,
            limit
        );
    }
    let running = model.with(Status::Running).count();
    prop_assert!(
        !model.exclusive_running() || running == 1,
        "an exclusive call runs beside {} others",
        running - 1
    );
    let idle = running == 0 && model.with(Status::Queued).next().is_none();
    prop_assert_eq!(core.is_idle(), idle, "is_idle disagrees with the model");
    Ok(())
}

fn check(limits: &[usize], max_restarts: Option<u64>, ops: &[Op]) -> Result<(), TestCaseError> {
    let budget = max_restarts.map_or(Limit::Unlimited, Limit::AtMost);
    let mut core: Core<u64> = Core::new(limits.iter().copied(), budget);
    let mut model = Model::new(limits, max_restarts);
    for op in ops {
        match *op {
            Op::Submit { group, admit } => {
                let lane = group.map_or(Lane::Exclusive, |g| Lane::Shared(g % limits.len()));
                let seq = model.calls.len();
                model.calls.push(Call {
                    lane,
                    status: Status::Queued,
                    starts: 0,
                    runs: 1,
                });
                let id = seq as u64;
                if admit {
                    // "The same decision as submit then next_start": it starts at once exactly
                    // when the rules let the new call start.
                    let may_start = model.startable(seq);
                    match core.admit(lane, id) {
                        Some(start) => started(&mut model, start)?,
                        None => prop_assert!(!may_start, "admit queued startable call {}", seq),
                    }
                } else {
                    prop_assert_eq!(core.submit(lane, id), id, "submit numbered out of order");
                }
            }
            Op::Drain => {
                while let Some(start) = core.next_start() {
                    started(&mut model, start)?;
                }
                let stalled = model.startable_calls();
                prop_assert!(
                    stalled.is_empty(),
                    "next_start gave None but {:?} may start: {:?}",
                    stalled,
                    model
                );
            }
            Op::Finish(n) => {
                let running: Vec<usize> = model.with(Status::Running).collect();
                if let Some(&seq) = running.get(n % running.len().max(1)) {
                    core.finished(model.calls[seq].lane);
                    model.calls[seq].status = Status::Finished;
                }
            }
            Op::Serve => {
                core.serve();
                model.serving = true;
            }
            Op::Crash { retry, order } => {
                let after = core.crash();
                prop_assert_eq!(
                    after,
                    model.take_restart(),
                    "crash answered against the budget"
                );
                model.serving = false;
                let interrupted: Vec<usize> = model.with(Status::Running).collect();
                let mut again = Vec::new();
                for (k, &seq) in interrupted.iter().enumerate() {
                    let call = &mut model.calls[seq];
                    if after == AfterCrash::Restart && retry & (1 << k) != 0 {
                        call.status = Status::Queued;
                        call.runs += 1;
                        again.push(seq);
                    } else {
                        call.status = Status::Dropped;
                    }
                }
                if order & 1 == 1 {
                    again.reverse();
                }
                if !again.is_empty() {
                    let by = (order >> 1) % again.len();
                    again.rotate_left(by);
                }
                for seq in again {
                    core.requeue(model.calls[seq].lane, seq as u64, seq as u64);
                }
                if after == AfterCrash::Die {
                    consistent(&core, &model)?;
                    break;
                }
            }
        }
        consistent(&core, &model)?;
    }
    // The end (death, or the sequence ran out): drain takes exactly the queued calls.
    let mut left: Vec<u64> = core.drain();
    left.sort_unstable();
    let queued: Vec<usize> = model.with(Status::Queued).collect();
    prop_assert_eq!(
        &left,
        &queued.iter().map(|&seq| seq as u64).collect::<Vec<_>>(),
        "drain took other calls than the queued ones"
    );
    for seq in queued {
        model.calls[seq].status = Status::Dropped;
    }
    model.serving = false;
    prop_assert!(core.next_start().is_none(), "a call started after drain");
    consistent(&core, &model)?;
    let running: Vec<usize> = model.with(Status::Running).collect();
    for seq in running {
        core.finished(model.calls[seq].lane);
        model.calls[seq].status = Status::Finished;
    }
    prop_assert!(
        core.is_idle(),
        "not idle after draining and finishing everything"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn the_core_follows_the_sequential_model(
        limits in prop::collection::vec(1..=3usize, 1..=3),
        max_restarts in max_restarts(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        check(&limits, max_restarts, &ops)?;
    }
}

fn starts(core: &mut Core<&'static str>) -> Vec<&'static str> {
    std::iter::from_fn(|| core.next_start().map(|s| s.call)).collect()
}

#[test]
fn requeued_calls_go_back_before_a_later_barrier_whatever_the_requeue_order() {
    let mut core = Core::new([2], Limit::AtMost(1));
    core.serve();
    let a = core.submit(Lane::Shared(0), "a");
    let b = core.submit(Lane::Shared(0), "b");
    core.submit(Lane::Exclusive, "alone");
    core.submit(Lane::Shared(0), "after");
    assert_eq!(starts(&mut core), ["a", "b"]);
    assert_eq!(core.crash(), AfterCrash::Restart);
    core.requeue(Lane::Shared(0), b, "b again");
    core.requeue(Lane::Shared(0), a, "a again");
    core.serve();
    assert_eq!(starts(&mut core), ["a again", "b again"]);
    core.finished(Lane::Shared(0));
    assert!(core.next_start().is_none());
    core.finished(Lane::Shared(0));
    assert_eq!(starts(&mut core), ["alone"]);
    core.finished(Lane::Exclusive);
    assert_eq!(starts(&mut core), ["after"]);
}

#[test]
fn admit_does_not_overtake_a_call_queued_before_the_instance_was_ready() {
    let mut core = Core::new([2], Limit::AtMost(0));
    core.submit(Lane::Shared(0), "early");
    core.serve();
    assert!(core.admit(Lane::Shared(0), "late").is_none());
    assert_eq!(starts(&mut core), ["early", "late"]);
    assert!(core.admit(Lane::Exclusive, "alone").is_none());
}

#[test]
fn an_exclusive_call_dropped_by_a_crash_holds_nothing_back() {
    let mut core = Core::new([1, 1], Limit::Unlimited);
    core.serve();
    let alone = core
        .admit(Lane::Exclusive, "alone")
        .expect("nothing to wait for");
    assert_eq!(alone.lane, Lane::Exclusive);
    core.submit(Lane::Shared(1), "io");
    assert!(core.next_start().is_none());
    for _ in 0..3 {
        assert_eq!(core.crash(), AfterCrash::Restart);
    }
    core.serve();
    assert_eq!(starts(&mut core), ["io"]);
    assert!(!core.is_idle());
    core.finished(Lane::Shared(1));
    assert!(core.is_idle());
}
