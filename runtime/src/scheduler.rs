//! The scheduling core of one actor: which queued call may start next.
//!
//! Pure and synchronous: no tokio, no user code, no I/O. The [driver](crate::driver) feeds it
//! calls and events and carries out what it decides. The call itself is opaque here (`C`), so
//! the same core schedules local closures today and decoded remote calls later.
//!
//! The rules (DESIGN.md §3):
//! - every call gets a sequence number in arrival order;
//! - a shared (`&self`) call waits in its concurrency group's FIFO queue until the group has a
//!   free permit, so a full group never holds up another group;
//! - an exclusive (`&mut self`) call is a barrier: it starts once every earlier call has started
//!   and finished, and nothing later starts until it returns;
//! - nothing starts while the actor has no instance (constructing, or crashed and restarting);
//! - a crash uses up one restart of the actor's budget, or kills the actor when none is left.
//!   Calls the crash interrupted may be put back, at their old place in the order.

use std::collections::VecDeque;

use crate::limit::Limit;

/// Where a call runs: in a concurrency group, or alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    /// A `&self` call in the group with this index (0 is the default group).
    Shared(usize),
    /// A `&mut self` call: runs alone.
    Exclusive,
}

/// A call the core decided to start now.
#[derive(Debug)]
pub(crate) struct Start<C> {
    pub(crate) lane: Lane,
    pub(crate) seq: u64,
    pub(crate) call: C,
}

/// What follows a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterCrash {
    /// A restart was left (and is now used up): construct a new instance.
    Restart,
    /// No restart left: the actor dies.
    Die,
}

#[derive(Debug)]
struct Queued<C> {
    seq: u64,
    call: C,
}

#[derive(Debug)]
struct Group<C> {
    limit: usize,
    running: usize,
    queue: VecDeque<Queued<C>>,
}

/// The concurrency groups: the default one inline, so that an actor without declared groups
/// allocates nothing for them.
#[derive(Debug)]
struct Groups<C> {
    default: Group<C>,
    declared: Vec<Group<C>>,
}

impl<C> Groups<C> {
    fn get(&self, index: usize) -> Option<&Group<C>> {
        match index {
            0 => Some(&self.default),
            i => self.declared.get(i - 1),
        }
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut Group<C>> {
        match index {
            0 => Some(&mut self.default),
            i => self.declared.get_mut(i - 1),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Group<C>> {
        std::iter::once(&self.default).chain(&self.declared)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Group<C>> {
        std::iter::once(&mut self.default).chain(&mut self.declared)
    }
}

/// One actor's queues, permits and restart budget.
#[derive(Debug)]
pub(crate) struct Core<C> {
    groups: Groups<C>,
    /// Queued exclusive calls, in order.
    barriers: VecDeque<Queued<C>>,
    next_seq: u64,
    running_shared: usize,
    running_exclusive: bool,
    /// An instance is there and no crash is pending: calls may start.
    serving: bool,
    restarts_left: Limit,
}

impl<C> Core<C> {
    /// A core with one group per entry of `limits` (the default group first), no instance yet.
    pub(crate) fn new(limits: impl IntoIterator<Item = usize>, max_restarts: Limit) -> Self {
        let group = |limit: usize| Group {
            limit: limit.max(1),
            running: 0,
            queue: VecDeque::new(),
        };
        let mut limits = limits.into_iter();
        let default = group(limits.next().unwrap_or(1));
        Core {
            groups: Groups {
                default,
                declared: limits.map(group).collect(),
            },
            barriers: VecDeque::new(),
            next_seq: 0,
            running_shared: 0,
            running_exclusive: false,
            serving: false,
            restarts_left: max_restarts,
        }
    }

    /// Queues a call; returns its sequence number. A shared lane must name an existing group.
    pub(crate) fn submit(&mut self, lane: Lane, call: C) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue_mut(lane).push_back(Queued { seq, call });
        seq
    }

    /// Whether a call on `lane` may start now: nothing it must wait for is queued or running.
    /// A call that starts on this answer and finishes before the core is asked anything else
    /// (a sync method run inline) needs no [`admit`](Core::admit) and no
    /// [`finished`](Core::finished).
    pub(crate) fn may_start(&self, lane: Lane) -> bool {
        self.serving
            && !self.running_exclusive
            && self.barriers.is_empty()
            && match lane {
                Lane::Shared(index) => self
                    .groups
                    .get(index)
                    .is_some_and(|g| g.queue.is_empty() && g.running < g.limit),
                Lane::Exclusive => {
                    self.running_shared == 0 && self.groups.iter().all(|g| g.queue.is_empty())
                }
            }
    }

    /// Queues a call, or hands it back to start at once when nothing it must wait for is queued
    /// or running: the same decision as [`submit`](Core::submit) then
    /// [`next_start`](Core::next_start), without the trip through a queue.
    pub(crate) fn admit(&mut self, lane: Lane, call: C) -> Option<Start<C>> {
        if !self.may_start(lane) {
            self.submit(lane, call);
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        match lane {
            Lane::Shared(index) => {
                if let Some(group) = self.groups.get_mut(index) {
                    group.running += 1;
                }
                self.running_shared += 1;
            }
            Lane::Exclusive => self.running_exclusive = true,
        }
        Some(Start { lane, seq, call })
    }

    /// Puts back a call a crash interrupted, at its place in the order (by `seq`).
    pub(crate) fn requeue(&mut self, lane: Lane, seq: u64, call: C) {
        let queue = self.queue_mut(lane);
        let at = queue.partition_point(|q| q.seq < seq);
        queue.insert(at, Queued { seq, call });
    }

    fn queue_mut(&mut self, lane: Lane) -> &mut VecDeque<Queued<C>> {
        match lane {
            // The driver resolves lanes against the declared groups; an index past them would
            // be its bug, and lands in the default group rather than anywhere else.
            Lane::Shared(group) if group <= self.groups.declared.len() => {
                match group.checked_sub(1) {
                    Some(i) => &mut self.groups.declared[i].queue,
                    None => &mut self.groups.default.queue,
                }
            }
            Lane::Shared(_) => &mut self.groups.default.queue,
            Lane::Exclusive => &mut self.barriers,
        }
    }

    /// The next call the rules allow to start, marked running; `None` when none may start.
    pub(crate) fn next_start(&mut self) -> Option<Start<C>> {
        if !self.serving || self.running_exclusive {
            return None;
        }
        let barrier = self.barriers.front().map_or(u64::MAX, |q| q.seq);
        for (index, group) in self.groups.iter_mut().enumerate() {
            if group.running < group.limit && group.queue.front().is_some_and(|q| q.seq < barrier) {
                let Queued { seq, call } = group.queue.pop_front()?;
                group.running += 1;
                self.running_shared += 1;
                let lane = Lane::Shared(index);
                return Some(Start { lane, seq, call });
            }
        }
        let barrier_due = barrier != u64::MAX
            && self.running_shared == 0
            && self
                .groups
                .iter()
                .all(|g| g.queue.front().is_none_or(|q| q.seq > barrier));
        if barrier_due {
            let Queued { seq, call } = self.barriers.pop_front()?;
            self.running_exclusive = true;
            let lane = Lane::Exclusive;
            return Some(Start { lane, seq, call });
        }
        None
    }

    /// A running call in `lane` returned (or was not run after all).
    pub(crate) fn finished(&mut self, lane: Lane) {
        match lane {
            Lane::Shared(group) => {
                if let Some(group) = self.groups.get_mut(group) {
                    group.running = group.running.saturating_sub(1);
                }
                self.running_shared = self.running_shared.saturating_sub(1);
            }
            Lane::Exclusive => self.running_exclusive = false,
        }
    }

    /// A (new) instance is ready: calls may start.
    pub(crate) fn serve(&mut self) {
        self.serving = true;
    }

    /// The instance crashed. Every running call is gone (the driver drops or requeues them);
    /// nothing starts until [`serve`](Core::serve). Uses up a restart if one is left.
    pub(crate) fn crash(&mut self) -> AfterCrash {
        self.serving = false;
        self.running_exclusive = false;
        self.running_shared = 0;
        for group in self.groups.iter_mut() {
            group.running = 0;
        }
        if self.restarts_left.take_one() {
            AfterCrash::Restart
        } else {
            AfterCrash::Die
        }
    }

    /// Nothing queued and nothing running.
    pub(crate) fn is_idle(&self) -> bool {
        !self.running_exclusive
            && self.running_shared == 0
            && self.barriers.is_empty()
            && self.groups.iter().all(|g| g.queue.is_empty())
    }

    /// Takes every queued call (the actor died), in no particular order.
    pub(crate) fn drain(&mut self) -> Vec<C> {
        self.serving = false;
        let groups = self.groups.iter_mut().flat_map(|g| g.queue.drain(..));
        groups
            .chain(self.barriers.drain(..))
            .map(|q| q.call)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(limits: &[usize]) -> Core<&'static str> {
        let mut core = Core::new(limits.iter().copied(), Limit::AtMost(1));
        core.serve();
        core
    }

    fn starts(core: &mut Core<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| core.next_start().map(|s| s.call)).collect()
    }

    #[test]
    fn shared_calls_start_up_to_the_group_limit_in_order() {
        let mut core = core(&[2]);
        for name in ["a", "b", "c"] {
            core.submit(Lane::Shared(0), name);
        }
        assert_eq!(starts(&mut core), ["a", "b"]);
        core.finished(Lane::Shared(0));
        assert_eq!(starts(&mut core), ["c"]);
    }

    #[test]
    fn a_full_group_does_not_hold_up_another() {
        let mut core = core(&[1, 1]);
        core.submit(Lane::Shared(0), "a");
        core.submit(Lane::Shared(0), "b");
        core.submit(Lane::Shared(1), "io");
        assert_eq!(starts(&mut core), ["a", "io"]);
    }

    #[test]
    fn an_exclusive_call_waits_for_earlier_calls_and_holds_back_later_ones() {
        let mut core = core(&[4]);
        core.submit(Lane::Shared(0), "before");
        core.submit(Lane::Exclusive, "alone");
        core.submit(Lane::Shared(0), "after");
        assert_eq!(starts(&mut core), ["before"]);
        core.finished(Lane::Shared(0));
        assert_eq!(starts(&mut core), ["alone"]);
        core.finished(Lane::Exclusive);
        assert_eq!(starts(&mut core), ["after"]);
    }

    #[test]
    fn nothing_starts_without_an_instance() {
        let mut core: Core<&str> = Core::new([1], Limit::AtMost(0));
        core.submit(Lane::Shared(0), "early");
        assert!(core.next_start().is_none());
        core.serve();
        assert_eq!(starts(&mut core), ["early"]);
    }

    #[test]
    fn a_crash_uses_a_restart_and_requeued_calls_keep_their_place() {
        let mut core = core(&[1]);
        let first = core.submit(Lane::Shared(0), "interrupted");
        core.submit(Lane::Shared(0), "queued");
        assert_eq!(starts(&mut core), ["interrupted"]);
        assert_eq!(core.crash(), AfterCrash::Restart);
        core.requeue(Lane::Shared(0), first, "interrupted again");
        assert!(core.next_start().is_none());
        core.serve();
        assert_eq!(starts(&mut core), ["interrupted again"]);
        core.finished(Lane::Shared(0));
        assert_eq!(starts(&mut core), ["queued"]);
        assert_eq!(core.crash(), AfterCrash::Die);
    }

    #[test]
    fn drain_takes_everything_queued() {
        let mut core = core(&[1]);
        core.submit(Lane::Shared(0), "a");
        core.submit(Lane::Shared(0), "b");
        core.submit(Lane::Exclusive, "c");
        assert_eq!(starts(&mut core), ["a"]);
        let mut left = core.drain();
        left.sort_unstable();
        assert_eq!(left, ["b", "c"]);
        core.finished(Lane::Shared(0));
        assert!(core.is_idle());
    }
}
