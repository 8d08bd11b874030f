//! Cluster scheduling: tasks go where resources are free (pull, not push). Workers of 2 CPUs
//! and a client-only driver, each a process of its own (this binary re-run in a role); every
//! wait is bounded. The figures asserted are shares and counts, never times: the makespans
//! are measured by `examples/cluster_task_farm`.

mod cluster_support;

use std::{collections::HashMap, time::Duration};

use cluster_support::{Nats, Proc, role, say, url};
use helio::{ActorError, prelude::*};

/// The longest any one task may take to resolve, in a driver.
const WAIT: Duration = Duration::from_secs(60);

/// Sleeps `ms`, then says which process ran it, and when it started (µs since the epoch).
#[remote]
fn sleepy(x: u64, ms: u64) -> (u64, u32, u128) {
    let started = now_micros();
    std::thread::sleep(Duration::from_millis(ms));
    (x, std::process::id(), started)
}

fn now_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_micros())
}

/// A worker: 2 CPUs, hosts, runs `sleepy`.
fn worker() {
    let config = helio::Config::cluster(url())
        .node_name(role().unwrap_or_default())
        .num_cpus(2.0);
    helio::init(config).expect("join the cluster");
    helio::register_task(&sleepy);
    say(format!("ready {}", std::process::id()));
    cluster_support::park();
}

/// The driver: hosts nothing, so every task goes to a worker.
fn driver() {
    let config = helio::Config::cluster(url())
        .node_name("driver")
        .host(false);
    helio::init(config).expect("join the cluster");
    helio::register_task(&sleepy);
}

/// Runs `tasks` tasks of `ms` each and says `ran <pid> <count>` for each process that ran
/// some; every task must come back once, with its own value.
fn farm(tasks: u64, ms: u64) {
    let refs: Vec<_> = (0..tasks).map(|x| sleepy.remote(x, ms)).collect();
    let mut ran: HashMap<u32, usize> = HashMap::new();
    for (x, task) in (0..tasks).zip(refs) {
        let (back, pid, _) = task.get_timeout(WAIT).expect("a task of the farm");
        assert_eq!(back, x, "a task came back with another's value");
        *ran.entry(pid).or_default() += 1;
    }
    let split: Vec<String> = ran.iter().map(|(pid, n)| format!("{pid}:{n}")).collect();
    say(format!("ran {}", split.join(",")));
}

/// The `pid:count` pairs of a driver's `ran` line.
fn split(line: &str) -> HashMap<u32, usize> {
    line.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (pid, n) = pair.split_once(':').expect("pid:count");
            (pid.parse().expect("a pid"), n.parse().expect("a count"))
        })
        .collect()
}

/// Each worker's share is within 15% of an even one, and the shares add up.
#[track_caller]
fn assert_even(ran: &HashMap<u32, usize>, workers: &[u32], tasks: usize) {
    let even = tasks as f64 / workers.len() as f64;
    eprintln!("{tasks} tasks over {} workers: {ran:?}", workers.len());
    let total: usize = ran.values().sum();
    assert_eq!(total, tasks, "{ran:?}");
    for pid in workers {
        let share = ran.get(pid).copied().unwrap_or(0) as f64;
        assert!(
            (share - even).abs() <= 0.15 * even,
            "worker {pid} ran {share} of {tasks} (an even share: {even}); all: {ran:?}"
        );
    }
}

#[test]
fn a_farm_of_tasks_spreads_evenly_over_two_and_four_workers() {
    match role().as_deref() {
        Some(r) if r.starts_with("worker") => return worker(),
        Some("driver") => {
            driver();
            for _ in 0..2 {
                let _ = cluster_support::next_line();
                farm(400, 20);
            }
            return;
        }
        _ => {}
    }
    let test = "a_farm_of_tasks_spreads_evenly_over_two_and_four_workers";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (1..=2)
        .map(|i| Proc::start(test, &format!("worker-{i}"), &nats.url))
        .collect();
    let mut pids: Vec<u32> = workers
        .iter_mut()
        .map(|w| w.expect("ready").parse().expect("a pid"))
        .collect();
    let mut driver = Proc::start(test, "driver", &nats.url);
    driver.tell("go");
    assert_even(&split(&driver.expect("ran")), &pids, 400);
    for i in 3..=4 {
        let mut worker = Proc::start(test, &format!("worker-{i}"), &nats.url);
        pids.push(worker.expect("ready").parse().expect("a pid"));
        workers.push(worker);
    }
    driver.tell("go");
    assert_even(&split(&driver.expect("ran")), &pids, 400);
    driver.succeeds();
}

#[test]
fn a_worker_that_joins_mid_run_takes_its_share_of_what_is_left() {
    match role().as_deref() {
        Some(r) if r.starts_with("worker") => return worker(),
        Some("driver") => {
            driver();
            let tasks = 400;
            let refs: Vec<_> = (0..tasks).map(|x| sleepy.remote(x, 40)).collect();
            let mut started = Vec::new();
            for (x, task) in (0..tasks).zip(refs) {
                let (back, pid, at) = task.get_timeout(WAIT).expect("a task");
                assert_eq!(back, x);
                started.push((pid, at));
                if x + 1 == tasks / 4 {
                    say("quarter");
                }
            }
            // The harness says when the late worker was ready: from then on, it takes part.
            let joined: u128 = cluster_support::next_line()
                .expect("when the late worker joined")
                .parse()
                .expect("µs since the epoch");
            let after: Vec<u32> = started
                .iter()
                .filter(|(_, at)| *at >= joined)
                .map(|(pid, _)| *pid)
                .collect();
            let late: u32 = cluster_support::next_line()
                .expect("the late worker's pid")
                .parse()
                .expect("a pid");
            let took = after.iter().filter(|pid| **pid == late).count();
            say(format!("after {} {took}", after.len()));
            return;
        }
        _ => {}
    }
    let test = "a_worker_that_joins_mid_run_takes_its_share_of_what_is_left";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (1..=2)
        .map(|i| Proc::start(test, &format!("worker-{i}"), &nats.url))
        .collect();
    for worker in &mut workers {
        worker.expect("ready");
    }
    let mut driver = Proc::start(test, "driver", &nats.url);
    driver.expect("quarter");
    let mut late = Proc::start(test, "worker-late", &nats.url);
    let late_pid = late.expect("ready");
    let joined = now_micros();
    driver.tell(joined);
    driver.tell(late_pid);
    let after = driver.expect("after");
    let (left, took) = after.split_once(' ').expect("two counts");
    let (left, took): (usize, usize) = (left.parse().unwrap(), took.parse().unwrap());
    eprintln!("the late worker took {took} of the {left} tasks that started after it joined");
    // Two workers of 2 CPUs and the late one of 2: an even share of what is left is a third.
    assert!(left > 0, "no task started after the late worker joined");
    assert!(
        took * 5 >= left,
        "the late worker took {took} of the {left} tasks that started after it joined"
    );
    driver.succeeds();
}

#[test]
fn a_worker_killed_mid_farm_loses_no_task_and_none_comes_back_twice() {
    match role().as_deref() {
        Some(r) if r.starts_with("worker") => return worker(),
        Some("driver") => {
            driver();
            let tasks = 300;
            let refs: Vec<_> = (0..tasks).map(|x| sleepy.remote(x, 20)).collect();
            let mut seen = std::collections::HashSet::new();
            for (x, task) in (0..tasks).zip(refs) {
                match task.get_timeout(WAIT) {
                    Ok((back, _, _)) => {
                        assert_eq!(back, x);
                        assert!(seen.insert(back), "task {x} came back twice");
                    }
                    Err(err) => panic!("task {x}: {err}"),
                }
                if x == 60 {
                    say("some-done");
                }
            }
            assert_eq!(seen.len(), 300);
            say("all-done");
            return;
        }
        _ => {}
    }
    let test = "a_worker_killed_mid_farm_loses_no_task_and_none_comes_back_twice";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (1..=3)
        .map(|i| Proc::start(test, &format!("worker-{i}"), &nats.url))
        .collect();
    for worker in &mut workers {
        worker.expect("ready");
    }
    let mut driver = Proc::start(test, "driver", &nats.url);
    driver.expect("some-done");
    workers[0].kill();
    driver.expect("all-done");
    driver.succeeds();
}

#[test]
fn a_task_no_node_could_ever_fit_is_unschedulable_and_nothing_waits_forever() {
    match role().as_deref() {
        Some(r) if r.starts_with("worker") => return worker(),
        Some("driver") => {
            driver();
            let huge = sleepy
                .options(TaskOptions::new().num_cpus(64.0))
                .remote(1, 1);
            match huge.get_timeout(WAIT) {
                Err(ActorError::Unschedulable { shortfall, .. }) => {
                    assert!(shortfall.contains("64"), "{shortfall}");
                }
                other => panic!("{other:?}"),
            }
            // A custom resource no node has: the same.
            let odd = sleepy
                .options(TaskOptions::new().resource("tpu", 1.0))
                .remote(2, 1);
            assert!(matches!(
                odd.get_timeout(WAIT),
                Err(ActorError::Unschedulable { .. })
            ));
            // Fits, but the worker is full for longer than the task may wait.
            let long = sleepy
                .options(TaskOptions::new().num_cpus(2.0))
                .remote(3, 3_000);
            // (Tasks start in no set order: wait until it runs.)
            let deadline = std::time::Instant::now() + WAIT;
            while !helio::nodes()
                .iter()
                .any(|node| node.name == "worker" && node.running_tasks == 1)
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the long task never ran"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            let impatient = sleepy
                .options(
                    TaskOptions::new()
                        .num_cpus(2.0)
                        .resource_timeout(Duration::from_millis(300)),
                )
                .remote(4, 1);
            match impatient.get_timeout(WAIT) {
                Err(ActorError::ActorUnavailable { message, .. }) => {
                    assert!(message.contains("resource_timeout"), "{message}");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(long.get_timeout(WAIT).expect("the long task").0, 3);
            say("done");
            return;
        }
        _ => {}
    }
    let test = "a_task_no_node_could_ever_fit_is_unschedulable_and_nothing_waits_forever";
    let nats = Nats::start();
    let mut worker = Proc::start(test, "worker", &nats.url);
    worker.expect("ready");
    let mut driver = Proc::start(test, "driver", &nats.url);
    driver.expect("done");
    driver.succeeds();
}

/// Takes a GPU, says which (`gpus [id]`) and `holding <tag>` on the node that runs it, and
/// holds it until that node's harness says `release`.
#[remote(num_gpus = 1)]
fn holds_gpu(tag: String) -> u32 {
    say(format!("gpus {:?}", helio::get_gpu_ids()));
    say(format!("holding {tag}"));
    let _ = cluster_support::next_line();
    std::process::id()
}

#[test]
fn a_task_no_node_has_room_for_waits_cluster_wide_and_starts_where_room_frees_first() {
    match role().as_deref() {
        Some(r) if r.starts_with("gpu") => {
            let config = helio::Config::cluster(url())
                .node_name(role().unwrap_or_default())
                .num_cpus(2.0)
                .num_gpus(1.0);
            helio::init(config).expect("join the cluster");
            helio::register_task(&holds_gpu);
            say(format!("ready {}", std::process::id()));
            return cluster_support::park();
        }
        Some("driver") => {
            let config = helio::Config::cluster(url())
                .node_name("driver")
                .host(false);
            helio::init(config).expect("join the cluster");
            helio::register_task(&holds_gpu);
            let a = holds_gpu.remote("a".to_owned());
            let b = holds_gpu.remote("b".to_owned());
            let _ = cluster_support::next_line(); // both hold their GPU
            let c = holds_gpu.remote("c".to_owned());
            // Status shows where it waits: in this process's line, not on a node.
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let nodes = helio::nodes();
                let waiting = |name: &str| {
                    nodes
                        .iter()
                        .find(|n| n.name == name)
                        .map(|n| (n.running_tasks, n.waiting_tasks))
                };
                let seen = (waiting("driver"), waiting("gpu-1"), waiting("gpu-2"));
                if seen == (Some((0, 1)), Some((1, 0)), Some((1, 0))) {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "running and waiting (driver, gpu-1, gpu-2): {seen:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            say("waits-here");
            for (tag, task) in [("a", a), ("b", b), ("c", c)] {
                let pid = task.get_timeout(WAIT).expect("a GPU task");
                say(format!("ran {tag} {pid}"));
            }
            return;
        }
        _ => {}
    }
    let test = "a_task_no_node_has_room_for_waits_cluster_wide_and_starts_where_room_frees_first";
    let nats = Nats::start();
    let mut first = Proc::start(test, "gpu-1", &nats.url);
    // Its one GPU is the host's device 6: the ids a task sees are its host's.
    let visible = [("CUDA_VISIBLE_DEVICES", "6")];
    let mut second = Proc::start_env(test, "gpu-2", &nats.url, &visible);
    first.expect("ready");
    second.expect("ready");
    let mut driver = Proc::start(test, "driver", &nats.url);
    // One task on each node, whichever took which.
    assert_eq!(first.expect("gpus"), "[0]");
    assert_eq!(second.expect("gpus"), "[6]");
    let on_first = first.expect("holding");
    let on_second = second.expect("holding");
    let mut tags = [on_first.clone(), on_second.clone()];
    tags.sort();
    assert_eq!(tags, ["a", "b"]);
    driver.tell("both");
    driver.expect("waits-here");
    // The third waits in the driver's line, not on a node: the node that frees first takes
    // it, whichever it is. Free the second node's GPU first.
    second.tell("release");
    assert_eq!(second.expect("holding"), "c");
    second.tell("release");
    first.tell("release");
    let mut ran = std::collections::HashMap::new();
    for _ in 0..3 {
        let line = driver.expect("ran");
        let (tag, pid) = line.split_once(' ').expect("a tag and a pid");
        ran.insert(tag.to_owned(), pid.parse::<u32>().expect("a pid"));
    }
    assert_eq!(ran["c"], second.pid());
    assert_eq!(ran[on_second.as_str()], second.pid());
    assert_eq!(ran[on_first.as_str()], first.pid());
    driver.succeeds();
}

/// Says `holding` and never returns on the node named `leaver`; elsewhere returns the pid at
/// once. (Async: a cancel drops it.)
#[remote]
async fn held_by_leaver() -> u32 {
    if role().as_deref() == Some("leaver") {
        say("holding");
        std::future::pending::<()>().await;
    }
    std::process::id()
}

#[test]
fn a_node_that_leaves_hands_its_running_tasks_back_at_once() {
    // Nodes are declared dead only after a minute here: a task that comes back within the
    // test's bounds was handed back, not rescued from a dead node.
    let join = |name: &str, hosts: bool| {
        let config = helio::Config::cluster(url())
            .node_name(name)
            .num_cpus(1.0)
            .node_timeout(Duration::from_secs(60))
            .host(hosts);
        helio::init(config).expect("join the cluster");
        helio::register_task(&held_by_leaver);
    };
    match role().as_deref() {
        Some("leaver") => {
            join("leaver", true);
            say("ready");
            let _ = cluster_support::next_line();
            helio::shutdown();
            say("left");
            return cluster_support::park();
        }
        Some("stayer") => {
            join("stayer", true);
            say(format!("ready {}", std::process::id()));
            return cluster_support::park();
        }
        Some("driver") => {
            join("driver", false);
            let task = held_by_leaver.remote();
            let pid = task
                .get_timeout(Duration::from_secs(20))
                .expect("handed back, and run again elsewhere");
            say(format!("ran {pid}"));
            return;
        }
        _ => {}
    }
    let test = "a_node_that_leaves_hands_its_running_tasks_back_at_once";
    let nats = Nats::start();
    let mut leaver = Proc::start(test, "leaver", &nats.url);
    leaver.expect("ready");
    let mut driver = Proc::start(test, "driver", &nats.url);
    leaver.expect("holding");
    let mut stayer = Proc::start(test, "stayer", &nats.url);
    let stayer_pid = stayer.expect("ready");
    leaver.tell("leave");
    leaver.expect("left");
    assert_eq!(driver.expect("ran"), stayer_pid);
    driver.succeeds();
}

/// `helio::cluster_resources()` and `available_resources()` sum every live node's: two
/// workers of one `slot` each, seen from a driver that has none.
#[test]
fn cluster_resources_sum_every_live_node() {
    match role().as_deref() {
        Some(r) if r.starts_with("worker") => {
            let config = helio::Config::cluster(url())
                .node_name(r)
                .num_cpus(2.0)
                .resource("slot", 1.0);
            helio::init(config).expect("join the cluster");
            say(format!("ready {}", std::process::id()));
            return cluster_support::park();
        }
        Some("driver") => {
            driver();
            // Each live node is asked now: one slow to answer under load is left out of
            // that round, so ask again (bounded) until both workers are counted.
            let since = std::time::Instant::now();
            let total = loop {
                let total = helio::cluster_resources();
                if total.get("slot") == Some(&2.0) {
                    break total;
                }
                assert!(
                    since.elapsed() < WAIT,
                    "never both workers' slots: {total:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            };
            let cpus: f64 = helio::nodes()
                .iter()
                .flat_map(|node| &node.resources)
                .filter(|resource| resource.name == "CPU")
                .map(|resource| resource.total)
                .sum();
            assert!(cpus >= 4.0, "{total:?}");
            assert!(total.get("CPU").is_some_and(|all| *all >= 4.0), "{total:?}");
            // Nothing holds a slot: both are free (asked again as above).
            while helio::available_resources().get("slot") != Some(&2.0) {
                assert!(since.elapsed() < WAIT, "the two slots are never both free");
                std::thread::sleep(Duration::from_millis(100));
            }
            say("done");
            return;
        }
        _ => {}
    }
    let test = "cluster_resources_sum_every_live_node";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (1..=2)
        .map(|i| Proc::start(test, &format!("worker-{i}"), &nats.url))
        .collect();
    for worker in &mut workers {
        worker.expect("ready");
    }
    let mut driver = Proc::start(test, "driver", &nats.url);
    driver.expect("done");
    driver.succeeds();
}
