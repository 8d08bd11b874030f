//! The channel across processes (feature `cluster`): each test starts its own `nats-server`,
//! then runs this test binary again as child processes in roles (`HELIO_TEST_ROLE`), which
//! talk back on stdout. Processes are killed with SIGKILL, never asked to stop.
//!
//! The server is `HELIO_NATS_SERVER`, `nats-server` on the PATH, or one the tests provision
//! under the target folder (`tests/cluster_support/server.rs`); when none can be had every test
//! fails with a message listing the three ways to provide one.

#[path = "../../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::{
    collections::{BTreeSet, HashSet},
    time::Duration,
};

use cluster_support::{
    Nats, NatsCluster, Proc, XorShift, next_line, one_at_a_time, park, role, say, url,
    wait_for_parent,
};
use helio_channel::{ChannelError, Validator, channel_named, get_channel};
use serde::{Deserialize, Serialize};

/// Items of the exactly-once test: sender `s` sends `s * ITEM_BASE + k` for `k` in `0..PER_SENDER`.
const PER_SENDER: u64 = 100_000;
const ITEM_BASE: u64 = 1_000_000;
const SENDERS: u64 = 3;
const RECEIVERS: u64 = 3;
/// Sends each sender process has in flight: each is a `send(..).await` of its own.
const IN_FLIGHT: u64 = 16;
/// The sender killed midway, and how far it gets before.
const VICTIM: u64 = 0;
const KILL_AFTER: u64 = 20_000;

/// Joins the cluster and registers the item types.
fn join(name: &str) {
    helio::init(helio::Config::cluster(url()).node_name(name)).expect("join the cluster");
    helio_channel::register::<u64>();
    helio_channel::register::<Picky>();
    helio_channel::register::<Vec<u8>>();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Every said line `<prefix> a,b,c` of `lines`, as numbers.
fn numbers(lines: &[String], prefix: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix(prefix))
        .flat_map(|rest| rest.trim().split(',').filter(|s| !s.is_empty()))
        .map(|n| n.parse().expect("a number"))
        .collect()
}

/// 3 sender processes and 3 receiver processes on a channel hosted by a seventh; a sender is
/// killed with SIGKILL midway. Every item whose `send` returned `Ok` is received exactly once,
/// no item is received twice, and the channel still closes: the dead sender's registration
/// goes with its node.
#[test]
fn items_cross_processes_exactly_once_while_a_sender_is_killed() {
    let test = "items_cross_processes_exactly_once_while_a_sender_is_killed";
    match role().as_deref() {
        Some("host") => {
            join("channel-host");
            let (tx, rx) = channel_named::<u64>("jobs", 1000);
            say("ready");
            // The host's own ends keep the channel open until every other end registered.
            wait_for_parent();
            drop((tx, rx));
            say("let-go");
            return park();
        }
        Some("receiver") => {
            join("receiver");
            let (tx, rx) = get_channel::<u64>("jobs").expect("find the channel");
            drop(tx);
            // Calls from one process to the channel keep their order: once this answers, the
            // registration is in.
            rx.actor()
                .methods()
                .capacity()
                .remote()
                .get()
                .expect("registered");
            say("ready");
            let mut got = Vec::new();
            runtime().block_on(async {
                loop {
                    match rx.recv().await {
                        Ok(item) => got.push(item),
                        Err(ChannelError::Closed) => break,
                        Err(other) => panic!("receive failed: {other}"),
                    }
                }
            });
            for chunk in got.chunks(1000) {
                let line: Vec<String> = chunk.iter().map(u64::to_string).collect();
                say(format!("got {}", line.join(",")));
            }
            say(format!("done {}", got.len()));
            return;
        }
        Some(sender) if sender.starts_with("sender-") => {
            let me: u64 = sender["sender-".len()..].parse().expect("a sender number");
            join(sender);
            let (tx, rx) = get_channel::<u64>("jobs").expect("find the channel");
            drop(rx);
            tx.actor()
                .methods()
                .capacity()
                .remote()
                .get()
                .expect("registered");
            say("ready");
            wait_for_parent();
            // `IN_FLIGHT` sends at a time, each awaited: `ok k` says that the send of item
            // `k` returned `Ok`.
            let lane = |lane: u64| {
                let tx = &tx;
                async move {
                    for k in (lane..PER_SENDER).step_by(IN_FLIGHT as usize) {
                        tx.send(me * ITEM_BASE + k).await.expect("send");
                        say(format!("ok {k}"));
                    }
                }
            };
            runtime().block_on(futures::future::join_all((0..IN_FLIGHT).map(lane)));
            drop(tx);
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut receivers: Vec<Proc> = (0..RECEIVERS)
        .map(|_| Proc::start(test, "receiver", &nats.url))
        .collect();
    for receiver in &mut receivers {
        receiver.expect("ready");
    }
    let mut senders: Vec<Proc> = (0..SENDERS)
        .map(|s| Proc::start(test, &format!("sender-{s}"), &nats.url))
        .collect();
    for sender in &mut senders {
        sender.expect("ready");
    }
    host.close_stdin();
    host.expect("let-go");
    let started = std::time::Instant::now();
    for sender in &mut senders {
        sender.close_stdin();
    }
    let long = Duration::from_secs(300);
    senders[VICTIM as usize].expect_within(&format!("ok {KILL_AFTER}"), long);
    let said = senders[VICTIM as usize].kill_and_collect();
    let mut acked = numbers(&said, "ok ");
    acked.push(KILL_AFTER); // the line waited for above
    for (s, sender) in senders.iter_mut().enumerate() {
        if s as u64 != VICTIM {
            sender.expect_within("done", long);
        }
    }
    let mut received = Vec::new();
    for receiver in &mut receivers {
        receiver.expect_within("done", long);
        received.extend(numbers(&receiver.kill_and_collect(), "got "));
    }
    let elapsed = started.elapsed();
    let unique: HashSet<u64> = received.iter().copied().collect();
    assert_eq!(unique.len(), received.len(), "an item was received twice");
    for s in 0..SENDERS {
        let of = |item: &&u64| **item / ITEM_BASE == s;
        let mut mine: Vec<u64> = unique.iter().filter(of).map(|i| i % ITEM_BASE).collect();
        mine.sort_unstable();
        if s == VICTIM {
            // Every acknowledged item arrived; besides them, at most the sends in flight.
            let got: HashSet<u64> = mine.iter().copied().collect();
            let missing: Vec<&u64> = acked.iter().filter(|k| !got.contains(k)).take(5).collect();
            assert!(
                missing.is_empty(),
                "acknowledged, never received: {missing:?}.."
            );
            assert!(
                mine.len() <= acked.len() + IN_FLIGHT as usize,
                "victim: {} received, {} acknowledged",
                mine.len(),
                acked.len()
            );
        } else {
            assert_eq!(mine, (0..PER_SENDER).collect::<Vec<_>>(), "sender {s}");
        }
    }
    println!(
        "{} items received exactly once in {elapsed:?} ({:.0} items/s); sender {VICTIM} killed \
         after {} acknowledged sends",
        received.len(),
        received.len() as f64 / elapsed.as_secs_f64(),
        acked.len()
    );
}

/// An item type whose decoding refuses 13, standing in for an item that does not decode as
/// the channel's type on its host (another build of the type).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Picky(u32);

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u32::deserialize(deserializer)? {
            13 => Err(serde::de::Error::custom("13 is not a Picky")),
            n => Ok(Picky(n)),
        }
    }
}

/// A named validator crosses processes by name and runs on the host; an item that does not
/// decode on the host is `TypeError`; a closure validator cannot cross.
#[test]
fn validators_and_type_errors_cross_processes() {
    let test = "validators_and_type_errors_cross_processes";
    match role().as_deref() {
        Some("host") => {
            join("channel-host");
            // The name this process knows the check by: a creation from elsewhere finds it.
            let _even = Validator::named("even", |p: &Picky| p.0.is_multiple_of(2));
            let node = helio::current_node().expect("in the cluster");
            say(format!("ready {node}"));
            return park();
        }
        Some("user") => {
            join("user");
            // A validator this process registered under the same name as the host.
            let even = Validator::named("even", |p: &Picky| p.0.is_multiple_of(2));
            let host: helio::NodeId = std::env::var("HOST_NODE")
                .expect("HOST_NODE")
                .parse()
                .expect("a node id");
            let on_host = helio::ActorOptions::new()
                .name("picky")
                .namespace(helio_channel::NAMESPACE)
                .lifetime(helio::Lifetime::Detached)
                .placement(helio::Placement::Node(host));
            let chan = helio_channel::RayChannelActor::<Picky>::new_actor()
                .options(on_host)
                .remote(Some(10), false, Some(even));
            chan.ready().get().expect("created on the host");
            let (tx, rx) = get_channel::<Picky>("picky").expect("find it");
            runtime().block_on(async {
                tx.send(Picky(2)).await.expect("an even item passes");
                assert_eq!(tx.send(Picky(3)).await, Err(ChannelError::TypeError));
                assert_eq!(tx.send(Picky(13)).await, Err(ChannelError::TypeError));
                assert_eq!(rx.recv().await, Ok(Picky(2)));
            });
            // A closure cannot cross: creating the channel on the host fails, and says why.
            let closure = Validator::new(|p: &Picky| p.0 > 0);
            let elsewhere = helio::ActorOptions::new().placement(helio::Placement::Node(host));
            let refused = helio_channel::RayChannelActor::<Picky>::new_actor()
                .options(elsewhere)
                .remote(Some(10), false, Some(closure));
            let err = refused.ready().get().expect_err("a closure cannot cross");
            assert!(err.to_string().contains("Validator::named"), "{err}");
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    let host_node = host.expect("ready");
    let mut user = Proc::start_env(test, "user", &nats.url, &[("HOST_NODE", &host_node)]);
    user.expect("done");
    user.succeeds();
}

/// When the channel's host dies, the buffer goes with it (as in Ray): the channel restarts
/// empty on a live node, closed on both sides, so that no handle waits for an item or a
/// sender that can no longer come. A new channel under the same name works.
/// How the channel's host is lost.
enum Loss {
    /// SIGKILL: the process is gone.
    Killed,
    /// Its connection to the server is cut (through a relay) and stays cut: the process
    /// lives on, and fences the channel.
    CutOff,
}

#[test]
fn a_channel_whose_host_is_killed_restarts_empty_and_closed() {
    host_lost(
        "a_channel_whose_host_is_killed_restarts_empty_and_closed",
        Loss::Killed,
    );
}

#[test]
fn a_channel_whose_host_is_cut_off_restarts_empty_and_closed() {
    host_lost(
        "a_channel_whose_host_is_cut_off_restarts_empty_and_closed",
        Loss::CutOff,
    );
}

/// The channel's host is lost while a receive elsewhere waits: the channel restarts on the
/// other process, empty and closed on both sides.
fn host_lost(test: &str, loss: Loss) {
    match role().as_deref() {
        Some("host") => {
            join("channel-host");
            let (tx, rx) = channel_named::<u64>("doomed", 100);
            runtime().block_on(async {
                for i in 0..5 {
                    tx.send(i).await.expect("send");
                }
            });
            say("ready");
            if let Some(line) = cluster_support::next_line() {
                assert_eq!(line, "fenced?");
                // Cut off, this process stops the channel; its own handles learn it.
                let start = std::time::Instant::now();
                let fenced = || {
                    let stats = tx.actor().methods().stats().remote();
                    matches!(
                        stats.get_timeout(Duration::from_secs(30)),
                        Err(helio::ActorError::ActorDied {
                            cause: helio::DeathCause::Fenced,
                            ..
                        })
                    )
                };
                while !fenced() {
                    assert!(start.elapsed() < Duration::from_secs(30), "never fenced");
                    std::thread::sleep(Duration::from_millis(20));
                }
                let sent = runtime().block_on(tx.send(5));
                assert!(
                    matches!(
                        sent,
                        Err(ChannelError::Actor(helio::ActorError::ActorDied {
                            cause: helio::DeathCause::Fenced,
                            ..
                        }))
                    ),
                    "{sent:?}"
                );
                say("fenced");
            }
            let _keep = (tx, rx);
            return park();
        }
        Some("user") => {
            join("user");
            let (tx, rx) = get_channel::<u64>("doomed").expect("find it");
            runtime().block_on(async {
                assert_eq!(rx.recv().await, Ok(0));
                say("ready");
                // A receive waiting when the host dies: it learns the channel closed.
                let waiting = rx.recv_batch(1000);
                // (The items prefetched by the receive above are in this process: the
                // receive takes them first.)
                let first = waiting.await.expect("the items this process took ahead");
                assert_eq!(first, [1, 2, 3, 4]);
                say("waiting");
                let ended = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
                assert_eq!(
                    ended,
                    Ok(Err(ChannelError::Closed)),
                    "a waiting receive ends"
                );
                assert_eq!(tx.send(9).await, Err(ChannelError::Closed));
                let stats = tx.actor().methods().stats().remote().await.expect("stats");
                assert_eq!(stats.queue_size, 0, "restarted empty");
                assert!(stats.senders_closed && stats.receivers_closed);
            });
            // Deleted and made again: a working channel under the same name.
            helio_channel::delete_channel("doomed").expect("delete");
            let (tx, rx) = channel_named::<u64>("doomed", 100);
            runtime().block_on(async {
                tx.send(7).await.expect("send");
                assert_eq!(rx.recv().await, Ok(7));
            });
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let relay = cluster_support::Relay::to(&nats.url);
    let mut host = Proc::start(test, "host", &relay.url);
    host.expect("ready");
    let mut user = Proc::start(test, "user", &nats.url);
    user.expect("ready");
    user.expect("waiting");
    match loss {
        Loss::Killed => host.kill(),
        Loss::CutOff => {
            relay.cut();
            host.tell("fenced?");
            host.expect("fenced");
        }
    }
    user.expect_within("done", Duration::from_secs(60));
    user.succeeds();
}

/// The host's own ends of the channel `race`, until `Dropper::drop_ends` drops them.
static ENDS: std::sync::Mutex<Option<(helio_channel::Sender<u64>, helio_channel::Receiver<u64>)>> =
    std::sync::Mutex::new(None);

/// Drops the host's own ends of `race` when another process asks.
pub struct Dropper;

#[helio::actor]
impl Dropper {
    pub fn new() -> Self {
        Dropper
    }

    #[helio::remote_method]
    pub fn drop_ends(&self) -> bool {
        ENDS.lock().unwrap().take().is_some()
    }
}

/// `get_channel` in another process returns once the channel counts its two ends: the host
/// dropping its own ends right after (asked over a path of its own, as fast as the cluster
/// goes) leaves the channel open under them.
#[test]
fn ends_from_get_channel_count_before_it_returns() {
    match role().as_deref() {
        Some("host") => {
            join("channel-host");
            helio::register::<Dropper>();
            *ENDS.lock().unwrap() = Some(channel_named::<u64>("race", 16));
            let dropper = Dropper::new_actor()
                .options(helio::ActorOptions::new().name("dropper"))
                .remote();
            dropper.ready().get().expect("the dropper starts");
            say("ready");
            return park();
        }
        Some("user") => {
            join("user");
            helio::register::<Dropper>();
            let dropper = helio::get_actor::<Dropper>("dropper").expect("find the dropper");
            let (tx, rx) = get_channel::<u64>("race").expect("find the channel");
            // At once: no pause that would let a registration in flight arrive anyway.
            let dropped = dropper.methods().drop_ends().remote().get();
            assert_eq!(dropped, Ok(true), "the host's ends were dropped");
            runtime().block_on(async {
                let bound = Duration::from_secs(20);
                let sent = tokio::time::timeout(bound, tx.send(0)).await;
                assert_eq!(sent, Ok(Ok(())), "send 0");
                let received = tokio::time::timeout(bound, rx.recv()).await;
                assert_eq!(received, Ok(Ok(0)), "receive 0");
            });
            say("done");
            return;
        }
        _ => {}
    }
    let test = "ends_from_get_channel_count_before_it_returns";
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut user = Proc::start(test, "user", &nats.url);
    user.expect("done");
    user.succeeds();
}

/// Items over the server's `max_payload` (4 MB against its default 1 MB) go through a channel
/// hosted in another process, both ways, intact and in order.
#[test]
fn a_4_mb_item_crosses_processes_through_a_channel() {
    let test = "a_4_mb_item_crosses_processes_through_a_channel";
    let item = |k: u8| -> Vec<u8> { (0..4usize << 20).map(|i| (i % 251) as u8 ^ k).collect() };
    match role().as_deref() {
        Some("host") => {
            join("channel-host");
            let (_tx, _rx) = channel_named::<Vec<u8>>("big", 2);
            say("ready");
            return park();
        }
        Some("user") => {
            join("user");
            let (tx, rx) = get_channel::<Vec<u8>>("big").expect("find it");
            runtime().block_on(async {
                for k in 0..3 {
                    tx.send(item(k)).await.expect("a 4 MB item goes");
                    let back = rx.recv().await.expect("and comes back");
                    assert!(back == item(k), "item {k} came back changed");
                }
            });
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut user = Proc::start(test, "user", &nats.url);
    user.expect("done");
    user.succeeds();
}

/// On a NATS cluster of three servers, a channel hosted by one process and used by another
/// carries on when a server is killed with `-9` (each server in turn, a fresh cluster each
/// time): within 10 s items go through it again.
#[test]
fn a_channel_carries_on_when_any_one_of_three_servers_is_lost() {
    let test = "a_channel_carries_on_when_any_one_of_three_servers_is_lost";
    const AGAIN: Duration = Duration::from_secs(10);
    const TRY: Duration = Duration::from_secs(2);
    match role().as_deref() {
        Some("host") => {
            join("channel-host");
            let ends = channel_named::<u64>("jobs", 100);
            say("ready");
            park();
            drop(ends);
        }
        Some("user") => {
            join("user");
            let (tx, rx) = get_channel::<u64>("jobs").expect("find the channel");
            let rt = runtime();
            let round = |item: u64| {
                rt.block_on(async {
                    tx.send_timeout(item, TRY).await?;
                    rx.recv_timeout(TRY).await
                })
            };
            assert_eq!(round(1).expect("an item before"), 1);
            say("before");
            assert_eq!(next_line().as_deref(), Some("killed"));
            let since = std::time::Instant::now();
            loop {
                match round(2) {
                    Ok(item) => {
                        assert_eq!(item, 2, "the item sent after the kill");
                        break;
                    }
                    Err(err) => assert!(
                        since.elapsed() < AGAIN,
                        "the channel still fails {AGAIN:?} after the kill: {err}"
                    ),
                }
            }
            say("after");
        }
        _ => {
            let _serial = one_at_a_time();
            for victim in 0..3 {
                let mut nats = NatsCluster::start(3);
                let mut host = Proc::start(test, "host", &nats.url);
                host.expect("ready");
                let mut user = Proc::start(test, "user", &nats.url);
                user.expect("before");
                nats.kill(victim);
                user.tell("killed");
                user.expect_within("after", AGAIN * 2);
                user.succeeds();
            }
        }
    }
}

/// The chaos test's actors and tasks: a tally of call ids on a node never killed, a guard that
/// detects a second copy of itself, and a task.
mod chaos {
    use std::{collections::BTreeSet, fs::File, io::Write, path::PathBuf};

    use helio::prelude::*;

    /// Where the guard's lock file and the record of its violations are.
    pub const DIR: &str = "HELIO_CHAOS_DIR";

    /// Notes the id of each call it runs.
    pub struct Tally {
        ids: BTreeSet<u64>,
    }

    #[actor]
    impl Tally {
        pub fn new() -> Self {
            Tally {
                ids: BTreeSet::new(),
            }
        }

        /// Notes `id`; gives it back.
        #[remote_method]
        pub fn note(&mut self, id: u64) -> u64 {
            self.ids.insert(id);
            id
        }

        /// The ids noted.
        #[remote_method]
        pub fn noted(&self) -> Vec<u64> {
            self.ids.iter().copied().collect()
        }
    }

    /// A detached actor that holds a lock on a file while it lives: a second copy running at
    /// the same time finds it taken, and records so.
    pub struct Guard {
        _lock: File,
    }

    fn dir() -> PathBuf {
        PathBuf::from(std::env::var(DIR).expect("the chaos dir"))
    }

    /// The record of guards that found another copy alive.
    pub fn violations() -> PathBuf {
        dir().join("violations")
    }

    #[actor(max_restarts = -1, max_task_retries = -1)]
    impl Guard {
        pub fn new() -> Self {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir().join("guard.lock"))
                .expect("the guard's lock file");
            if let Err(err) = file.try_lock() {
                let mut record = File::options()
                    .create(true)
                    .append(true)
                    .open(violations())
                    .expect("the violations file");
                writeln!(record, "process {}: {err}", std::process::id()).expect("record");
            }
            Guard { _lock: file }
        }

        /// The process it runs in.
        #[remote_method]
        pub fn ping(&self) -> u32 {
            std::process::id()
        }
    }

    /// Twice `x`.
    #[remote]
    pub fn double(x: u64) -> u64 {
        2 * x
    }
}

/// The node timeout of the chaos test: short enough that a killed node's guard moves in the
/// time of the test, long enough that a 2-core machine's load does not bury a live node.
const CHAOS_NODE_TIMEOUT: Duration = Duration::from_secs(6);
/// How long one call of the chaos test may take to resolve: a call to a killed node's
/// guard waits for its restart elsewhere (the node timeout, then the restart).
const CHAOS_CALL: Duration = Duration::from_secs(40);

fn join_chaos(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url())
        .node_name(name)
        .host(hosts)
        .node_timeout(CHAOS_NODE_TIMEOUT);
    helio::init(config).expect("join the cluster");
    helio_channel::register::<u64>();
    helio::register::<chaos::Tally>();
    helio::register::<chaos::Guard>();
    helio::register_task(&chaos::double);
}

/// The chaos test's client: calls with and without retries to the tally, calls to the guard,
/// tasks, and items through the channel, all at once, across every outage; then the checks.
fn chaos_client() {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    };
    use std::time::Instant;

    use helio::prelude::*;
    join_chaos("client", false);
    let tally = helio::get_actor::<chaos::Tally>("tally").expect("find the tally");
    let guard = helio::get_actor::<chaos::Guard>("guard").expect("find the guard");
    let (tx, rx) = get_channel::<u64>("chaos").expect("find the channel");
    let stop = Arc::new(AtomicBool::new(false));
    let oks = Arc::new(AtomicU64::new(0));
    type Calls = Arc<Mutex<Vec<(bool, u64, Result<u64, ActorError>)>>>;
    let calls: Calls = Arc::default();
    let mut threads = Vec::new();
    // Calls to the tally: even ones with retries, odd ones without.
    for caller in 0..2u64 {
        let (tally, stop, oks, calls) = (tally.clone(), stop.clone(), oks.clone(), calls.clone());
        threads.push(std::thread::spawn(move || {
            for n in 0u64.. {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let id = caller * 1_000_000 + n;
                let sure = n % 2 == 0;
                let note = tally.methods().note();
                let call = if sure {
                    note.options(CallOptions::new().max_task_retries(-1))
                        .remote(id)
                } else {
                    note.remote(id)
                };
                let result = call.get_timeout(CHAOS_CALL);
                // A steady flow, not a flood: the servers share this machine's cores.
                std::thread::sleep(Duration::from_millis(2));
                if result.is_ok() {
                    oks.fetch_add(1, Ordering::AcqRel);
                }
                calls.lock().expect("calls").push((sure, id, result));
            }
        }));
    }
    // Calls to the guard, and tasks: each resolves.
    let hung = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let (stop, hung) = (stop.clone(), hung.clone());
        threads.push(std::thread::spawn(move || {
            for n in 0u64.. {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let pinged = guard.methods().ping().remote().get_timeout(CHAOS_CALL);
                let doubled = chaos::double.remote(n).get_timeout(CHAOS_CALL);
                for (what, timed_out) in [
                    (
                        "a call to the guard",
                        matches!(pinged, Err(ActorError::GetTimeout { .. })),
                    ),
                    (
                        "a task",
                        matches!(doubled, Err(ActorError::GetTimeout { .. })),
                    ),
                ] {
                    if timed_out {
                        hung.lock().expect("hung").push(format!("{what} ({n})"));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }));
    }
    // Items through the channel: those whose send returned `Ok`, and those received.
    let sent_ok = Arc::new(Mutex::new(Vec::<u64>::new()));
    let sent_all = Arc::new(AtomicU64::new(0));
    {
        let (stop, sent_ok, sent_all) = (stop.clone(), sent_ok.clone(), sent_all.clone());
        threads.push(std::thread::spawn(move || {
            let rt = runtime();
            for item in 0u64.. {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                sent_all.store(item + 1, Ordering::Release);
                if rt.block_on(tx.send_timeout(item, CHAOS_CALL)).is_ok() {
                    sent_ok.lock().expect("sent").push(item);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            drop(tx);
        }));
    }
    let received = Arc::new(Mutex::new(Vec::<u64>::new()));
    let receiver = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || {
            let rt = runtime();
            loop {
                match rt.block_on(rx.recv_timeout(Duration::from_secs(2))) {
                    Ok(item) => received.lock().expect("received").push(item),
                    // Drained once the senders stopped.
                    Err(ChannelError::Timeout) if stop.load(Ordering::Acquire) => return,
                    Err(ChannelError::Closed) => return,
                    Err(_) => {}
                }
            }
        })
    };
    let flowing = || {
        let since = Instant::now();
        let from = oks.load(Ordering::Acquire);
        while oks.load(Ordering::Acquire) < from + 20 {
            assert!(since.elapsed() < CHAOS_CALL * 2, "calls did not flow again");
            std::thread::sleep(Duration::from_millis(10));
        }
        say(format!("flowing {}", since.elapsed().as_millis()));
    };
    flowing();
    while next_line().as_deref() == Some("back") {
        flowing();
    }
    stop.store(true, Ordering::Release);
    for thread in threads {
        thread.join().expect("a client thread");
    }
    receiver.join().expect("the receiver");
    // No call hung.
    let hung = hung.lock().expect("hung");
    assert!(hung.is_empty(), "hung: {hung:?}");
    let calls = std::mem::take(&mut *calls.lock().expect("calls"));
    // A read, sent again should a server's loss leave it in doubt.
    let noted: BTreeSet<u64> = tally
        .methods()
        .noted()
        .options(CallOptions::new().max_task_retries(-1))
        .remote()
        .get_timeout(CHAOS_CALL)
        .expect("read the tally")
        .into_iter()
        .collect();
    let mut in_doubt = 0;
    for (sure, id, result) in &calls {
        match result {
            Ok(got) => {
                assert_eq!(got, id);
                assert!(
                    noted.contains(id),
                    "the tally returned Ok for {id} but did not run it"
                );
            }
            Err(ActorError::ActorUnavailable { .. }) if !sure => in_doubt += 1,
            Err(err) => panic!("call {id} (retries: {sure}) failed: {err}"),
        }
    }
    let sent: BTreeSet<u64> = calls.iter().map(|(_, id, _)| *id).collect();
    assert!(noted.is_subset(&sent), "the tally ran calls never sent");
    // No item lost or doubled.
    let received = received.lock().expect("received");
    let unique: BTreeSet<u64> = received.iter().copied().collect();
    assert_eq!(unique.len(), received.len(), "an item was received twice");
    let sent_ok = sent_ok.lock().expect("sent");
    let lost: Vec<&u64> = sent_ok
        .iter()
        .filter(|item| !unique.contains(item))
        .take(5)
        .collect();
    assert!(lost.is_empty(), "sent with Ok, never received: {lost:?}..");
    let sent_all = sent_all.load(Ordering::Acquire);
    assert!(
        unique.iter().all(|item| *item < sent_all),
        "received an item never sent"
    );
    say(format!(
        "checked {} calls ({in_doubt} in doubt), {} items",
        calls.len(),
        received.len()
    ));
}

/// A seeded chaos run, bounded (14 rounds, about a minute): three servers, a node that keeps the channel
/// and a tally, two worker nodes (one hosts a detached guard, which moves when its node dies),
/// and a client doing calls, tasks and channel traffic. Each round loses a server for 0.1 to
/// 1.5 s, or kills a worker with `-9` and starts it again. Afterwards: no call hung, no item
/// lost or doubled, no guard ran twice at once, and the tally agrees with the calls that
/// returned `Ok`. The seed is printed first; `HELIO_CHAOS_SEED` runs it again.
#[test]
fn seeded_chaos_of_servers_and_nodes() {
    let test = "seeded_chaos_of_servers_and_nodes";
    match role().as_deref() {
        Some("keeper") => {
            join_chaos("keeper", true);
            let ends = channel_named::<u64>("chaos", 1000);
            let tally = chaos::Tally::new_actor()
                .options(
                    helio::ActorOptions::new()
                        .name("tally")
                        .lifetime(helio::Lifetime::Detached),
                )
                .remote();
            tally.ready().get().expect("the tally starts");
            say("ready");
            park();
            drop(ends);
            return;
        }
        Some(worker) if worker.starts_with("worker-") => {
            join_chaos(worker, true);
            if worker == "worker-1" {
                // Made at the first start only: it moves to another node when this one dies.
                let guard = chaos::Guard::new_actor()
                    .options(
                        helio::ActorOptions::new()
                            .name("guard")
                            .lifetime(helio::Lifetime::Detached)
                            .get_if_exists(true),
                    )
                    .remote();
                guard.ready().get().expect("the guard starts");
            }
            say("ready");
            return park();
        }
        Some("client") => return chaos_client(),
        _ => {}
    }
    let mut rng = XorShift::seeded();
    let _serial = one_at_a_time();
    let dir = std::env::temp_dir().join(format!("helio-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the chaos dir");
    let dir_env = dir.to_string_lossy().into_owned();
    let env = [(chaos::DIR, dir_env.as_str())];
    let mut nats = NatsCluster::start(3);
    let url = nats.url.clone();
    let start = |role: &str| {
        let mut proc = Proc::start_env(test, role, &url, &env);
        proc.expect_within("ready", CHAOS_CALL);
        proc
    };
    let _keeper = start("keeper");
    let mut workers = [start("worker-1"), start("worker-2")];
    let mut client = start_client(test, &url, &env);
    for round in 0..14 {
        // Traffic for a while (0.2 to 1 s), then the next loss.
        std::thread::sleep(Duration::from_millis(200 + rng.next() % 800));
        match rng.next() % 3 {
            0 | 1 => {
                let victim = (rng.next() % 3) as usize;
                let outage = Duration::from_millis(100 + rng.next() % 1400);
                println!("round {round}: server s{victim} lost for {outage:?}");
                nats.kill(victim);
                std::thread::sleep(outage);
                nats.restart(victim);
            }
            _ => {
                let victim = (rng.next() % 2) as usize;
                println!(
                    "round {round}: worker-{} killed and started again",
                    victim + 1
                );
                workers[victim].kill();
                // Started again as a node that does not make the guard: the guard may still
                // be recorded on the process just killed, not yet found dead.
                workers[victim] = start(&format!("worker-{}-again", victim + 1));
            }
        }
        client.tell("back");
        let after = client.expect_within("flowing", CHAOS_CALL * 3);
        println!("calls flowed again {after} ms after");
    }
    client.tell("stop");
    let checked = client.expect_within("checked", CHAOS_CALL * 4);
    println!("{checked}");
    client.succeeds();
    let violations = std::fs::read_to_string(chaos_violations(&dir)).unwrap_or_default();
    assert!(
        violations.is_empty(),
        "a guard ran twice at once:\n{violations}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the chaos client and waits until its calls flow.
fn start_client(test: &str, url: &str, env: &[(&str, &str)]) -> Proc {
    let mut client = Proc::start_env(test, "client", url, env);
    client.expect_within("flowing", CHAOS_CALL * 3);
    client
}

fn chaos_violations(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("violations")
}
