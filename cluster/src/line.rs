//! The line: the tasks this process waits to place, cluster-wide, and what it knows of the
//! room each node has for them. A pure core (no NATS, no clock of its own): the driver
//! (`dispatch.rs`) feeds it what nodes say and carries out what it decides.
//!
//! - A task that asks for resources goes to a node only when the node has them free now, as
//!   far as this process knows: the last [`Room`] the node reported, less what this process
//!   sent it since. A node that is busy after all refuses the task, which comes back to the
//!   head of the line ([`Line::refused`]).
//! - While tasks wait, the driver asks the nodes that registered their fn for room ("wants"),
//!   and every node answers now and each time its resources are freed; each answer serves
//!   the line in order, first fit ([`Line::room`]).
//! - Nothing waits forever: a task no node answered for (no node runs it, or every such node
//!   died) is given up after [`LONELY`]; one that no node that answered could ever fit is
//!   unschedulable; `resource_timeout` bounds the rest ([`Line::expire`]).

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use super::NodeId;
use crate::seam::{Ledger, Resources};

/// How often the driver asks again for room for the tasks that still wait: the bound on how
/// long a node that joins (or frees resources unheard) waits before it takes work.
pub(crate) const WANT_EVERY: Duration = Duration::from_millis(250);

/// How long a node's report of its room counts, unless refreshed: then it is forgotten
/// (the node may have died or left).
pub(crate) const ROOM_TTL: Duration = Duration::from_secs(3);

/// How long a task waits while no node that runs its fn answers at all.
pub(crate) const LONELY: Duration = Duration::from_secs(5);

/// How long a task waits for every node to answer before it is judged to fit none.
const FEASIBLE_AFTER: Duration = Duration::from_secs(1);

/// How many waiting tasks that do not fit a room are looked past before it stops.
const SCAN_PAST: usize = 64;

/// What a node reports of itself: what it has and holds now, and the fns it runs.
#[derive(Clone, Debug)]
pub(crate) struct Room {
    /// Its resources, and what is held of them.
    pub(crate) ledger: Ledger,
    /// The fingerprints of the fns it runs tasks of.
    pub(crate) tasks: Vec<u64>,
}

/// A node's room as this process last heard it.
struct Known {
    room: Room,
    heard: Instant,
}

/// A task to place: its fn, what it asks for, since when it waits, until when it may.
pub(crate) struct Entry<T> {
    pub(crate) fingerprint: u64,
    pub(crate) demand: Resources,
    pub(crate) since: Instant,
    pub(crate) deadline: Option<Instant>,
    pub(crate) item: T,
}

/// A task the line gives up on, and why.
#[derive(Debug, PartialEq)]
pub(crate) enum GiveUp {
    /// No node that runs its fn answered (none registered it, or all died).
    Unavailable(String),
    /// No node that answered could ever fit it: what the closest lacks.
    Unschedulable(String),
    /// Its `resource_timeout` passed.
    TimedOut(Duration),
}

/// The tasks waiting to be placed and the room of the nodes, as this process knows them.
pub(crate) struct Line<T> {
    waiting: VecDeque<Entry<T>>,
    rooms: HashMap<NodeId, Known>,
    /// When room was last asked for, and last heard, by fingerprint.
    asked: HashMap<u64, Instant>,
    heard: HashMap<u64, Instant>,
}

impl<T> Default for Line<T> {
    fn default() -> Self {
        Line {
            waiting: VecDeque::new(),
            rooms: HashMap::new(),
            asked: HashMap::new(),
            heard: HashMap::new(),
        }
    }
}

/// A task to send now, and the node to send it to.
pub(crate) type Send<T> = (NodeId, T);

impl<T> Line<T> {
    /// How many tasks wait.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// A new task: the node to send it to now (one with room, when no older task of its fn
    /// waits), or it waits (`None`).
    pub(crate) fn submit(&mut self, entry: Entry<T>, now: Instant) -> Option<Send<T>> {
        let queued = self
            .waiting
            .iter()
            .any(|e| e.fingerprint == entry.fingerprint);
        if !queued && let Some(node) = self.fit(entry.fingerprint, &entry.demand, now) {
            return Some((node, entry.item));
        }
        self.waiting.push_back(entry);
        None
    }

    /// A node with room for `demand` among those that run `fingerprint` (the most free CPUs
    /// first): takes the demand from what this process knows of its room.
    fn fit(&mut self, fingerprint: u64, demand: &Resources, now: Instant) -> Option<NodeId> {
        let cpu = |known: &Known| known.room.ledger.free().get(crate::seam::CPU);
        let node = self
            .rooms
            .iter_mut()
            .filter(|(_, known)| {
                now.duration_since(known.heard) < ROOM_TTL
                    && known.room.tasks.contains(&fingerprint)
            })
            .filter(|(_, known)| known.room.ledger.clone().try_acquire(demand).is_ok())
            .max_by_key(|(node, known)| (cpu(known), std::cmp::Reverse(**node)))
            .map(|(node, _)| *node)?;
        let known = self.rooms.get_mut(&node)?;
        // Taken from this process's view of the node; the node's next report replaces it.
        let _taken = known.room.ledger.try_acquire(demand).ok()?;
        Some(node)
    }

    /// `node` reports its room (answering a want, or having freed resources): the tasks it
    /// has room for, in line order, first fit.
    pub(crate) fn room(&mut self, node: NodeId, room: Room, now: Instant) -> Vec<Send<T>> {
        for fingerprint in &room.tasks {
            self.heard.insert(*fingerprint, now);
        }
        let known = self.rooms.entry(node).or_insert(Known {
            room: room.clone(),
            heard: now,
        });
        *known = Known { room, heard: now };
        let mut sent = Vec::new();
        let (mut i, mut passed) = (0, 0);
        while i < self.waiting.len() && passed < SCAN_PAST && !known.room.ledger.is_full() {
            let entry = &self.waiting[i];
            // Taken from this process's view of the node, as in `fit`.
            let fits = known.room.tasks.contains(&entry.fingerprint)
                && known.room.ledger.try_acquire(&entry.demand).is_ok();
            if fits && let Some(entry) = self.waiting.remove(i) {
                sent.push((node, entry.item));
            } else {
                i += 1;
                passed += 1;
            }
        }
        sent
    }

    /// `node` refused a task this process sent it (it was busy after all), reporting its
    /// room: the task goes back to the head of the line, and the line is served anew.
    pub(crate) fn refused(
        &mut self,
        node: NodeId,
        room: Room,
        entry: Entry<T>,
        now: Instant,
    ) -> Vec<Send<T>> {
        self.waiting.push_front(entry);
        let mut sent = self.room(node, room, now);
        // Another node may have room that this one's report does not show.
        let others: Vec<NodeId> = self
            .rooms
            .iter()
            .filter(|(other, known)| {
                **other != node
                    && now.duration_since(known.heard) < ROOM_TTL
                    && !known.room.ledger.is_full()
            })
            .map(|(other, _)| *other)
            .collect();
        for other in others {
            if let Some(known) = self.rooms.get(&other) {
                let room = known.room.clone();
                let heard = known.heard;
                sent.extend(self.room(other, room, now));
                if let Some(known) = self.rooms.get_mut(&other) {
                    known.heard = heard;
                }
            }
        }
        sent
    }

    /// `node` is gone (dead, or left): nothing more goes to it on its last report.
    pub(crate) fn forget(&mut self, node: NodeId) {
        self.rooms.remove(&node);
    }

    /// The fns to ask room for now: those with tasks waiting, not asked within
    /// [`WANT_EVERY`]. Marks them asked.
    pub(crate) fn wants(&mut self, now: Instant) -> Vec<u64> {
        let mut due: Vec<u64> = self.waiting.iter().map(|e| e.fingerprint).collect();
        due.sort_unstable();
        due.dedup();
        due.retain(|fingerprint| {
            self.asked
                .get(fingerprint)
                .is_none_or(|asked| now.duration_since(*asked) >= WANT_EVERY)
        });
        for fingerprint in &due {
            self.asked.insert(*fingerprint, now);
        }
        due
    }

    /// No node listens for the wants of `fingerprint` (the server said so): none registered
    /// it, so its waiting tasks are given up, unless a node reported room for it lately.
    pub(crate) fn nobody(&mut self, fingerprint: u64, now: Instant) -> Vec<T> {
        let lately = self
            .heard
            .get(&fingerprint)
            .is_some_and(|heard| now.duration_since(*heard) < ROOM_TTL);
        if lately {
            return Vec::new();
        }
        let (taken, kept) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|e| e.fingerprint == fingerprint);
        self.waiting = kept;
        taken.into_iter().map(|e: Entry<T>| e.item).collect()
    }

    /// Forgets old reports, and gives up on the tasks that may wait no longer.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(T, GiveUp)> {
        self.rooms
            .retain(|_, known| now.duration_since(known.heard) < ROOM_TTL);
        let mut given_up = Vec::new();
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for entry in std::mem::take(&mut self.waiting) {
            match self.verdict(&entry, now) {
                Some(why) => given_up.push((entry.item, why)),
                None => kept.push_back(entry),
            }
        }
        self.waiting = kept;
        given_up
    }

    /// Why `entry` may wait no longer, if it may not.
    fn verdict(&self, entry: &Entry<T>, now: Instant) -> Option<GiveUp> {
        if let Some(deadline) = entry.deadline
            && now >= deadline
        {
            return Some(GiveUp::TimedOut(deadline.duration_since(entry.since)));
        }
        let waited = now.duration_since(entry.since);
        let heard = self
            .heard
            .get(&entry.fingerprint)
            .is_some_and(|heard| *heard >= entry.since || now.duration_since(*heard) < ROOM_TTL);
        if waited >= LONELY && !heard {
            return Some(GiveUp::Unavailable(format!(
                "no node that runs it answered within {LONELY:?}: register it with \
                 `helio::register_task` in a process that hosts (`Config::host(true)`)"
            )));
        }
        if waited < FEASIBLE_AFTER {
            return None;
        }
        let mut shortfall = None;
        for known in self.rooms.values() {
            if !known.room.tasks.contains(&entry.fingerprint) {
                continue;
            }
            match known.room.ledger.never_fits(&entry.demand) {
                None => return None,
                Some(short) => shortfall = Some(short),
            }
        }
        shortfall.map(|short| {
            GiveUp::Unschedulable(format!(
                "no node of the cluster ever fits it: it {short} (a node that runs it)"
            ))
        })
    }

    /// Takes out the waiting tasks `drop` picks (cancelled ones, say).
    pub(crate) fn take_where(&mut self, mut drop: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for entry in self.waiting.drain(..) {
            if drop(&entry.item) {
                taken.push(entry.item);
            } else {
                kept.push_back(entry);
            }
        }
        self.waiting = kept;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(n: f64) -> Resources {
        Resources::new().with(crate::seam::CPU, n).unwrap()
    }

    fn room(total: f64, held: f64, tasks: &[u64]) -> Room {
        Room {
            ledger: Ledger::with_held(cpus(total), cpus(held)),
            tasks: tasks.to_vec(),
        }
    }

    fn node(n: u64) -> NodeId {
        NodeId::from_u64(n)
    }

    fn entry<T>(
        fingerprint: u64,
        demand: Resources,
        deadline: Option<Instant>,
        item: T,
        since: Instant,
    ) -> Entry<T> {
        Entry {
            fingerprint,
            demand,
            since,
            deadline,
            item,
        }
    }

    #[test]
    fn a_task_waits_until_a_node_reports_room_then_goes_there() {
        let now = Instant::now();
        let mut line = Line::default();
        assert_eq!(line.submit(entry(7, cpus(1.0), None, "a", now), now), None);
        assert_eq!(line.submit(entry(7, cpus(1.0), None, "b", now), now), None);
        assert_eq!(line.submit(entry(7, cpus(1.0), None, "c", now), now), None);
        assert_eq!(line.wants(now), vec![7]);
        assert_eq!(line.wants(now), Vec::<u64>::new(), "asked just now");
        // A node with two free CPUs takes the first two, in order.
        let sent = line.room(node(1), room(2.0, 0.0, &[7]), now);
        assert_eq!(sent, vec![(node(1), "a"), (node(1), "b")]);
        assert_eq!(line.len(), 1);
        // A node that does not run the fn takes nothing.
        assert!(line.room(node(2), room(8.0, 0.0, &[9]), now).is_empty());
        // The first node frees one CPU: the last task goes.
        assert_eq!(
            line.room(node(1), room(2.0, 1.0, &[7]), now),
            vec![(node(1), "c")]
        );
        assert_eq!(line.len(), 0);
    }

    #[test]
    fn a_new_task_goes_at_once_to_known_room_but_never_past_older_ones() {
        let now = Instant::now();
        let mut line = Line::default();
        assert!(line.room(node(1), room(1.0, 0.0, &[7]), now).is_empty());
        assert!(line.room(node(2), room(2.0, 0.0, &[7]), now).is_empty());
        // The node with the most free CPUs first; what this process sent counts.
        assert_eq!(
            line.submit(entry(7, cpus(1.0), None, 1, now), now),
            Some((node(2), 1))
        );
        let second = line
            .submit(entry(7, cpus(1.0), None, 2, now), now)
            .map(|(n, _)| n);
        let third = line
            .submit(entry(7, cpus(1.0), None, 3, now), now)
            .map(|(n, _)| n);
        let mut both = [second, third];
        both.sort();
        assert_eq!(both, [Some(node(1)), Some(node(2))]);
        // No room left: it waits, and the next waits behind it even once room appears.
        assert_eq!(line.submit(entry(7, cpus(1.0), None, 4, now), now), None);
        assert_eq!(line.len(), 1);
    }

    #[test]
    fn a_refused_task_goes_back_to_the_head_of_the_line() {
        let now = Instant::now();
        let mut line = Line::default();
        assert!(line.room(node(1), room(1.0, 0.0, &[7]), now).is_empty());
        assert!(line.room(node(3), room(1.0, 1.0, &[7]), now).is_empty());
        assert_eq!(
            line.submit(entry(7, cpus(1.0), None, "x", now), now),
            Some((node(1), "x"))
        );
        assert_eq!(line.submit(entry(7, cpus(1.0), None, "y", now), now), None);
        // Node 1 was busy after all: x waits again, ahead of y.
        let sent = line.refused(
            node(1),
            room(1.0, 1.0, &[7]),
            entry(7, cpus(1.0), None, "x", now),
            now,
        );
        assert!(sent.is_empty());
        assert_eq!(line.len(), 2);
        let sent = line.room(node(3), room(1.0, 0.0, &[7]), now);
        assert_eq!(sent, vec![(node(3), "x")]);
        // Refused again, with no other node's room known: it waits for the next report.
        let sent = line.refused(
            node(3),
            room(1.0, 1.0, &[7]),
            entry(7, cpus(1.0), None, "x", now),
            now,
        );
        assert!(sent.is_empty());
        let sent = line.room(node(1), room(2.0, 0.0, &[7]), now);
        assert_eq!(sent, vec![(node(1), "x"), (node(1), "y")]);
    }

    #[test]
    fn first_fit_looks_past_a_task_that_does_not_fit() {
        let now = Instant::now();
        let mut line = Line::default();
        assert_eq!(
            line.submit(entry(7, cpus(4.0), None, "big", now), now),
            None
        );
        assert_eq!(
            line.submit(entry(7, cpus(1.0), None, "small", now), now),
            None
        );
        let sent = line.room(node(1), room(2.0, 0.0, &[7]), now);
        assert_eq!(sent, vec![(node(1), "small")]);
        assert_eq!(line.len(), 1);
    }

    #[test]
    fn nothing_waits_forever() {
        let start = Instant::now();
        let mut line = Line::default();
        // No node ever answers.
        assert_eq!(
            line.submit(entry(7, cpus(1.0), None, "lonely", start), start),
            None
        );
        // A timeout.
        let deadline = start + Duration::from_millis(500);
        assert_eq!(
            line.submit(entry(8, cpus(1.0), Some(deadline), "timed", start), start),
            None
        );
        // Nodes answer, but none could ever fit it.
        assert_eq!(
            line.submit(entry(9, cpus(64.0), None, "huge", start), start),
            None
        );
        let later = start + Duration::from_millis(600);
        assert!(
            line.room(node(1), room(2.0, 2.0, &[8, 9]), later)
                .is_empty()
        );
        let given_up = line.expire(later);
        assert_eq!(given_up.len(), 1);
        assert!(matches!(given_up[0], ("timed", GiveUp::TimedOut(_))));
        let later = start + FEASIBLE_AFTER + Duration::from_millis(1);
        assert!(line.room(node(1), room(2.0, 2.0, &[9]), later).is_empty());
        let given_up = line.expire(later);
        assert!(
            matches!(&given_up[..], [("huge", GiveUp::Unschedulable(why))] if why.contains("64")),
            "{given_up:?}"
        );
        let given_up = line.expire(start + LONELY);
        assert!(matches!(
            &given_up[..],
            [("lonely", GiveUp::Unavailable(_))]
        ));
        assert_eq!(line.len(), 0);
    }

    #[test]
    fn a_fn_nobody_listens_for_fails_unless_a_node_answered_lately() {
        let now = Instant::now();
        let mut line = Line::default();
        assert_eq!(line.submit(entry(7, cpus(1.0), None, "a", now), now), None);
        assert_eq!(line.submit(entry(8, cpus(1.0), None, "b", now), now), None);
        assert_eq!(line.nobody(7, now), vec!["a"]);
        assert!(line.room(node(1), room(1.0, 1.0, &[8]), now).is_empty());
        assert!(line.nobody(8, now).is_empty());
        assert_eq!(line.len(), 1);
    }

    #[test]
    fn a_node_forgotten_or_silent_gets_no_more_tasks() {
        let now = Instant::now();
        let mut line = Line::default();
        assert!(line.room(node(1), room(4.0, 0.0, &[7]), now).is_empty());
        line.forget(node(1));
        assert_eq!(line.submit(entry(7, cpus(1.0), None, 1, now), now), None);
        let mut line = Line::default();
        assert!(line.room(node(1), room(4.0, 0.0, &[7]), now).is_empty());
        assert_eq!(
            line.submit(entry(7, cpus(1.0), None, 1, now + ROOM_TTL), now + ROOM_TTL),
            None
        );
    }
}
