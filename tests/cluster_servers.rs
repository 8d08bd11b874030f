//! No single point of failure: helio on a NATS cluster of three servers (JetStream replicated
//! three ways) carries on when any one server is killed with `-9`. Each test starts its own
//! servers on free ports; every wait is bounded.

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{NatsCluster, Proc, next_line, park, role, say, url};
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
