//! Tasks across processes: a registered `#[remote]` fn runs on a node that registered it, its
//! errors come back, and when its node is SIGKILLed mid-run it runs again on another node
//! (or fails with `NodeDied` when it may not). Each test starts its own `nats-server` and
//! re-runs this binary in roles (`HELIO_TEST_ROLE`) that talk back on stdout.

mod cluster_support;

use std::time::Duration;

use cluster_support::{Nats, Proc, park, role, say, url};
use helio::{ActorError, DeathCause, prelude::*};

/// Any single wait in a child.
const WAIT: Duration = Duration::from_secs(20);

#[remote]
fn pid_of_runner(x: u64) -> (u32, u64) {
    (std::process::id(), 2 * x)
}

#[remote]
fn fails(x: u64) -> u64 {
    panic!("failed on {x}")
}

/// Says `running` and never returns on a node that runs it with `stall`; elsewhere returns
/// the pid of the process that ran it. (No CPUs: both stall at once on any machine.)
#[remote(num_cpus = 0)]
fn stalls(stall: bool) -> u32 {
    if stall && std::env::var("HELIO_TEST_ROLE").as_deref() == Ok("staller") {
        say("running");
        park();
    }
    std::process::id()
}

/// Says `started`, then waits forever; says `dropped` when its future is dropped (a cancel).
#[remote(num_cpus = 0)]
async fn hangs() -> u32 {
    struct Said;
    impl Drop for Said {
        fn drop(&mut self) {
            say("dropped");
        }
    }
    let _said = Said;
    say("started");
    std::future::pending::<()>().await;
    0
}

fn join(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url()).node_name(name).host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register_task(&pid_of_runner);
    helio::register_task(&fails);
    helio::register_task(&stalls);
    helio::register_task(&hangs);
}

#[test]
fn cancelling_a_task_stops_it_on_the_node_that_runs_it() {
    match role().as_deref() {
        Some("worker") => {
            join("worker", true);
            say("ready");
            return park();
        }
        Some("client") => {
            join("client", false);
            let hanging = hangs.remote();
            say("sent");
            let _ = cluster_support::next_line(); // it started on the worker
            assert!(hanging.cancel());
            assert!(matches!(
                hanging.get_timeout(WAIT),
                Err(ActorError::Cancelled { .. })
            ));
            say("done");
            // Stays until the worker dropped it: the cancel goes out from this process.
            let _ = cluster_support::next_line();
            return;
        }
        _ => {}
    }
    let test = "cancelling_a_task_stops_it_on_the_node_that_runs_it";
    let nats = Nats::start();
    let mut worker = Proc::start(test, "worker", &nats.url);
    worker.expect("ready");
    let mut client = Proc::start(test, "client", &nats.url);
    client.expect("sent");
    worker.expect("started");
    client.tell("started");
    client.expect("done");
    worker.expect("dropped");
    client.tell("bye");
    client.succeeds();
}

#[test]
fn a_registered_task_runs_on_a_node_that_registered_it_and_its_errors_come_back() {
    match role().as_deref() {
        Some("worker") => {
            join("worker", true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("client") => {
            join("client", false);
            let (pid, doubled) = pid_of_runner.remote(21).get_timeout(WAIT).unwrap();
            assert_eq!(doubled, 42);
            assert_ne!(pid, std::process::id(), "a client-only process ran it");
            say(format!("ran-on {pid}"));
            // Refs as arguments resolve here first; a chain crosses twice.
            let first = pid_of_runner.remote(1);
            let (_, four) = pid_of_runner
                .remote(helio::get(first).unwrap().1)
                .get_timeout(WAIT)
                .unwrap();
            assert_eq!(four, 4);
            match fails.remote(7).get_timeout(WAIT) {
                Err(ActorError::TaskPanicked { message, actor, .. }) => {
                    assert_eq!(message, "failed on 7");
                    assert!(actor.is_task());
                }
                other => panic!("{other:?}"),
            }
            say("done");
            return;
        }
        _ => {}
    }
    let test = "a_registered_task_runs_on_a_node_that_registered_it_and_its_errors_come_back";
    let nats = Nats::start();
    let mut worker = Proc::start(test, "worker", &nats.url);
    let worker_pid: u32 = worker.expect("ready").parse().unwrap();
    let mut client = Proc::start(test, "client", &nats.url);
    let ran_on: u32 = client.expect("ran-on").parse().unwrap();
    assert_eq!(ran_on, worker_pid);
    client.expect("done");
    client.succeeds();
}

#[test]
fn a_task_whose_node_is_killed_runs_again_elsewhere_or_fails_with_node_died() {
    match role().as_deref() {
        Some("staller") | Some("spare") => {
            join(role().as_deref().unwrap_or("?"), true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("client") => {
            join("client", false);
            // Only the staller serves tasks yet: it takes both.
            let retried = stalls.remote(true);
            let not_retried = stalls
                .options(TaskOptions::new().max_retries(0))
                .remote(true);
            say("sent");
            let pid = retried.get_timeout(WAIT).expect("ran again elsewhere");
            say(format!("ran-on {pid}"));
            match not_retried.get_timeout(WAIT) {
                Err(err @ ActorError::ActorDied { .. }) => {
                    assert!(
                        matches!(
                            &err,
                            ActorError::ActorDied {
                                cause: DeathCause::NodeDied(_),
                                ..
                            }
                        ),
                        "{err:?}"
                    );
                    assert!(err.to_string().contains("no retries left"), "{err}");
                }
                other => panic!("{other:?}"),
            }
            say("done");
            return;
        }
        _ => {}
    }
    let test = "a_task_whose_node_is_killed_runs_again_elsewhere_or_fails_with_node_died";
    let nats = Nats::start();
    let mut staller = Proc::start(test, "staller", &nats.url);
    staller.expect("ready");
    let mut client = Proc::start(test, "client", &nats.url);
    client.expect("sent");
    staller.expect("running");
    staller.expect("running");
    // A spare joins, then the staller dies mid-run.
    let mut spare = Proc::start(test, "spare", &nats.url);
    let spare_pid: u32 = spare.expect("ready").parse().unwrap();
    staller.kill();
    let ran_on: u32 = client.expect("ran-on").parse().unwrap();
    assert_eq!(ran_on, spare_pid);
    client.expect("done");
    client.succeeds();
}

#[test]
fn a_task_no_node_runs_is_unavailable() {
    if role().as_deref() == Some("client") {
        join("client", false);
        match pid_of_runner.remote(1).get_timeout(WAIT) {
            Err(ActorError::ActorUnavailable { message, .. }) => {
                assert!(message.contains("register_task"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        say("done");
        return;
    }
    let test = "a_task_no_node_runs_is_unavailable";
    let nats = Nats::start();
    let mut client = Proc::start(test, "client", &nats.url);
    client.expect("done");
    client.succeeds();
}

#[test]
fn a_task_taken_by_a_node_that_never_answers_fails_instead_of_hanging() {
    if role().as_deref() == Some("client") {
        // A black hole takes every task (as a node that dies as it takes one): it never acks.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _hole = rt.block_on(async {
            let client = helio::__private::async_nats::connect(url())
                .await
                .expect("connect");
            let hole = client.subscribe("helio.*.task.*").await.expect("subscribe");
            client.flush().await.expect("flush");
            (client, hole)
        });
        join("client", false);
        // A task that asks for nothing goes to whichever node takes it (one that asks for
        // resources would go only to a node that reported room, which the hole never does).
        match stalls.remote(false).get_timeout(WAIT) {
            Err(ActorError::ActorUnavailable { message, .. }) => {
                assert!(message.contains("no node acknowledged"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        say("done");
        return;
    }
    let test = "a_task_taken_by_a_node_that_never_answers_fails_instead_of_hanging";
    let nats = Nats::start();
    let mut client = Proc::start(test, "client", &nats.url);
    client.expect("done");
    client.succeeds();
}

/// An actor that asks for a GPU.
pub struct Trainer;

#[actor]
impl Trainer {
    pub fn new() -> Self {
        Trainer
    }

    #[remote_method]
    pub fn pid(&self) -> u32 {
        std::process::id()
    }
}

/// Holds a GPU while it runs.
#[remote(num_gpus = 1)]
fn gpu_pid() -> u32 {
    std::process::id()
}

fn join_with_gpus(name: &str, gpus: f64, hosts: bool) {
    let config = helio::Config::cluster(url())
        .node_name(name)
        .num_gpus(gpus)
        .host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register::<Trainer>();
    helio::register_task(&gpu_pid);
}

#[test]
fn an_actor_asking_for_a_gpu_lands_where_there_is_one_and_a_second_waits_for_it() {
    match role().as_deref() {
        Some("gpu") | Some("plain") => {
            let gpus = if role().as_deref() == Some("gpu") {
                1.0
            } else {
                0.0
            };
            join_with_gpus(role().as_deref().unwrap_or("?"), gpus, true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("client") => {
            join_with_gpus("client", 0.0, false);
            // A task that needs the GPU runs where it is, every time (a queue group would
            // send half of them to the other node).
            for _ in 0..4 {
                let pid = gpu_pid.remote().get_timeout(WAIT).unwrap();
                say(format!("task-on {pid}"));
            }
            let greedy = gpu_pid.options(TaskOptions::new().num_gpus(2.0)).remote();
            match greedy.get_timeout(WAIT) {
                Err(ActorError::Unschedulable { shortfall, .. }) => {
                    assert!(shortfall.contains("needs 2 GPU"), "{shortfall}");
                }
                other => panic!("{other:?}"),
            }
            let gpu = || {
                ActorOptions::new()
                    .num_gpus(1.0)
                    .placement(helio::Placement::Any)
            };
            let first = Trainer::new_actor().options(gpu()).remote();
            let pid = first.methods().pid().remote().get_timeout(WAIT).unwrap();
            say(format!("first-on {pid}"));
            // The cluster shows the GPU held.
            let held: Vec<_> = helio::nodes()
                .into_iter()
                .flat_map(|node| node.resources)
                .filter(|r| r.name == "GPU")
                .map(|r| (r.used, r.total))
                .collect();
            assert_eq!(held, [(1.0, 1.0)], "GPU use as the nodes report it");
            // A second waits for it; it runs once the first is gone.
            let second = Trainer::new_actor().options(gpu()).remote();
            let waiting = second.methods().pid().remote();
            let (ready, _) = helio::wait_blocking(
                std::slice::from_ref(&waiting),
                1,
                Some(Duration::from_millis(500)),
            );
            assert!(ready.is_empty(), "a second actor got the only GPU");
            helio::kill(&first, true);
            let pid = waiting.get_timeout(WAIT).unwrap();
            say(format!("second-on {pid}"));
            // One asking for more than any node has dies at once, naming it.
            let greedy = Trainer::new_actor()
                .options(
                    ActorOptions::new()
                        .num_gpus(2.0)
                        .placement(helio::Placement::Any),
                )
                .remote();
            match greedy.methods().pid().remote().get_timeout(WAIT) {
                Err(err @ ActorError::ActorDied { .. }) => {
                    assert!(
                        matches!(
                            &err,
                            ActorError::ActorDied {
                                cause: DeathCause::Unschedulable(_),
                                ..
                            }
                        ),
                        "{err:?}"
                    );
                    assert!(err.to_string().contains("needs 2 GPU"), "{err}");
                }
                other => panic!("{other:?}"),
            }
            say("done");
            return;
        }
        _ => {}
    }
    let test = "an_actor_asking_for_a_gpu_lands_where_there_is_one_and_a_second_waits_for_it";
    let nats = Nats::start();
    let mut gpu = Proc::start(test, "gpu", &nats.url);
    let gpu_node: u32 = gpu.expect("ready").parse().unwrap();
    let mut plain = Proc::start(test, "plain", &nats.url);
    plain.expect("ready");
    let mut client = Proc::start(test, "client", &nats.url);
    for _ in 0..4 {
        let ran_on: u32 = client.expect("task-on").parse().unwrap();
        assert_eq!(ran_on, gpu_node, "a GPU task ran on the node without one");
    }
    let first: u32 = client.expect("first-on").parse().unwrap();
    assert_eq!(first, gpu_node);
    let second: u32 = client.expect("second-on").parse().unwrap();
    assert_eq!(second, gpu_node);
    client.expect("done");
    client.succeeds();
}
