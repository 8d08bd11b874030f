//! `helio status` and `helio list` against a live cluster of two worker processes (this test
//! binary run again in the role `worker`), each hosting a named actor; worker 1 also runs a
//! task that holds its `ssd`s and has a second one waiting for them.

#[path = "../../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::process::Command;

use cluster_support::{Nats, Proc, park, role, say, url};
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }
}

const CLUSTER: &str = "status-test";

/// Holds what it asked for until the worker is killed (a local task: not registered).
#[remote(num_cpus = 0)]
fn holds() -> u32 {
    park();
    0
}

/// In a worker: joins the cluster as `worker-<n>` and hosts `counter-<n>`, detached on worker 1.
fn worker() {
    let n = std::env::var("WORKER").expect("WORKER is set");
    helio::init(
        helio::Config::cluster(url())
            .cluster_name(CLUSTER)
            .node_name(format!("worker-{n}"))
            .num_cpus(4.0)
            .resource("ssd", 2.0),
    )
    .expect("join the cluster");
    helio::register::<Counter>();
    let lifetime = if n == "1" {
        Lifetime::Detached
    } else {
        Lifetime::NonDetached
    };
    let counter = Counter::new_actor()
        .options(
            ActorOptions::new()
                .name(format!("counter-{n}"))
                .lifetime(lifetime),
        )
        .remote(0);
    assert_eq!(counter.methods().add().remote(1).get(), Ok(1));
    if n == "1" {
        // A named channel: 3 items in, 1 out.
        helio_channel::register::<u64>();
        let (tx, rx) = helio_channel::channel_named::<u64>("jobs", 8);
        for item in 0..3 {
            tx.blocking_send(item).expect("send");
        }
        assert_eq!(rx.blocking_recv(), Ok(0));
        std::mem::forget((tx, rx)); // registered for as long as the worker lives
        // One task runs, holding both ssds; a second waits for them.
        let ssds = || {
            holds
                .options(TaskOptions::new().resource("ssd", 2.0))
                .remote()
        };
        std::mem::forget((ssds(), ssds()));
        let start = std::time::Instant::now();
        loop {
            let me = helio::current_node();
            let nodes = helio::nodes();
            let here = nodes.iter().find(|node| Some(node.id) == me);
            if here.is_some_and(|node| (node.running_tasks, node.waiting_tasks) == (1, 1)) {
                break;
            }
            assert!(
                start.elapsed() < cluster_support::BOUND,
                "the tasks never ran and waited: {here:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // A named actor killed for good: `list actors --all` shows it dead, with its cause.
        let gone = Counter::new_actor()
            .options(
                ActorOptions::new()
                    .name("gone")
                    .lifetime(Lifetime::Detached),
            )
            .remote(0);
        gone.ready().get().expect("it starts");
        helio::kill(&gone, true);
        let start = std::time::Instant::now();
        while !helio::list_dead_actors().iter().any(|a| a.name == "gone") {
            assert!(
                start.elapsed() < cluster_support::BOUND,
                "its death was never recorded"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    } else {
        // A channel whose actor type is registered as any other: its process lists it too.
        helio::register::<helio_channel::RayChannelActor<String>>();
        let (tx, rx) = helio_channel::channel_named::<String>("mail", 4);
        tx.blocking_send("hi".to_owned()).expect("send");
        std::mem::forget((tx, rx));
        // A placement group of one bundle of an ssd: only this worker has one free.
        let pg = helio::placement_group(
            [helio::Bundle::new().resource("ssd", 1.0)],
            helio::PlacementStrategy::Pack,
        )
        .expect("a valid group");
        pg.wait(cluster_support::BOUND).expect("reserved");
        std::mem::forget(pg);
    }
    say("ready");
    park();
}

/// Runs the `helio` binary with `args` against the server at `url`; its stdout.
fn helio(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_helio"))
        .args(args)
        .args(["--url", url, "--cluster", CLUSTER])
        .output()
        .expect("run the helio binary");
    assert!(
        out.status.success(),
        "helio {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The line of `table` whose first cell is `first`.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first:?} in\n{table}"));
    line.split_whitespace().collect()
}

#[test]
fn status_and_list_show_the_nodes_and_actors_of_a_live_cluster() {
    if role().as_deref() == Some("worker") {
        return worker();
    }
    let nats = Nats::start();
    let test = "status_and_list_show_the_nodes_and_actors_of_a_live_cluster";
    let mut workers: Vec<Proc> = ["1", "2"]
        .iter()
        .map(|n| Proc::start_env(test, "worker", &nats.url, &[("WORKER", n)]))
        .collect();
    for worker in &mut workers {
        worker.expect("ready");
    }

    let status = helio(&nats.url, &["status"]);
    for line in status.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
    }
    assert!(status.starts_with("Nodes (2)\n"), "{status}");
    assert!(status.contains("\nActors (4)\n"), "{status}");
    assert!(status.contains("\nChannels (2)\n"), "{status}");
    assert!(status.contains("\nPlacement groups (1)\n"), "{status}");
    let group: Vec<&str> = status
        .lines()
        .find(|line| line.starts_with("pg-"))
        .unwrap_or_else(|| panic!("no placement group row in\n{status}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        group[1..],
        ["PACK", "created", "0", "{ssd", "1}", "worker-2"],
        "{status}"
    );
    // Worker 2 lends one of its ssds to its placement group.
    let tasks = [["1", "1", "2/2"], ["0", "0", "1/2"]];
    for ((n, worker), [running, waiting, ssd]) in ["1", "2"].iter().zip(&workers).zip(tasks) {
        let node = row(&status, &format!("worker-{n}"));
        assert_eq!(node[3], worker.pid().to_string(), "{status}");
        // State, named actors, tasks running and waiting.
        assert_eq!(node[4], "alive", "{status}");
        assert_eq!(node[6..9], ["2", running, waiting], "{status}");
        // Resources as used / total: the counters hold none, the running task both ssds.
        assert_eq!(node[9..], ["CPU", "0/4", "ssd", ssd], "{status}");
        let actor = row(&status, &format!("counter-{n}"));
        let detached = if *n == "1" { "yes" } else { "no" };
        assert_eq!(
            actor[1..],
            ["Counter", "alive", &format!("worker-{n}"), "0", detached],
            "{status}"
        );
    }
    assert!(
        !status.contains("helio-cli"),
        "the command leaves itself out"
    );
    // The channel: capacity, queued, senders, receivers, sent, received, high watermark.
    let channel = row(&status, "jobs");
    assert_eq!(
        channel[1..],
        ["8", "2", "1", "1", "3", "1", "3"],
        "{status}"
    );
    let mail = row(&status, "mail");
    assert_eq!(mail[1..3], ["4", "1"], "{status}");
    assert!(
        !status.contains("gone"),
        "the dead are left out without --all"
    );
    let channel = row(&status, "helio-channel/jobs");
    assert_eq!(channel[1..3], ["RayChannelA…", "alive"], "{status}");
    let channels: serde_json::Value =
        serde_json::from_str(&helio(&nats.url, &["list", "channels", "--json"])).expect("JSON");
    assert_eq!(channels[0]["name"], "jobs", "{channels}");
    assert_eq!(channels[0]["node"], "worker-1", "{channels}");
    assert_eq!(channels[0]["item_type"], "u64", "{channels}");

    let nodes = helio(&nats.url, &["list", "nodes"]);
    assert!(nodes.starts_with("NAME"), "{nodes}");
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    assert_eq!(
        row(&nodes, "NAME")[6..],
        ["ACTORS", "RUN", "WAIT", "RESOURCES"],
        "{nodes}"
    );
    assert_eq!(row(&nodes, "worker-1")[7..9], ["1", "1"], "{nodes}");
    let actors = helio(&nats.url, &["list", "actors"]);
    assert_eq!(row(&actors, "counter-2")[3], "worker-2");
    assert!(!actors.contains("gone"), "{actors}");
    let all = helio(&nats.url, &["list", "actors", "--all"]);
    assert_eq!(
        row(&all, "gone")[1..],
        [
            "Counter", "dead", "worker-1", "0", "yes", "it", "was", "killed"
        ],
        "{all}"
    );
    assert_eq!(row(&all, "counter-1")[2], "alive", "{all}");

    let json: serde_json::Value =
        serde_json::from_str(&helio(&nats.url, &["status", "--json"])).expect("JSON");
    let groups = json["placement_groups"]
        .as_array()
        .expect("placement groups");
    assert_eq!(groups.len(), 1, "{json}");
    assert_eq!(groups[0]["state"], "created", "{json}");
    assert_eq!(groups[0]["nodes"][0], "worker-2", "{json}");
    assert_eq!(groups[0]["creator"], "worker-2", "{json}");
    let listed = helio(&nats.url, &["list", "placement-groups"]);
    assert!(listed.starts_with("ID"), "{listed}");
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let nodes = json["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2);
    assert!(nodes.iter().all(|n| n["state"] == "alive"));
    let tasks: Vec<_> = nodes
        .iter()
        .map(|n| {
            (
                n["name"].clone(),
                n["running_tasks"].clone(),
                n["waiting_tasks"].clone(),
            )
        })
        .collect();
    assert_eq!(
        tasks,
        [
            ("worker-1".into(), 1.into(), 1.into()),
            ("worker-2".into(), 0.into(), 0.into())
        ],
        "{json}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&helio(&nats.url, &["list", "nodes", "--json"])).expect("JSON");
    assert_eq!(listed[1]["name"], "worker-2", "{listed}");
    assert_eq!(listed[1]["running_tasks"], 0, "{listed}");
    assert_eq!(listed[1]["waiting_tasks"], 0, "{listed}");
    let actors: serde_json::Value =
        serde_json::from_str(&helio(&nats.url, &["list", "actors", "--json"])).expect("JSON");
    let counter = actors
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "counter-1"))
        .expect("counter-1");
    assert_eq!(counter["type"], "status::Counter");
    assert_eq!(counter["pid"], workers[0].pid());
    assert_eq!(counter["detached"], true);
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    if role().is_some() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_helio"))
        .args(["status", "--url", "nats://127.0.0.1:1"])
        .output()
        .expect("run the helio binary");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("helio: "), "{err}");
    assert!(err.contains("nats://127.0.0.1:1"), "{err}");
}
