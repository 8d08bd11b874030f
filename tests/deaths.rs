//! Final deaths across processes: an actor that died for good is known dead in every process
//! (`ActorDied` with its cause, `state()` is `Dead`), its name can be taken again, and a
//! client-only process never hosts what others place or restart. Each test starts its own
//! `nats-server` and re-runs this binary as child processes in roles (`HELIO_TEST_ROLE`), which
//! talk back on stdout; hosts are killed with SIGKILL.

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{Nats, Proc, next_line, park, role, say, url};
use helio::{ActorError, DeathCause, Placement, prelude::*};

pub struct Mortal {
    value: i64,
}

#[actor]
impl Mortal {
    pub fn new(start: i64) -> Self {
        Mortal { value: start }
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

/// Any single wait in a child.
const WAIT: Duration = Duration::from_secs(20);

/// The default `node_timeout`, and how long past it a death must be known everywhere.
const NODE_TIMEOUT: Duration = Duration::from_secs(3);
const KNOWN_WITHIN: Duration = Duration::from_secs(2);

fn join(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url()).node_name(name).host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register::<Mortal>();
}

/// Creates `Mortal` named `name` here with `options`, says `ready <pid>`, and stays.
fn host(name: &str, options: ActorOptions) {
    join("host", true);
    let mortal = Mortal::new_actor().options(options.name(name)).remote(100);
    mortal.ready().get_timeout(WAIT).expect("it starts");
    say(format!("ready {}", std::process::id()));
    // A non-detached actor lives while its handle does.
    let _keep = mortal;
    park();
}

/// In the observer: waits for the parent's word that the actor's host died, then calls the
/// actor `name` with new calls until one resolves to `ActorDied`, which must come within the
/// node timeout plus 2 s and carry `cause`; no call after it may say anything else, and
/// `state()` says `Dead(cause)`. Then the name is created again, here.
fn observe_death(name: &str, cause: impl Fn(&DeathCause) -> bool) {
    let mortal = helio::get_actor::<Mortal>(name).expect("find it");
    assert_eq!(
        mortal.methods().add().remote(1).get_timeout(WAIT).unwrap(),
        101
    );
    say("watching");
    let _ = next_line(); // the host is dead, or killed
    let died = Instant::now();
    let first = loop {
        match mortal.methods().add().remote(0).get_timeout(WAIT) {
            Ok(_) | Err(ActorError::ActorUnavailable { .. }) => {
                assert!(
                    died.elapsed() < NODE_TIMEOUT + KNOWN_WITHIN,
                    "no ActorDied within {:?}",
                    NODE_TIMEOUT + KNOWN_WITHIN
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(ActorError::ActorDied { cause: seen, .. }) => {
                assert!(cause(&seen), "the wrong cause: {seen:?}");
                break died.elapsed();
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    };
    say(format!("died-after-ms {}", first.as_millis()));
    // From now on, every call says so: the host's last answers, then the tombstone.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        match mortal.methods().add().remote(0).get_timeout(WAIT) {
            Err(ActorError::ActorDied { cause: seen, .. }) => assert!(cause(&seen), "{seen:?}"),
            other => panic!("after ActorDied, {other:?}"),
        }
    }
    match mortal.state() {
        ActorState::Dead(seen) => assert!(cause(&seen), "{seen:?}"),
        other => panic!("state() says {other:?}"),
    }
    assert!(
        matches!(
            helio::get_actor::<Mortal>(name),
            Err(helio::LookupError::NotFound { .. })
        ),
        "a dead actor's name finds nothing"
    );
    let dead: Vec<_> = helio::list_dead_actors()
        .into_iter()
        .filter(|info| info.name == name)
        .collect();
    assert!(
        matches!(&dead[..], [info] if matches!(&info.state, ActorState::Dead(seen) if cause(seen))),
        "listed dead: {dead:?}"
    );
    // The name is free: a new actor takes it.
    let again = Mortal::new_actor()
        .options(ActorOptions::new().name(name).lifetime(Lifetime::Detached))
        .remote(7);
    assert_eq!(
        again.methods().add().remote(1).get_timeout(WAIT).unwrap(),
        8
    );
    let found = helio::get_actor::<Mortal>(name).expect("the new one");
    assert_eq!(found.id(), again.id());
    say("done");
}

/// Runs a host of `name` (with `options`), a standby node and an observer; `end` ends the
/// host; the observer must see the death with `cause`.
fn death_seen_by_a_third_process(
    test: &str,
    role_now: Option<&str>,
    name: &str,
    options: ActorOptions,
    cause: fn(&DeathCause) -> bool,
    end: fn(&mut Proc, &mut Proc),
) {
    match role_now {
        Some("host") => return host(name, options),
        Some("standby") => {
            join("standby", true);
            say("ready");
            return park();
        }
        Some("observer") => {
            join("observer", true);
            return observe_death(name, cause);
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut standby = Proc::start(test, "standby", &nats.url);
    standby.expect("ready");
    let mut observer = Proc::start(test, "observer", &nats.url);
    observer.expect("watching");
    end(&mut host, &mut standby);
    observer.tell("dead");
    let after: u64 = observer.expect("died-after-ms").parse().unwrap();
    println!("{test}: the observer saw ActorDied {after} ms after the death");
    observer.expect("done");
    observer.succeeds();
}

fn sigkill(host: &mut Proc, _: &mut Proc) {
    host.kill();
}

#[test]
fn an_actor_killed_for_good_is_dead_in_every_process() {
    let test = "an_actor_killed_for_good_is_dead_in_every_process";
    match role().as_deref() {
        // The standby role kills it here: a process that is neither host nor observer.
        Some("standby") => {
            join("killer", true);
            say("ready");
            let _ = next_line();
            let mortal = helio::get_actor::<Mortal>("k").expect("find it");
            helio::kill(&mortal, true);
            say("killed");
            park();
        }
        role_now => death_seen_by_a_third_process(
            test,
            role_now,
            "k",
            ActorOptions::new()
                .lifetime(Lifetime::Detached)
                .max_restarts(3),
            |cause| *cause == DeathCause::Killed,
            |_, killer| {
                killer.tell("kill");
                killer.expect("killed");
            },
        ),
    }
}

#[test]
fn a_detached_actor_without_restarts_dies_with_its_node_in_every_process() {
    death_seen_by_a_third_process(
        "a_detached_actor_without_restarts_dies_with_its_node_in_every_process",
        role().as_deref(),
        "d",
        ActorOptions::new().lifetime(Lifetime::Detached),
        |cause| matches!(cause, DeathCause::NodeDied(_)),
        sigkill,
    );
}

#[test]
fn a_non_detached_actor_dies_with_its_owner_in_every_process() {
    death_seen_by_a_third_process(
        "a_non_detached_actor_dies_with_its_owner_in_every_process",
        role().as_deref(),
        "n",
        ActorOptions::new(),
        |cause| matches!(cause, DeathCause::NodeDied(_)),
        sigkill,
    );
}

/// Holds an anonymous `Mortal` in its process, and hands its handle out.
pub struct Keeper {
    mortal: Actor<Mortal>,
}

#[actor]
impl Keeper {
    pub fn new() -> Self {
        Keeper {
            mortal: Mortal::new_actor().remote(100),
        }
    }

    #[remote_method]
    pub fn mortal(&self) -> Actor<Mortal> {
        self.mortal.clone()
    }

    #[remote_method]
    pub fn kill_it(&self) {
        helio::kill(&self.mortal, true);
    }
}

/// An anonymous actor whose handle crossed processes: killed for good, its death is known to
/// the process holding the handle (from the host's last answers, then from its tombstone).
#[test]
fn an_anonymous_actor_killed_for_good_is_dead_for_its_remote_handles() {
    match role().as_deref() {
        Some("host") => {
            join("host", true);
            helio::register::<Keeper>();
            let keeper = Keeper::new_actor()
                .options(ActorOptions::new().name("keeper"))
                .remote();
            keeper.ready().get_timeout(WAIT).expect("it starts");
            say("ready");
            return park();
        }
        Some("holder") => {
            join("holder", true);
            helio::register::<Keeper>();
            let keeper = helio::get_actor::<Keeper>("keeper").expect("find the keeper");
            let mortal = keeper
                .methods()
                .mortal()
                .remote()
                .get_timeout(WAIT)
                .unwrap();
            assert_eq!(
                mortal.methods().add().remote(1).get_timeout(WAIT).unwrap(),
                101
            );
            keeper
                .methods()
                .kill_it()
                .remote()
                .get_timeout(WAIT)
                .unwrap();
            let killed = Instant::now();
            let mut seen_after_the_last_answers = false;
            while !seen_after_the_last_answers {
                // Past the host's last answers (half a second), the tombstone answers.
                seen_after_the_last_answers = killed.elapsed() > Duration::from_secs(1);
                let call = mortal.methods().add().remote(0).get_timeout(WAIT);
                assert!(
                    matches!(
                        call,
                        Err(ActorError::ActorDied {
                            cause: DeathCause::Killed,
                            ..
                        })
                    ),
                    "{call:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(mortal.state(), ActorState::Dead(DeathCause::Killed));
            say("done");
            return;
        }
        _ => {}
    }
    let test = "an_anonymous_actor_killed_for_good_is_dead_for_its_remote_handles";
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut holder = Proc::start(test, "holder", &nats.url);
    holder.expect("done");
    holder.succeeds();
}

/// A client-only process (`Config::host(false)`) creates actors elsewhere and calls them,
/// but `Placement::Any` never picks it, and neither does a restart after a node death.
#[test]
fn a_client_only_process_never_hosts_placed_or_restarted_actors() {
    match role().as_deref() {
        Some("first") => {
            join("first", true);
            let options = ActorOptions::new()
                .name("phoenix")
                .lifetime(Lifetime::Detached)
                .max_restarts(1);
            let mortal = Mortal::new_actor().options(options).remote(100);
            mortal.ready().get_timeout(WAIT).expect("it starts");
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("second") => {
            join("second", true);
            say(format!("ready {}", std::process::id()));
            return park();
        }
        Some("client") => {
            join("client", false);
            let placed: Vec<u32> = (0..20)
                .map(|i| {
                    let mortal = Mortal::new_actor()
                        .options(ActorOptions::new().placement(Placement::Any))
                        .remote(i);
                    mortal.methods().pid().remote().get_timeout(WAIT).unwrap()
                })
                .collect();
            say(format!("placed {placed:?}"));
            let phoenix = helio::get_actor::<Mortal>("phoenix").expect("find it");
            assert_eq!(
                phoenix.methods().add().remote(1).get_timeout(WAIT).unwrap(),
                101
            );
            say("watching");
            let _ = next_line(); // its node was killed
            let killed = Instant::now();
            let pid = loop {
                match phoenix.methods().pid().remote().get_timeout(WAIT) {
                    Ok(pid) => break pid,
                    Err(ActorError::ActorUnavailable { .. }) => {
                        assert!(killed.elapsed() < WAIT, "not restarted within {WAIT:?}");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
            };
            say(format!("revived-by {pid}"));
            return;
        }
        _ => {}
    }
    let test = "a_client_only_process_never_hosts_placed_or_restarted_actors";
    let nats = Nats::start();
    let mut first = Proc::start(test, "first", &nats.url);
    let first_pid: u32 = first.expect("ready").parse().unwrap();
    let mut second = Proc::start(test, "second", &nats.url);
    let second_pid: u32 = second.expect("ready").parse().unwrap();
    let mut client = Proc::start(test, "client", &nats.url);
    let placed = client.expect("placed");
    let placed: Vec<u32> = placed
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|pid| pid.parse().unwrap())
        .collect();
    assert_eq!(placed.len(), 20);
    assert!(
        placed
            .iter()
            .all(|pid| [first_pid, second_pid].contains(pid)),
        "placed on {placed:?}; hosts are {first_pid} and {second_pid}, the client {}",
        client.pid()
    );
    client.expect("watching");
    first.kill();
    client.tell("killed");
    let revived: u32 = client.expect("revived-by").parse().unwrap();
    assert_eq!(
        revived, second_pid,
        "restarted on the other host, not the client"
    );
    client.succeeds();
}

/// The registry keeps the last tombstones only (`Config::dead_actors_kept`), the newest ones,
/// and a name claimed again after its actor died is never swept with its old tombstone.
#[test]
fn tombstones_beyond_the_retention_are_dropped_oldest_first() {
    if role().as_deref() == Some("sweeper") {
        let config = helio::Config::cluster(url())
            .node_name("sweeper")
            .dead_actors_kept(5, Duration::from_secs(3600));
        helio::init(config).expect("join the cluster");
        helio::register::<Mortal>();
        let named = |name: &str| {
            let options = ActorOptions::new().name(name).lifetime(Lifetime::Detached);
            let mortal = Mortal::new_actor().options(options).remote(0);
            assert_eq!(mortal.methods().add().remote(1).get_timeout(WAIT), Ok(1));
            mortal
        };
        helio::kill(&named("phoenix"), true);
        let dead_then_back = named("phoenix");
        for i in 0..30 {
            helio::kill(&named(&format!("mortal-{i:02}")), true);
        }
        let start = Instant::now();
        let dead = loop {
            let dead: Vec<String> = helio::list_dead_actors()
                .into_iter()
                .map(|info| info.name)
                .collect();
            if dead.len() <= 5 {
                break dead;
            }
            assert!(start.elapsed() < WAIT, "still {} tombstones", dead.len());
            std::thread::sleep(Duration::from_millis(50));
        };
        // The newest by the time of death; deaths recorded at once may land in either order.
        assert!(
            !dead.is_empty() && dead.iter().all(|name| name.as_str() >= "mortal-20"),
            "kept {dead:?}"
        );
        let found = helio::get_actor::<Mortal>("phoenix").expect("the live one");
        assert_eq!(found.id(), dead_then_back.id());
        say("done");
        return;
    }
    let nats = Nats::start();
    let test = "tombstones_beyond_the_retention_are_dropped_oldest_first";
    let mut sweeper = Proc::start(test, "sweeper", &nats.url);
    sweeper.expect("done");
    sweeper.succeeds();
}

/// Listing the cluster's actors while a name is taken, killed and taken again names each
/// actor once: a record rewritten while the listing runs is not listed twice.
#[test]
fn listings_name_each_actor_once_while_records_change() {
    if role().as_deref() == Some("lister") {
        join("lister", true);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut rounds = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // `kill` returns before the name is free: take it again once it is.
                    let taken = Instant::now();
                    let mortal = loop {
                        let options = ActorOptions::new()
                            .name("churn")
                            .lifetime(Lifetime::Detached);
                        let mortal = Mortal::new_actor().options(options).remote(0);
                        match mortal.methods().add().remote(1).get_timeout(WAIT) {
                            Ok(1) => break mortal,
                            Err(ActorError::ActorDied {
                                cause: DeathCause::NameTaken { .. },
                                ..
                            }) if taken.elapsed() < WAIT => {}
                            other => panic!("churn: {other:?}"),
                        }
                    };
                    helio::kill(&mortal, true);
                    rounds += 1;
                }
                rounds
            }
        });
        let mut listings = 0;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            for (what, listed) in [
                ("live", helio::list_actors()),
                ("dead", helio::list_dead_actors()),
            ] {
                let churn: Vec<_> = listed.iter().filter(|info| info.name == "churn").collect();
                assert!(churn.len() <= 1, "{what} lists churn twice: {churn:?}");
            }
            listings += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = churn.join().expect("the churn");
        assert!(
            rounds > 5 && listings > 5,
            "{rounds} rounds, {listings} listings"
        );
        say("done");
        return;
    }
    let test = "listings_name_each_actor_once_while_records_change";
    let nats = Nats::start();
    let mut lister = Proc::start(test, "lister", &nats.url);
    lister.expect("done");
    lister.succeeds();
}
