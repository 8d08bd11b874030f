//! No single point of failure: helio on a NATS cluster of three servers (JetStream replicated
//! three ways) carries on when any one server is killed with `-9`; and across a server's
//! restart (one server, or one of three, or a seeded run of them), every call in flight
//! resolves, and what ran agrees with what returned. Each test starts its own servers on free
//! ports; every wait is bounded.

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{
    NatsCluster, Proc, XorShift, next_line, one_at_a_time, park, role, say, url,
};
use helio::prelude::*;

/// How long, after a server is killed, everything may take to work again.
const AGAIN: Duration = Duration::from_secs(10);
/// The bound on one call.
const CALL: Duration = Duration::from_secs(2);

/// Counts the calls it served, from the start: a restart would begin again at 0.
pub struct Counter {
    count: u64,
}

#[actor]
impl Counter {
    pub fn new() -> Self {
        Counter { count: 0 }
    }

    /// One more; the count.
    #[remote_method]
    pub fn add(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    /// Whether this actor was restarted.
    #[remote_method]
    pub fn restarted(&self) -> bool {
        helio::was_current_actor_reconstructed()
    }
}

/// Twice `x`, on the host (the client hosts nothing).
#[remote]
fn double(x: u64) -> u64 {
    2 * x
}

fn join(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url()).node_name(name).host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register::<Counter>();
    helio::register_task(&double);
}

/// Runs `op` until it works, for at most `AGAIN` from `since`; what it gave.
#[track_caller]
fn again<T>(what: &str, since: Instant, mut op: impl FnMut() -> Result<T, String>) -> T {
    loop {
        match op() {
            Ok(value) => return value,
            Err(err) => {
                assert!(
                    since.elapsed() < AGAIN,
                    "{what} still fails {AGAIN:?} after the server was killed: {err}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The host: a detached counter named `counter`.
fn host() {
    join("host", true);
    let counter = Counter::new_actor()
        .options(
            ActorOptions::new()
                .name("counter")
                .lifetime(Lifetime::Detached),
        )
        .remote();
    counter
        .ready()
        .get_timeout(CALL * 5)
        .expect("the counter starts");
    say("ready");
    // After each kill: the actor the client made is found from here.
    while let Some(line) = next_line() {
        let Some(name) = line.strip_prefix("find ") else {
            break;
        };
        let since = Instant::now();
        let made = again("finding the client's new actor", since, || {
            helio::get_actor::<Counter>(name).map_err(|err| err.to_string())
        });
        again("calling it", since, || {
            made.methods()
                .add()
                .remote()
                .get_timeout(CALL)
                .map_err(|err| err.to_string())
        });
        say("found");
    }
    park();
}

/// The client: works before the kill, and within `AGAIN` after each.
fn client() {
    join("client", false);
    let counter = helio::get_actor::<Counter>("counter").expect("find the counter");
    let before = counter
        .methods()
        .add()
        .remote()
        .get_timeout(CALL)
        .expect("a call before");
    assert_eq!(before, 1);
    let me = helio::current_node().expect("in the cluster");
    let host_node = helio::nodes()
        .into_iter()
        .find(|node| node.name == "host")
        .expect("the host is listed")
        .id;
    say("before");
    let mut count = before;
    while let Some(line) = next_line() {
        let Some(round) = line.strip_prefix("killed ") else {
            break;
        };
        count = works_again(&counter, round, count);
        for (name, node) in [("host", host_node), ("client", me)] {
            assert!(!helio::is_node_dead(node), "{name} was declared dead");
        }
        say("after");
    }
}

/// Within `AGAIN`: a call to `counter` (whose count was `count`; the new count), a new named
/// actor `made-<round>`, a task, and `helio::nodes()` with both nodes alive; and the counter
/// was not restarted.
fn works_again(counter: &Actor<Counter>, round: &str, count: u64) -> u64 {
    let since = Instant::now();
    let now = again("a call to the counter", since, || {
        counter
            .methods()
            .add()
            .remote()
            .get_timeout(CALL)
            .map_err(|err| err.to_string())
    });
    assert!(now > count, "the count went on: {count} then {now}");
    let name = format!("made-{round}");
    let made = again("a new named actor", since, || {
        let made = Counter::new_actor()
            .options(
                ActorOptions::new()
                    .name(name.as_str())
                    .lifetime(Lifetime::Detached)
                    .get_if_exists(true),
            )
            .remote();
        made.ready()
            .get_timeout(CALL)
            .map(|_| made)
            .map_err(|err| err.to_string())
    });
    drop(made);
    let doubled = again("a task", since, || {
        double
            .remote(21)
            .get_timeout(CALL)
            .map_err(|err| err.to_string())
    });
    assert_eq!(doubled, 42);
    let nodes = again("helio::nodes()", since, || {
        let nodes: Vec<(String, helio::NodeState)> = helio::nodes()
            .into_iter()
            .map(|node| (node.name.clone(), node.state))
            .collect();
        let alive = |name: &str| {
            nodes
                .iter()
                .any(|(n, state)| n == name && *state == helio::NodeState::Alive)
        };
        if alive("host") && alive("client") {
            Ok(nodes)
        } else {
            Err(format!("the nodes are {nodes:?}"))
        }
    });
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    let restarted = counter
        .methods()
        .restarted()
        .remote()
        .get_timeout(CALL)
        .expect("ask the counter");
    assert!(!restarted, "the counter was restarted");
    now
}

/// Starts three servers, the host and the client; kills servers `victims` with `-9` one
/// after another (bringing each back before the next is killed), and checks after each kill
/// that everything works again within `AGAIN`.
fn lose(test: &str, victims: &[usize]) {
    let _serial = one_at_a_time();
    let mut nats = NatsCluster::start(3);
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut client = Proc::start(test, "client", &nats.url);
    client.expect("before");
    let mut back: Option<usize> = None;
    for (round, &victim) in victims.iter().enumerate() {
        if let Some(server) = back.take() {
            nats.restart(server);
        }
        nats.kill(victim);
        client.tell(format!("killed {round}"));
        client.expect_within("after", AGAIN * 3);
        host.tell(format!("find made-{round}"));
        host.expect_within("found", AGAIN * 2);
        back = Some(victim);
    }
    client.tell("done");
    client.succeeds();
}

#[test]
fn losing_the_first_server_is_survived() {
    let test = "losing_the_first_server_is_survived";
    match role().as_deref() {
        Some("host") => host(),
        Some("client") => client(),
        _ => lose(test, &[0]),
    }
}

#[test]
fn losing_the_second_server_is_survived() {
    let test = "losing_the_second_server_is_survived";
    match role().as_deref() {
        Some("host") => host(),
        Some("client") => client(),
        _ => lose(test, &[1]),
    }
}

#[test]
fn losing_the_third_server_is_survived() {
    let test = "losing_the_third_server_is_survived";
    match role().as_deref() {
        Some("host") => host(),
        Some("client") => client(),
        _ => lose(test, &[2]),
    }
}

/// A server killed and brought back; then a second one killed.
#[test]
fn a_server_lost_and_back_then_another_lost_is_survived() {
    let test = "a_server_lost_and_back_then_another_lost_is_survived";
    match role().as_deref() {
        Some("host") => host(),
        Some("client") => client(),
        _ => lose(test, &[0, 1]),
    }
}

/// The registry's stream, made with one replica by a process configured so, is raised to
/// three when a process with the default (a NATS cluster of three) joins.
#[test]
fn a_registry_made_with_one_replica_is_raised_to_three() {
    let test = "a_registry_made_with_one_replica_is_raised_to_three";
    match role().as_deref() {
        Some(replicas) if replicas.starts_with("replicas-") => {
            let mut config = helio::Config::cluster(url()).node_name(replicas);
            if replicas == "replicas-1" {
                config = config.replicas(1);
            }
            helio::init(config).expect("join the cluster");
            say("joined");
            return;
        }
        _ => {}
    }
    let _serial = one_at_a_time();
    let nats = NatsCluster::start(3);
    let replicas = || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let client = helio::__private::async_nats::connect(nats.servers[0].url.as_str())
                .await
                .expect("connect");
            let js = helio::__private::async_nats::jetstream::new(client);
            let mut stream = js.get_stream("KV_helio-helio").await.expect("the stream");
            stream.info().await.expect("its info").config.num_replicas
        })
    };
    let mut one = Proc::start(test, "replicas-1", &nats.url);
    one.expect("joined");
    one.succeeds();
    assert_eq!(replicas(), 1, "made with one replica, as configured");
    let mut three = Proc::start(test, "replicas-3", &nats.url);
    three.expect("joined");
    three.succeeds();
    assert_eq!(replicas(), 3, "raised to three by the default");
}

/// How long one call in flight across a server's restart may take to resolve.
const RESOLVED_WITHIN: Duration = Duration::from_secs(20);
/// The node timeout of the restart test: above its outages, so that nothing is fenced.
const RIDE_OUT: Duration = Duration::from_secs(10);

/// Notes the id of each call it runs.
pub struct Ledger {
    ids: std::collections::BTreeSet<u64>,
}

#[actor]
impl Ledger {
    pub fn new() -> Self {
        Ledger {
            ids: std::collections::BTreeSet::new(),
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

fn join_riding_out(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url())
        .node_name(name)
        .host(hosts)
        .node_timeout(RIDE_OUT);
    helio::init(config).expect("join the cluster");
    helio::register::<Ledger>();
    helio::register_task(&double);
}

/// The restart test's host: two detached ledgers, `sure` (whose calls the client sends with
/// retries) and `once` (without).
fn ledger_host() {
    join_riding_out("host", true);
    let ledgers: Vec<Actor<Ledger>> = ["sure", "once"]
        .into_iter()
        .map(|name| {
            Ledger::new_actor()
                .options(ActorOptions::new().name(name).lifetime(Lifetime::Detached))
                .remote()
        })
        .collect();
    for ledger in &ledgers {
        ledger
            .ready()
            .get_timeout(CALL * 5)
            .expect("a ledger starts");
    }
    say("ready");
    park();
}

/// What became of one call of the restart test's client.
struct Outcome {
    /// To `sure` (with retries), else to `once`.
    sure: bool,
    id: u64,
    result: Result<u64, ActorError>,
}

/// The restart test's client: callers that never stop, each call bounded, across the
/// server's restarts; then the checks.
fn ledger_client() {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    };
    join_riding_out("client", false);
    let sure = helio::get_actor::<Ledger>("sure").expect("find sure");
    let once = helio::get_actor::<Ledger>("once").expect("find once");
    let stop = Arc::new(AtomicBool::new(false));
    let oks = Arc::new(AtomicU64::new(0));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let tasks = Arc::new(Mutex::new(Vec::<Result<u64, ActorError>>::new()));
    let mut callers = Vec::new();
    for caller in 0..4u64 {
        let (sure, once) = (sure.clone(), once.clone());
        let (stop, oks, outcomes) = (stop.clone(), oks.clone(), outcomes.clone());
        callers.push(std::thread::spawn(move || {
            for n in 0u64.. {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let id = caller * 1_000_000 + n;
                let to_sure = n % 2 == 0;
                let call = if to_sure {
                    sure.methods()
                        .note()
                        .options(CallOptions::new().max_task_retries(-1))
                        .remote(id)
                } else {
                    once.methods().note().remote(id)
                };
                let result = call.get_timeout(RESOLVED_WITHIN);
                // A steady flow, not a flood: the servers and the other processes share
                // this machine's cores.
                std::thread::sleep(Duration::from_millis(1));
                if result.is_ok() {
                    oks.fetch_add(1, Ordering::AcqRel);
                }
                let outcome = Outcome {
                    sure: to_sure,
                    id,
                    result,
                };
                outcomes.lock().expect("outcomes").push(outcome);
            }
        }));
    }
    {
        let (stop, tasks) = (stop.clone(), tasks.clone());
        callers.push(std::thread::spawn(move || {
            for n in 0u64.. {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let result = double.remote(n).get_timeout(RESOLVED_WITHIN);
                std::thread::sleep(Duration::from_millis(1));
                tasks.lock().expect("tasks").push(result);
            }
        }));
    }
    // Calls flow before each kill, and again after each restart, within the node timeout.
    let flowing = |what: &str| {
        let since = Instant::now();
        let from = oks.load(Ordering::Acquire);
        while oks.load(Ordering::Acquire) < from + 20 {
            assert!(
                since.elapsed() < RIDE_OUT + RESOLVED_WITHIN,
                "calls did not succeed again {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        say(format!("flowing {}", since.elapsed().as_millis()));
    };
    flowing("at the start");
    while let Some(line) = next_line() {
        if line != "back" {
            break;
        }
        flowing("after the server came back");
    }
    stop.store(true, Ordering::Release);
    for caller in callers {
        caller.join().expect("a caller thread");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().expect("outcomes"));
    let tasks = std::mem::take(&mut *tasks.lock().expect("tasks"));
    // No call hung; each call with retries succeeded; one without succeeded or failed as
    // in doubt.
    let mut in_doubt = 0;
    for outcome in &outcomes {
        match &outcome.result {
            Ok(id) => assert_eq!(*id, outcome.id),
            Err(ActorError::ActorUnavailable { .. }) if !outcome.sure => in_doubt += 1,
            Err(err) => panic!(
                "call {} to {} failed: {err}",
                outcome.id,
                if outcome.sure { "sure" } else { "once" }
            ),
        }
    }
    for (n, task) in tasks.iter().enumerate() {
        match task {
            Ok(doubled) => assert_eq!(*doubled, 2 * n as u64),
            Err(ActorError::GetTimeout { .. }) => panic!("task {n} hung: {task:?}"),
            Err(err) => say(format!("note task {n} failed: {err}")),
        }
    }
    // What the ledgers ran agrees with what returned: every call that returned `Ok` ran, and
    // nothing ran that was not sent.
    for (name, ledger, is_sure) in [("sure", &sure, true), ("once", &once, false)] {
        // A read, sent again should a server's loss leave it in doubt.
        let noted: std::collections::BTreeSet<u64> = ledger
            .methods()
            .noted()
            .options(CallOptions::new().max_task_retries(-1))
            .remote()
            .get_timeout(CALL * 5)
            .expect("read a ledger")
            .into_iter()
            .collect();
        let sent: std::collections::BTreeSet<u64> = outcomes
            .iter()
            .filter(|outcome| outcome.sure == is_sure)
            .map(|outcome| outcome.id)
            .collect();
        for outcome in outcomes.iter().filter(|o| o.sure == is_sure) {
            if outcome.result.is_ok() {
                assert!(
                    noted.contains(&outcome.id),
                    "{name} returned Ok for {} but did not run it",
                    outcome.id
                );
            }
        }
        assert!(noted.is_subset(&sent), "{name} ran calls never sent");
    }
    say(format!(
        "checked {} calls ({in_doubt} in doubt, failed), {} tasks",
        outcomes.len(),
        tasks.len()
    ));
}

/// One server, killed with `-9` and started again on the same port and store a second later,
/// three times, with calls, calls with retries and tasks in flight: every call resolves
/// within a bound, one with retries succeeds, and calls succeed again within the node timeout
/// of the server's return. Both processes lose their connection.
#[test]
fn a_server_restart_leaves_no_call_hanging() {
    let test = "a_server_restart_leaves_no_call_hanging";
    match role().as_deref() {
        Some("host") => return ledger_host(),
        Some("client") => return ledger_client(),
        _ => {}
    }
    let _serial = one_at_a_time();
    let mut nats = cluster_support::Nats::start();
    let url = nats.url.clone();
    ride_out(test, &url, &url, 3, |_| {
        nats.kill();
        // The outage this test rides out.
        std::thread::sleep(Duration::from_secs(1));
        nats.restart();
    });
}

/// As [`a_server_restart_leaves_no_call_hanging`], on three servers, where only the host's
/// server is lost (the client's stays): the calls and replies lost in it are found in doubt
/// from the host's heartbeats, which tell that its connection was lost.
#[test]
fn a_lost_server_under_the_host_alone_leaves_no_call_hanging() {
    let test = "a_lost_server_under_the_host_alone_leaves_no_call_hanging";
    match role().as_deref() {
        Some("host") => return ledger_host(),
        Some("client") => return ledger_client(),
        _ => {}
    }
    let _serial = one_at_a_time();
    let mut nats = NatsCluster::start(3);
    let (host, client) = (nats.servers[0].url.clone(), nats.servers[1].url.clone());
    ride_out(test, &host, &client, 3, |_| {
        nats.kill(0);
        std::thread::sleep(Duration::from_secs(1));
        nats.restart(0);
    });
}

/// Starts the ledger host on `host_url` and its client on `client_url`; `rounds` times, lets
/// `outage` (given the round) happen while calls flow, and waits for them to flow again;
/// then has the client check what came of every call.
fn ride_out(
    test: &str,
    host_url: &str,
    client_url: &str,
    rounds: usize,
    mut outage: impl FnMut(usize),
) {
    let mut host = Proc::start(test, "host", host_url);
    host.expect("ready");
    let mut client = Proc::start(test, "client", client_url);
    client.expect_within("flowing", RIDE_OUT + RESOLVED_WITHIN * 2);
    for round in 0..rounds {
        outage(round);
        client.tell("back");
        let after = client.expect_within("flowing", RIDE_OUT + RESOLVED_WITHIN * 2);
        println!("calls flowed again {after} ms after the server came back");
    }
    client.tell("stop");
    let checked = client.expect_within("checked", RESOLVED_WITHIN * 3);
    println!("{checked}");
    client.succeeds();
}

/// A seeded run of server outages on a NATS cluster of three: each round kills a server
/// chosen at random with `-9`, brings it back after a random outage (0.1 to 1.5 s), and
/// waits for calls to flow again. The host and the client know all three servers. Every
/// call resolves, and what the ledgers ran agrees with what returned (`ledger_client`). Set
/// `HELIO_CHAOS_SEED` to run a seed again; the seed is printed first.
#[test]
fn seeded_server_chaos_on_three_servers_leaves_no_call_hanging() {
    let test = "seeded_server_chaos_on_three_servers_leaves_no_call_hanging";
    match role().as_deref() {
        Some("host") => return ledger_host(),
        Some("client") => return ledger_client(),
        _ => {}
    }
    let mut rng = XorShift::seeded();
    let _serial = one_at_a_time();
    let mut nats = NatsCluster::start(3);
    let url = nats.url.clone();
    ride_out(test, &url, &url, 10, |round| {
        let victim = (rng.next() % 3) as usize;
        let outage = Duration::from_millis(100 + rng.next() % 1400);
        println!("round {round}: server s{victim} lost for {outage:?}");
        nats.kill(victim);
        std::thread::sleep(outage);
        nats.restart(victim);
    });
}
