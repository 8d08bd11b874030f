//! The actors this process is placing on other nodes (`Placement::Any`): how many it has sent
//! to each node and not yet seen answered, and those answered since a given moment; and how
//! many it has spread to each node (`Placement::Spread`).
//!
//! A node reports how many actors it serves when pinged (`load.rs`); the actors on their way
//! to it are not in that figure yet. So the choice of the least-loaded node
//! (`schedule::least_loaded`) adds, for each node, the placements this process sent there and
//! has no answer to, and those answered after the loads were asked for (the node may have
//! answered the ping before it created them). The choice and the count of the new placement
//! happen under one lock ([`Placing::send`]), so that the concurrent placements of this
//! process see each other.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use super::NodeId;

/// How long an answered placement is remembered: longer than any gathering of loads takes
/// (a registry scan and a round of pings), so that every choice that may miss it counts it.
const REMEMBERED: Duration = Duration::from_secs(60);

/// The placements of this process on their way, by node.
#[derive(Default)]
pub(crate) struct Placing {
    nodes: Mutex<HashMap<NodeId, OnTheWay>>,
    /// How many actors this process has spread to each node (`Placement::Spread`).
    spread: Mutex<HashMap<NodeId, u64>>,
}

/// The placements of this process to one node.
#[derive(Default)]
struct OnTheWay {
    /// Sent, and not answered yet.
    sent: u64,
    /// When each placement answered lately (oldest first) was answered.
    answered: VecDeque<Instant>,
}

impl OnTheWay {
    /// The placements that loads asked for at `asked` may not include.
    fn since(&self, asked: Instant) -> u64 {
        let answered = self.answered.iter().filter(|at| **at >= asked).count();
        self.sent
            .saturating_add(u64::try_from(answered).unwrap_or(u64::MAX))
    }
}

impl Placing {
    fn lock(&self) -> MutexGuard<'_, HashMap<NodeId, OnTheWay>> {
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many actors this process has spread to each node.
    pub(crate) fn spread_counts(&self) -> HashMap<NodeId, u64> {
        self.spread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// One more actor spread to `node`.
    pub(crate) fn spread_to(&self, node: NodeId) {
        let mut spread = self.spread.lock().unwrap_or_else(PoisonError::into_inner);
        *spread.entry(node).or_insert(0) += 1;
    }

    /// Runs `choose` with, for each node, the placements on their way there that loads asked
    /// for at `asked` do not show, and counts one more sent to the node it returns; all under
    /// one lock. The [`Sending`] counts it until it is answered or dropped.
    pub(crate) fn send<E>(
        &self,
        asked: Instant,
        choose: impl FnOnce(&dyn Fn(NodeId) -> u64) -> Result<NodeId, E>,
    ) -> Result<Sending<'_>, E> {
        let mut nodes = self.lock();
        forget_old(&mut nodes, Instant::now());
        let node = choose(&|node| nodes.get(&node).map_or(0, |way| way.since(asked)))?;
        nodes.entry(node).or_default().sent += 1;
        Ok(Sending {
            placing: self,
            node,
            answered: false,
        })
    }
}

/// Drops the answers older than [`REMEMBERED`], and the nodes with nothing left.
fn forget_old(nodes: &mut HashMap<NodeId, OnTheWay>, now: Instant) {
    nodes.retain(|_, way| {
        while way
            .answered
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > REMEMBERED)
        {
            way.answered.pop_front();
        }
        way.sent > 0 || !way.answered.is_empty()
    });
}

/// A placement sent to a node, counted there until it is answered or dropped.
pub(crate) struct Sending<'a> {
    placing: &'a Placing,
    node: NodeId,
    answered: bool,
}

impl Sending<'_> {
    /// The node it goes to.
    pub(crate) fn node(&self) -> NodeId {
        self.node
    }

    /// The node answered that the actor is created: loads asked for before now may not
    /// show it yet, so it stays counted for them.
    pub(crate) fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        let mut nodes = self.placing.lock();
        if let Some(way) = nodes.get_mut(&self.node) {
            way.sent = way.sent.saturating_sub(1);
            if self.answered {
                way.answered.push_back(Instant::now());
            }
        }
        forget_old(&mut nodes, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> NodeId {
        NodeId::from_u64(n)
    }

    /// What `placing` shows for `n` to loads asked at `asked`.
    fn shown(placing: &Placing, asked: Instant, n: u64) -> u64 {
        placing
            .lock()
            .get(&node(n))
            .map_or(0, |way| way.since(asked))
    }

    #[test]
    fn a_placement_counts_until_answered_and_then_for_loads_asked_before_the_answer() {
        let placing = Placing::default();
        let before = Instant::now();
        let first = placing
            .send(before, |_| Ok::<_, ()>(node(1)))
            .expect("chosen");
        assert_eq!(first.node(), node(1));
        // The second choice sees the first on its way.
        let second = placing
            .send(before, |on_the_way| {
                assert_eq!(on_the_way(node(1)), 1);
                assert_eq!(on_the_way(node(2)), 0);
                Ok::<_, ()>(node(2))
            })
            .expect("chosen");
        assert_eq!(
            (shown(&placing, before, 1), shown(&placing, before, 2)),
            (1, 1)
        );
        first.answered();
        // Loads asked before the answer may miss it; loads asked after it show it.
        assert_eq!(shown(&placing, before, 1), 1);
        assert_eq!(shown(&placing, Instant::now(), 1), 0);
        // A placement that failed is no actor there.
        drop(second);
        assert_eq!(shown(&placing, before, 2), 0);
        // A choice that fails counts nothing.
        assert!(placing.send(before, |_| Err::<NodeId, _>("none")).is_err());
        assert_eq!(
            placing.lock().len(),
            1,
            "only node 1's answer is remembered"
        );
    }

    #[test]
    fn old_answers_are_forgotten() {
        let placing = Placing::default();
        let start = Instant::now();
        placing
            .send(start, |_| Ok::<_, ()>(node(1)))
            .expect("chosen")
            .answered();
        forget_old(&mut placing.lock(), Instant::now() + REMEMBERED * 2);
        assert!(placing.lock().is_empty());
    }
}
