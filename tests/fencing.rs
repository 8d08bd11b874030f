//! Fencing across processes: a node cut off from the NATS server stops its detached actors, so
//! that no actor ever runs twice. Each test starts its own `nats-server` and re-runs this
//! binary as child processes in roles (`HELIO_TEST_ROLE`), which talk back on stdout.
//!
//! Every process hosts a `Probe` that counts the live `Keeper` instances in it: the tests add
//! the counts of all processes up.

mod cluster_support;

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use cluster_support::{Nats, Proc, Relay, role, say, url};
use helio::prelude::*;

/// The `Keeper` instances alive in this process.
static LIVE: AtomicU32 = AtomicU32::new(0);

/// A detached actor with state: a restart is seen as its value going back to `start`.
pub struct Keeper {
    value: i64,
}

#[actor]
impl Keeper {
    pub fn new(start: i64) -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Keeper { value: start }
    }

    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    #[remote_method]
    pub fn pid(&self) -> u32 {
        std::process::id()
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Says how many `Keeper`s are alive in its process.
pub struct Probe;

#[actor]
impl Probe {
    pub fn new() -> Self {
        Probe
    }

    #[remote_method]
    pub fn live(&self) -> u32 {
        LIVE.load(Ordering::SeqCst)
    }
}

const WAIT: Duration = Duration::from_secs(20);
const ROLES: [&str; 3] = ["host", "standby", "caller"];
const NAME: &str = "kept";

/// Joins as `role`, with a `Probe` named `probe-<role>`.
fn join(role: &str) -> Actor<Probe> {
    helio::init(helio::Config::cluster(url()).node_name(role)).expect("join the cluster");
    helio::register::<Keeper>();
    helio::register::<Probe>();
    Probe::new_actor()
        .options(ActorOptions::new().name(format!("probe-{role}")))
        .remote()
}

/// The host: creates the detached `Keeper`, says `ready <pid>`, then calls it through its
/// local handle until the fence stops it, and says `fenced`. Returns its probe.
fn host() -> Actor<Probe> {
    let probe = join("host");
    // Where the standby starts first (the cut-off test), a call to it shows that calls made
    // while cut off fail at once.
    let standby = helio::get_actor::<Probe>("probe-standby").ok();
    let keeper = Keeper::new_actor()
        .options(
            ActorOptions::new()
                .name(NAME)
                .lifetime(Lifetime::Detached)
                .max_restarts(2),
        )
        .remote(100);
    keeper.ready().get_timeout(WAIT).expect("the keeper starts");
    say(format!("ready {}", std::process::id()));
    let start = Instant::now();
    loop {
        match keeper.methods().add().remote(0).get_timeout(WAIT) {
            Ok(_) => assert!(start.elapsed() < WAIT * 3, "never fenced"),
            Err(ActorError::ActorDied {
                cause: DeathCause::Fenced,
                ..
            }) => break,
            Err(other) => panic!("unexpected {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    say("fenced");
    if let Some(standby) = standby {
        // Cut off, a call to another node fails at once: no reply could come.
        let asked = Instant::now();
        match standby.methods().live().remote().get_timeout(WAIT) {
            Err(ActorError::ActorUnavailable { message, .. }) => {
                assert!(message.contains("cut off"), "{message}");
            }
            other => panic!("a call while cut off: {other:?}"),
        }
        assert!(
            asked.elapsed() < WAIT / 2,
            "the call was not refused at once"
        );
        say("refused");
    }
    probe
}

/// A node that may restart the keeper: says `ready <pid>` and stays.
fn stand_by() {
    let _probe = join("standby");
    say(format!("ready {}", std::process::id()));
    cluster_support::park();
}

/// Calls `keeper` until it answers again (bounded), and returns the pid that served it.
fn served_again(keeper: &Actor<Keeper>) -> u32 {
    let start = Instant::now();
    loop {
        match keeper.methods().pid().remote().get_timeout(WAIT) {
            Ok(pid) => return pid,
            Err(err) => assert!(
                start.elapsed() < WAIT * 2,
                "the keeper was not served again within {:?}: {err}",
                WAIT * 2
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The live `Keeper`s of the processes `roles`, added up.
fn live_in(roles: &[&str]) -> u32 {
    roles
        .iter()
        .map(|role| {
            let probe = helio::get_actor::<Probe>(&format!("probe-{role}"))
                .unwrap_or_else(|err| panic!("the probe of {role}: {err}"));
            probe.methods().live().remote().get_timeout(WAIT).unwrap()
        })
        .sum()
}

/// The caller: finds the keeper and says `ready`; then, at each line from the parent:
/// - `served`: waits for the keeper to be served again, checks that its constructor re-ran
///   once and that one copy lives among the processes the cluster reaches, and says
///   `served-by <pid>`;
/// - `still <pid>`: checks, for twice the node timeout, that the keeper is served by `pid`
///   alone, and says `still-one`.
fn caller() {
    let _probe = join("caller");
    let keeper = helio::get_actor::<Keeper>(NAME).expect("find the keeper");
    assert_eq!(
        keeper.methods().add().remote(1).get_timeout(WAIT).unwrap(),
        101
    );
    say("ready");
    while let Some(line) = cluster_support::next_line() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("served"), reachable) => {
                let pid = served_again(&keeper);
                // The constructor ran again: a restart, counted against `max_restarts`.
                assert_eq!(
                    keeper.methods().add().remote(0).get_timeout(WAIT).unwrap(),
                    100
                );
                assert_eq!(keeper.restarts(), 1);
                let roles: Vec<&str> = match reachable {
                    Some("without-host") => vec!["standby", "caller"],
                    _ => ROLES.to_vec(),
                };
                assert_eq!(live_in(&roles), 1, "one live copy of the keeper");
                say(format!("served-by {pid}"));
            }
            (Some("still"), Some(pid)) => {
                // The host is back and rechecks what it stopped: watch long enough for a
                // wrong restart there to show (twice the default node timeout).
                // The host counts its own copies (none): the cluster declared it dead while it
                // was cut off, so its probe, which could not run elsewhere, is dead to the
                // cluster too.
                let until = Instant::now() + Duration::from_secs(6);
                while Instant::now() < until {
                    let served_by = keeper.methods().pid().remote().get_timeout(WAIT).unwrap();
                    assert_eq!(served_by.to_string(), pid, "the keeper moved again");
                    assert_eq!(
                        live_in(&["standby", "caller"]),
                        1,
                        "one live copy of the keeper"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                assert_eq!(keeper.restarts(), 1);
                say("still-one");
            }
            _ => return,
        }
    }
}

/// The host, after the fence: waits until it reaches the cluster again (the keeper, served
/// by another node, answers it), and says `back`; then checks that no copy of the keeper
/// starts here while the caller watches, and says `none-here`.
fn host_comes_back() {
    let start = Instant::now();
    loop {
        let answered = helio::get_actor::<Keeper>(NAME)
            .ok()
            .and_then(|keeper| keeper.methods().pid().remote().get_timeout(WAIT).ok());
        if answered.is_some_and(|pid| pid != std::process::id()) {
            break;
        }
        assert!(start.elapsed() < WAIT * 2, "not back within {:?}", WAIT * 2);
        std::thread::sleep(Duration::from_millis(50));
    }
    say("back");
    // Watch as long as the caller does (twice the node timeout): no copy starts here.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        assert_eq!(
            LIVE.load(Ordering::SeqCst),
            0,
            "a second copy runs on the host"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    say("none-here");
    cluster_support::park();
}

fn role_main(test: &str) -> bool {
    match role().as_deref() {
        Some("host") => {
            let _probe = host();
            if test == "moved" {
                host_comes_back();
            }
            cluster_support::park();
        }
        Some("standby") => stand_by(),
        Some("caller") => caller(),
        _ => return false,
    }
    true
}

/// Cluster issue II, fencing: the server stops and starts again (every node is cut off at
/// once). The host stops its detached actor while cut off; once back, the actor starts
/// again (on its host, or on a node that came back sooner and restarted it), and one copy
/// lives.
#[test]
fn a_server_restart_leaves_one_copy_of_a_detached_actor() {
    if role_main("restart") {
        return;
    }
    let test = "a_server_restart_leaves_one_copy_of_a_detached_actor";
    let mut nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    let host_pid = host.expect("ready");
    let mut standby = Proc::start(test, "standby", &nats.url);
    standby.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("ready");
    let cut = Instant::now();
    nats.kill();
    host.expect("fenced");
    println!(
        "the host stopped its actor {} ms after the server died",
        cut.elapsed().as_millis()
    );
    nats.restart();
    let back = Instant::now();
    caller.tell("served");
    let pid = caller.expect("served-by");
    let by = if pid == host_pid {
        "its host"
    } else {
        "another node"
    };
    println!(
        "served again by {by}, {} ms after the server came back",
        back.elapsed().as_millis()
    );
    caller.close_stdin();
    caller.succeeds();
}

/// Cluster issue II, fencing: one node alone loses the server (its connection goes through a
/// relay that the test cuts). It stops its detached actor; another node restarts it; once the
/// node is back, its copy stays stopped, and one copy lives.
#[test]
fn a_node_cut_off_alone_does_not_run_a_second_copy() {
    if role_main("moved") {
        return;
    }
    let test = "a_node_cut_off_alone_does_not_run_a_second_copy";
    let nats = Nats::start();
    let relay = Relay::to(&nats.url);
    let mut standby = Proc::start(test, "standby", &nats.url);
    standby.expect("ready");
    let mut host = Proc::start(test, "host", &relay.url);
    let host_pid = host.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("ready");
    let cut = Instant::now();
    relay.cut();
    host.expect("fenced");
    let fenced_after = cut.elapsed();
    host.expect("refused");
    caller.tell("served without-host");
    let pid = caller.expect("served-by");
    assert_ne!(pid, host_pid, "served by the node that is cut off");
    println!(
        "the host stopped its actor {} ms after the cut; another node served it {} ms after",
        fenced_after.as_millis(),
        cut.elapsed().as_millis()
    );
    relay.mend();
    host.expect("back");
    caller.tell(format!("still {pid}"));
    caller.expect("still-one");
    host.expect("none-here");
    caller.close_stdin();
    caller.succeeds();
}
