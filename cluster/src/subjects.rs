//! The NATS subjects of a cluster: every subject this crate sends to or listens on is built
//! (and every one it reads a token of is parsed) here.
//!
//! All start with `helio.<cluster>.`, so that clusters sharing one server never hear each
//! other:
//! - `actor.<node>.<id>`: the actor created on `<node>` with local id `<id>` (its calls and
//!   control messages); a node that restarts it serves the same subject.
//! - `inbox.<node>.<id>`: the reply to call `<id>` of process `<node>` (`inbox.<node>.*`: all of
//!   them, that process's one subscription).
//! - `spawn.<node>`: requests to create an actor on `<node>` (for `Placement::Any`, the node
//!   the creator chose by load: `schedule.rs`).
//! - `task.<fn>`: tasks of a registered fn (hex fingerprint), one queue group;
//!   `task.<fn>.<node>`: those placed on `<node>` by their resources; `task.cancel.<node>`: the
//!   cancels of the tasks running on `<node>`.
//! - `want.<fn>`: a caller with tasks of the fn waiting asks every node that runs it for room;
//!   `room.<node>.<fn>`: the answers, and each time a node frees resources while the caller
//!   wants, its room, sent to the caller `<node>` (see `line.rs`); `offer`: a node that
//!   starts running a fn says so to every process at once.
//! - `hb.<node>`: `<node>`'s heartbeats; `ping.<node>`: pings it answers.
//! - `objects.<node>`: reads of the values `<node>` holds for others (too large for one
//!   message: `objects.rs`); `chunk.<node>.<fetch>`: the chunks read for fetch `<fetch>` of
//!   process `<node>` (`fetch.rs`).
//! - `refs.<node>`: what borrowers of the values `<node>` shares tell it: tickets, claims,
//!   releases, and reads (`refs.rs`).
//!
//! Node ids are written in hex (`NodeId`'s `Display`), actor and call ids in decimal.

use helio_runtime::NodeId;

/// The subject of a frame made in this process (a stream's failure), never sent.
pub(crate) const LOCAL: &str = "helio.local";

/// The subjects of one cluster, as seen by one of its nodes.
pub(crate) struct Subjects {
    /// `helio.<cluster>`.
    root: String,
    /// `helio.<cluster>.inbox.<this node>.`: the start of this process's reply subjects.
    inbox: String,
    /// This node.
    node: NodeId,
}

impl Subjects {
    /// The subjects of cluster `cluster` for node `node`.
    pub(crate) fn new(cluster: &str, node: NodeId) -> Self {
        let root = format!("helio.{cluster}");
        let inbox = format!("{root}.inbox.{node}.");
        Subjects { root, inbox, node }
    }

    /// `helio.<cluster>.actor.<node>.<id>`: the actor created on `node` with local id `id`.
    pub(crate) fn actor(&self, node: NodeId, id: u64) -> String {
        format!("{}.actor.{node}.{id}", self.root)
    }

    /// `helio.<cluster>.inbox.<this node>.<id>`: the reply subject of this process's request
    /// `id`.
    pub(crate) fn inbox(&self, id: u64) -> String {
        format!("{}{id}", self.inbox)
    }

    /// `helio.<cluster>.inbox.<this node>.*`: every reply to this process.
    pub(crate) fn inbox_all(&self) -> String {
        format!("{}*", self.inbox)
    }

    /// The id of this process's request that `reply` (a reply subject) names, if it is one of
    /// this process's.
    pub(crate) fn own_call(&self, reply: &str) -> Option<u64> {
        reply.strip_prefix(self.inbox.as_str())?.parse().ok()
    }

    /// `helio.<cluster>.objects.<node>`: reads of the objects `node` holds (`objects.rs`).
    pub(crate) fn objects(&self, node: NodeId) -> String {
        format!("{}.objects.{node}", self.root)
    }

    /// `helio.<cluster>.chunk.<this node>.<fetch>`: the chunks of this process's fetch
    /// `fetch` (`fetch.rs`).
    pub(crate) fn chunk(&self, fetch: u64) -> String {
        format!("{}.chunk.{}.{fetch}", self.root, self.node)
    }

    /// `helio.<cluster>.chunk.<this node>.*`: the chunks of every fetch of this process.
    pub(crate) fn chunks_all(&self) -> String {
        format!("{}.chunk.{}.*", self.root, self.node)
    }

    /// `helio.<cluster>.refs.<node>`: what borrowers tell `node` of the values it shares
    /// (`refs.rs`).
    pub(crate) fn refs(&self, node: NodeId) -> String {
        format!("{}.refs.{node}", self.root)
    }

    /// `helio.<cluster>.spawn.<node>`: requests to create an actor on `node`.
    pub(crate) fn spawn(&self, node: NodeId) -> String {
        format!("{}.spawn.{node}", self.root)
    }

    /// `helio.<cluster>.pg.<node>`: requests to reserve (or give back) placement group
    /// bundles on `node`.
    pub(crate) fn placement_group(&self, node: NodeId) -> String {
        format!("{}.pg.{node}", self.root)
    }

    /// `helio.<cluster>.task.<fingerprint>`: the tasks of the fn `fingerprint`, for any node
    /// that registered it.
    pub(crate) fn task(&self, fingerprint: u64) -> String {
        format!("{}.task.{fingerprint:016x}", self.root)
    }

    /// `helio.<cluster>.task.<fingerprint>.<node>`: the tasks of the fn `fingerprint` that
    /// `node` alone takes.
    pub(crate) fn task_on(&self, fingerprint: u64, node: NodeId) -> String {
        format!("{}.task.{fingerprint:016x}.{node}", self.root)
    }

    /// `helio.<cluster>.task.cancel.<node>`: the cancels of the tasks running on `node`.
    pub(crate) fn task_cancel(&self, node: NodeId) -> String {
        format!("{}.task.cancel.{node}", self.root)
    }

    /// `helio.<cluster>.want.<fingerprint>`: callers asking for room for tasks of the fn
    /// `fingerprint`, heard by every node that runs it.
    pub(crate) fn want(&self, fingerprint: u64) -> String {
        format!("{}.want.{fingerprint:016x}", self.root)
    }

    /// `helio.<cluster>.room.<this node>.<fingerprint>`: where nodes report their room for
    /// this process's tasks of the fn `fingerprint`.
    pub(crate) fn room(&self, fingerprint: u64) -> String {
        format!("{}.room.{}.{fingerprint:016x}", self.root, self.node)
    }

    /// `helio.<cluster>.offer`: nodes that start running a fn report their room to every
    /// process.
    pub(crate) fn offers(&self) -> String {
        format!("{}.offer", self.root)
    }

    /// Whether `subject` is where a process of this cluster hears reports of room (so that a
    /// node sends its reports nowhere else, whatever a message asks).
    pub(crate) fn is_room(&self, subject: &str) -> bool {
        subject
            .strip_prefix(self.root.as_str())
            .and_then(|rest| rest.strip_prefix(".room."))
            .is_some_and(|rest| rest.split('.').count() == 2)
    }

    /// `helio.<cluster>.room.<this node>.*`: every report of room to this process.
    pub(crate) fn rooms(&self) -> String {
        format!("{}.room.{}.*", self.root, self.node)
    }

    /// `helio.<cluster>.hb.<node>`: `node`'s heartbeats.
    pub(crate) fn heartbeat(&self, node: NodeId) -> String {
        format!("{}.hb.{node}", self.root)
    }

    /// `helio.<cluster>.hb.*`: every node's heartbeats.
    pub(crate) fn heartbeats(&self) -> String {
        format!("{}.hb.*", self.root)
    }

    /// `helio.<cluster>.ping.<node>`: the pings `node` answers.
    pub(crate) fn ping(&self, node: NodeId) -> String {
        format!("{}.ping.{node}", self.root)
    }
}

/// The call id a reply subject (`helio.<cluster>.inbox.<node>.<id>`) ends with.
pub(crate) fn call_id(reply: &str) -> Option<u64> {
    reply.rsplit('.').next()?.parse().ok()
}

/// The fn a report of room's subject (`helio.<cluster>.room.<node>.<fingerprint>`) names.
pub(crate) fn room_fingerprint(subject: &str) -> Option<u64> {
    u64::from_str_radix(subject.rsplit('.').next()?, 16).ok()
}

/// The node a heartbeat's subject (`helio.<cluster>.hb.<node>`) names.
pub(crate) fn heartbeat_node(subject: &str) -> Option<NodeId> {
    let node = subject.rsplit('.').next()?;
    u64::from_str_radix(node, 16).ok().map(NodeId::from_u64)
}

/// The inbox `subject` is a reply subject of (`helio.<cluster>.inbox.<node>`), if it is one.
pub(crate) fn inbox_of(subject: &str) -> Option<&str> {
    if subject.split('.').nth(2) != Some("inbox") {
        return None;
    }
    subject.rfind('.').map(|dot| &subject[..dot])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_the_wire_s() {
        let node = NodeId::from_u64(0xab);
        let s = Subjects::new("prod", node);
        let n = node.to_string();
        assert_eq!(s.actor(node, 7), format!("helio.prod.actor.{n}.7"));
        assert_eq!(s.inbox(42), format!("helio.prod.inbox.{n}.42"));
        assert_eq!(s.inbox_all(), format!("helio.prod.inbox.{n}.*"));
        assert_eq!(s.spawn(node), format!("helio.prod.spawn.{n}"));
        assert_eq!(s.objects(node), format!("helio.prod.objects.{n}"));
        assert_eq!(s.refs(node), format!("helio.prod.refs.{n}"));
        assert_eq!(s.chunk(9), format!("helio.prod.chunk.{n}.9"));
        assert_eq!(s.chunks_all(), format!("helio.prod.chunk.{n}.*"));
        assert_eq!(call_id(&s.chunk(9)), Some(9));
        assert_eq!(s.task(0xff), "helio.prod.task.00000000000000ff");
        assert_eq!(
            s.task_on(0xff, node),
            format!("helio.prod.task.00000000000000ff.{n}")
        );
        assert_eq!(s.task_cancel(node), format!("helio.prod.task.cancel.{n}"));
        assert_eq!(s.heartbeat(node), format!("helio.prod.hb.{n}"));
        assert_eq!(s.heartbeats(), "helio.prod.hb.*");
        assert_eq!(s.ping(node), format!("helio.prod.ping.{n}"));
        assert_eq!(s.want(0xff), "helio.prod.want.00000000000000ff");
        assert_eq!(
            s.room(0xff),
            format!("helio.prod.room.{n}.00000000000000ff")
        );
        assert_eq!(s.rooms(), format!("helio.prod.room.{n}.*"));
        assert_eq!(s.offers(), "helio.prod.offer");
        assert!(s.is_room(&s.room(0xff)));
        assert!(!s.is_room(&s.offers()));
        assert!(!s.is_room("helio.prod.room.x"));
        assert!(!s.is_room(&Subjects::new("dev", node).room(0xff)));
    }

    #[test]
    fn subjects_parse_back() {
        let node = NodeId::from_u64(0xab);
        let s = Subjects::new("prod", node);
        assert_eq!(s.own_call(&s.inbox(42)), Some(42));
        assert_eq!(s.own_call(&Subjects::new("dev", node).inbox(42)), None);
        assert_eq!(call_id(&s.inbox(42)), Some(42));
        assert_eq!(heartbeat_node(&s.heartbeat(node)), Some(node));
        assert_eq!(room_fingerprint(&s.room(0xff)), Some(0xff));
        let inbox = s.inbox(42);
        assert_eq!(inbox_of(&inbox), Some(&inbox[..inbox.len() - 3]));
        assert_eq!(inbox_of(&s.actor(node, 42)), None);
    }
}
