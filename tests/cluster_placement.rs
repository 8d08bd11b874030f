//! `Placement::Any` across processes: an actor goes to the least-loaded node that registered
//! its type (fewest actors, counting those on their way), so many actors spread evenly over
//! the workers; with no node that registered the type, creating one fails and says so. Each
//! test starts its own `nats-server` and re-runs this binary in roles (`HELIO_TEST_ROLE`)
//! that talk back on stdout.

mod cluster_support;

use std::{collections::BTreeMap, time::Duration};

use cluster_support::{Nats, Proc, park, role, say, url};
use helio::{ActorError, DeathCause, Placement, prelude::*};

/// Any single wait in a child.
const WAIT: Duration = Duration::from_secs(20);

/// How many workers.
const WORKERS: usize = 4;
/// How many actors the driver places over them: first one after the other, then the rest from
/// several threads at once (so that placements are on their way together).
const ACTORS: usize = 100;
const ONE_BY_ONE: usize = 40;
/// The threads that place the rest.
const PLACERS: usize = 4;

/// Says where it runs.
pub struct Whereabouts;

#[actor]
impl Whereabouts {
    pub fn new() -> Self {
        Whereabouts
    }

    #[remote_method]
    pub fn pid(&self) -> u32 {
        std::process::id()
    }
}

/// Registered by the driver alone: no worker can take one.
pub struct Unplaceable;

#[actor]
impl Unplaceable {
    pub fn new() -> Self {
        Unplaceable
    }

    #[remote_method]
    pub fn pid(&self) -> u32 {
        std::process::id()
    }
}

fn join(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url())
        .node_name(name)
        .host(hosts)
        .num_cpus(2.0);
    helio::init(config).expect("join the cluster");
    helio::register::<Whereabouts>();
    helio::register_task(&task_pid);
}

/// Says where it runs, holding a CPU.
#[remote(num_cpus = 1)]
fn task_pid() -> u32 {
    std::process::id()
}

/// Places `count` actors anywhere, and returns the pid of the process that runs each (the
/// handles are kept: the actors live until the driver exits).
fn place(count: usize) -> Vec<(u32, Actor<Whereabouts>)> {
    (0..count)
        .map(|_| {
            let actor = Whereabouts::new_actor()
                .options(ActorOptions::new().placement(Placement::Any))
                .remote();
            let pid = actor
                .methods()
                .pid()
                .remote()
                .get_timeout(WAIT)
                .expect("the placed actor answers");
            (pid, actor)
        })
        .collect()
}

/// How many of `placed` each process runs, by pid.
fn count_per_pid(placed: &[(u32, Actor<Whereabouts>)]) -> BTreeMap<u32, u64> {
    let mut counts = BTreeMap::new();
    for (pid, _) in placed {
        *counts.entry(*pid).or_default() += 1;
    }
    counts
}

/// `pid=count pid=count ..`: how many of `placed` each process runs.
fn per_pid(placed: &[(u32, Actor<Whereabouts>)]) -> String {
    let counts: Vec<String> = count_per_pid(placed)
        .iter()
        .map(|(pid, count)| format!("{pid}={count}"))
        .collect();
    counts.join(" ")
}

/// The counts [`per_pid`] wrote.
fn parse_counts(line: &str) -> BTreeMap<u32, u64> {
    line.split_whitespace()
        .map(|pair| {
            let (pid, count) = pair.split_once('=').expect("pid=count");
            (pid.parse().expect("a pid"), count.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn any_placement_spreads_actors_evenly_over_the_workers() {
    match role().as_deref() {
        Some("worker") => {
            join("worker", true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("driver") => {
            join("driver", false);
            helio::register::<Unplaceable>();
            // No node that hosts registered it: it fails at once, saying so.
            let lonely = Unplaceable::new_actor()
                .options(ActorOptions::new().placement(Placement::Any))
                .remote();
            match lonely.methods().pid().remote().get_timeout(WAIT) {
                Err(ActorError::ActorDied {
                    cause: DeathCause::InitFailed(message),
                    ..
                }) => assert_eq!(
                    message,
                    "could not create it on another node: no node has registered the type"
                ),
                other => panic!("{other:?}"),
            }
            // One by one: each sees the last one in its node's load.
            let mut placed = place(ONE_BY_ONE);
            say(format!("one-by-one {}", per_pid(&placed)));
            let placers: Vec<_> = (0..PLACERS)
                .map(|_| std::thread::spawn(|| place((ACTORS - ONE_BY_ONE) / PLACERS)))
                .collect();
            for placer in placers {
                placed.extend(placer.join().expect("a placer thread"));
            }
            // The nodes say as much: each counts the actors it serves.
            let nodes = helio::nodes();
            for (pid, count) in &count_per_pid(&placed) {
                let node = nodes
                    .iter()
                    .find(|node| node.pid == *pid)
                    .unwrap_or_else(|| panic!("no node of pid {pid} in {nodes:?}"));
                assert_eq!(node.actor_count, *count, "{node:?}");
            }
            say(format!("placed {}", per_pid(&placed)));
            return;
        }
        _ => {}
    }
    let test = "any_placement_spreads_actors_evenly_over_the_workers";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (0..WORKERS)
        .map(|_| Proc::start(test, "worker", &nats.url))
        .collect();
    let pids: Vec<u32> = workers
        .iter_mut()
        .map(|worker| worker.expect("ready").parse().expect("a pid"))
        .collect();
    let mut driver = Proc::start(test, "driver", &nats.url);
    // One by one, each goes to a node with the fewest: they end exactly even.
    let one_by_one = parse_counts(&driver.expect("one-by-one"));
    eprintln!("actors per worker, one by one: {one_by_one:?}");
    let even = (ONE_BY_ONE / WORKERS) as u64;
    for pid in &pids {
        assert_eq!(one_by_one.get(pid), Some(&even), "{one_by_one:?}");
    }
    // All of them, the rest placed from several threads at once.
    let counts = parse_counts(&driver.expect("placed"));
    eprintln!("actors per worker, in all: {counts:?}");
    assert_eq!(counts.values().sum::<u64>(), ACTORS as u64, "{counts:?}");
    let even = (ACTORS / WORKERS) as u64;
    for pid in &pids {
        let count = counts.get(pid).copied().unwrap_or(0);
        assert!(
            count.abs_diff(even) <= 5,
            "worker {pid} got {count} actors, not {even} ± 5: {counts:?}"
        );
    }
    driver.succeeds();
}

/// A `StrictSpread` group of three bundles over two workers waits, and a wait names the
/// bundle left without a node; once a third worker joins, the group lands one bundle per
/// node, an actor and a task in each bundle run on its node, and removing the group kills them and
/// gives the bundles back.
#[test]
fn a_strict_spread_group_lands_one_bundle_per_node_and_its_removal_kills_its_actors() {
    use helio::{Bundle, PlacementGroupError, PlacementStrategy};
    match role().as_deref() {
        Some(name) if name.starts_with("worker") => {
            join(name, true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("driver") => {
            join("driver", false);
            let bundles = (0..3).map(|_| Bundle::new().num_cpus(2.0));
            let pg = helio::placement_group(bundles, PlacementStrategy::StrictSpread)
                .expect("a valid group");
            match pg.wait(Duration::from_secs(2)) {
                Err(PlacementGroupError::Timeout {
                    bundle, message, ..
                }) => {
                    say(format!("waits bundle {bundle}: {message}"));
                }
                other => panic!("two nodes cannot hold it: {other:?}"),
            }
            let _ = cluster_support::next_line(); // a third worker is ready
            pg.wait(WAIT).expect("reserved over three nodes");
            let actors: Vec<Actor<Whereabouts>> = (0..3)
                .map(|i| {
                    let in_bundle = ActorOptions::new()
                        .num_cpus(1.0)
                        .placement_group(&pg, Some(i));
                    Whereabouts::new_actor().options(in_bundle).remote()
                })
                .collect();
            let pids: Vec<String> = actors
                .iter()
                .map(|actor| {
                    let pid = actor.methods().pid().remote().get_timeout(WAIT);
                    pid.expect("an actor in its bundle").to_string()
                })
                .collect();
            say(format!("pids {}", pids.join(",")));
            // A task in each bundle runs on its node, on the CPU the actor leaves it.
            for (i, pid) in pids.iter().enumerate() {
                let in_bundle = TaskOptions::new().placement_group(&pg, Some(i));
                let ran = task_pid.options(in_bundle).remote().get_timeout(WAIT);
                assert_eq!(ran.expect("a task in its bundle").to_string(), *pid);
            }
            // Each worker lends its two CPUs to the group (as the nodes' next reports of their
            // resources say: asked again, bounded, as a node slow to answer its ping under
            // load is left out of a round). Four nodes of 2 CPUs: the driver's count too.
            let total = 8.0;
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let free = helio::available_resources().get("CPU").copied();
                if free == Some(total - 6.0) {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "free CPU {free:?}");
                std::thread::sleep(Duration::from_millis(50));
            }
            say("lent");
            helio::remove_placement_group(&pg);
            for actor in &actors {
                let deadline = std::time::Instant::now() + WAIT;
                while actor.methods().pid().remote().get_timeout(WAIT).is_ok() {
                    assert!(std::time::Instant::now() < deadline, "still alive");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            // Every bundle given back.
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let free = helio::available_resources().get("CPU").copied();
                if free == Some(total) {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "free CPU {free:?}");
                std::thread::sleep(Duration::from_millis(50));
            }
            say("removed");
            // The other strategies over the three workers: the node of each bundle, by the
            // pid of an actor in it.
            let nodes_of = |cpus: &[f64], strategy| {
                let pg = helio::placement_group(
                    cpus.iter().map(|&n| Bundle::new().num_cpus(n)),
                    strategy,
                )
                .expect("a valid group");
                pg.wait(WAIT).expect("reserved");
                let pids: Vec<u32> = (0..cpus.len())
                    .map(|i| {
                        let options = ActorOptions::new().placement_group(&pg, Some(i));
                        let actor = Whereabouts::new_actor().options(options).remote();
                        let pid = actor.methods().pid().remote().get_timeout(WAIT);
                        pid.expect("an actor in its bundle")
                    })
                    .collect();
                helio::remove_placement_group(&pg);
                let mut distinct = pids.clone();
                distinct.sort_unstable();
                distinct.dedup();
                distinct.len()
            };
            // Both on one node.
            assert_eq!(nodes_of(&[1.0, 1.0], PlacementStrategy::StrictPack), 1);
            // Two bundles of a whole node each cannot share one.
            assert_eq!(nodes_of(&[2.0, 2.0], PlacementStrategy::Pack), 2);
            // Round the nodes.
            assert_eq!(nodes_of(&[1.0, 1.0, 1.0], PlacementStrategy::Spread), 3);
            say("strategies");
            return;
        }
        _ => {}
    }
    let test = "a_strict_spread_group_lands_one_bundle_per_node_and_its_removal_kills_its_actors";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (1..=2)
        .map(|i| Proc::start(test, &format!("worker-{i}"), &nats.url))
        .collect();
    let mut pids: Vec<u32> = workers
        .iter_mut()
        .map(|worker| worker.expect("ready").parse().expect("a pid"))
        .collect();
    let mut driver = Proc::start(test, "driver", &nats.url);
    let waits = driver.expect("waits");
    assert!(waits.starts_with("bundle 2:"), "{waits}");
    assert!(waits.contains("2 live nodes"), "{waits}");
    let mut third = Proc::start(test, "worker-3", &nats.url);
    pids.push(third.expect("ready").parse().expect("a pid"));
    workers.push(third);
    driver.tell("go");
    let mut ran: Vec<u32> = driver
        .expect("pids")
        .split(',')
        .map(|pid| pid.parse().expect("a pid"))
        .collect();
    ran.sort_unstable();
    pids.sort_unstable();
    assert_eq!(ran, pids, "one bundle, and its actor, on each node");
    driver.expect("lent");
    driver.expect("removed");
    driver.expect("strategies");
    driver.succeeds();
}

/// A group goes with the process that made it, as in Ray: when its maker dies, the nodes
/// that hold its bundles give them back.
#[test]
fn a_group_whose_maker_dies_is_given_back() {
    use helio::{Bundle, PlacementStrategy};
    let held_here = || {
        let me = helio::current_node();
        helio::nodes()
            .into_iter()
            .find(|node| Some(node.id) == me)
            .and_then(|node| node.resources.into_iter().find(|r| r.name == "CPU"))
            .map(|cpu| cpu.used)
    };
    match role().as_deref() {
        Some("worker") => {
            join("worker", true);
            say("ready");
            let _ = cluster_support::next_line(); // the group is reserved
            assert_eq!(held_here(), Some(1.0), "the bundle is held here");
            say("holding");
            let _ = cluster_support::next_line(); // its maker was killed
            let deadline = std::time::Instant::now() + WAIT;
            while held_here() != Some(0.0) {
                assert!(std::time::Instant::now() < deadline, "never given back");
                std::thread::sleep(Duration::from_millis(50));
            }
            say("given-back");
            return park();
        }
        Some("driver") => {
            join("driver", false);
            let pg = helio::placement_group([Bundle::new().num_cpus(1.0)], PlacementStrategy::Pack)
                .expect("a valid group");
            pg.wait(WAIT).expect("reserved on the worker");
            say("reserved");
            return park();
        }
        _ => {}
    }
    let test = "a_group_whose_maker_dies_is_given_back";
    let nats = Nats::start();
    let mut worker = Proc::start(test, "worker", &nats.url);
    worker.expect("ready");
    let mut driver = Proc::start(test, "driver", &nats.url);
    driver.expect("reserved");
    worker.tell("go");
    worker.expect("holding");
    driver.kill();
    worker.tell("go");
    worker.expect("given-back");
}

/// A bundle whose node dies is placed again, as Ray reschedules it: the group (briefly
/// `Rescheduling`) is `Created` again with that bundle on a live node its strategy allows
/// (for `StrictSpread`, not the node of the other bundle), and an actor created in the
/// bundle runs there.
#[test]
fn a_bundle_on_a_dead_node_is_placed_again() {
    use helio::{Bundle, PlacementGroupState, PlacementStrategy};
    match role().as_deref() {
        Some("worker") => {
            join("worker", true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("driver") => {
            join("driver", false);
            let bundles = (0..2).map(|_| Bundle::new().num_cpus(1.0));
            let pg = helio::placement_group(bundles, PlacementStrategy::StrictSpread)
                .expect("a valid group");
            pg.wait(WAIT).expect("reserved");
            let in_bundle = |i| {
                ActorOptions::new()
                    .num_cpus(1.0)
                    .placement_group(&pg, Some(i))
            };
            let pid_in = |i| {
                let actor = Whereabouts::new_actor().options(in_bundle(i)).remote();
                let pid = actor.methods().pid().remote().get_timeout(WAIT);
                (pid.expect("an actor in its bundle"), actor)
            };
            let ((first, _a), (second, _b)) = (pid_in(0), pid_in(1));
            // Where the group's record says bundle 0 is.
            let node_of_bundle_0 = || {
                helio::placement_groups()
                    .into_iter()
                    .find(|group| group.id == pg.id().to_string())
                    .filter(|group| group.state == "created")
                    .and_then(|group| group.nodes.first().copied())
            };
            let before = node_of_bundle_0().expect("the group's record");
            say(format!("pids {first} {second}"));
            let _ = cluster_support::next_line(); // the first bundle's node was killed
            // Rescheduling is over quickly once the death is found: wait for its outcome,
            // bundle 0 elsewhere (`Rescheduling` may come and go between two looks).
            let deadline = std::time::Instant::now() + 2 * WAIT;
            while node_of_bundle_0().is_none_or(|node| node == before) {
                assert!(std::time::Instant::now() < deadline, "never rescheduled");
                std::thread::sleep(Duration::from_millis(50));
            }
            pg.wait(WAIT).expect("placed again");
            assert_eq!(pg.state(), PlacementGroupState::Created);
            let (again, _c) = pid_in(0);
            say(format!("again {again}"));
            return;
        }
        _ => {}
    }
    let test = "a_bundle_on_a_dead_node_is_placed_again";
    let nats = Nats::start();
    let mut workers: Vec<Proc> = (0..3)
        .map(|_| Proc::start(test, "worker", &nats.url))
        .collect();
    for worker in &mut workers {
        worker.expect("ready");
    }
    let mut driver = Proc::start(test, "driver", &nats.url);
    let pids = driver.expect("pids");
    let (first, second) = pids.split_once(' ').expect("two pids");
    let (first, second): (u32, u32) = (first.parse().unwrap(), second.parse().unwrap());
    let victim = workers
        .iter_mut()
        .find(|worker| worker.pid() == first)
        .expect("the first bundle's node");
    victim.kill();
    driver.tell("killed");
    let again: u32 = driver.expect("again").parse().expect("a pid");
    assert_ne!(again, first, "not on the dead node");
    assert_ne!(again, second, "strictly spread: not with the other bundle");
    driver.succeeds();
}
