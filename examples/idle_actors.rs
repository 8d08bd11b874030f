//! The cost of an idle helio actor: time to spawn many, and memory each one holds while idle.
//!
//! Spawns `N` actors of a type with no state (`struct Idle;` with one remote method `ping`) from
//! plain sync code, so they run on helio's embedded runtime, and waits until every one is
//! constructed (`ready()`). It prints:
//!
//! - the spawn time: until every `new_actor().remote()` returned, and until all are ready;
//! - the process's resident memory (`VmRSS` of `/proc/self/status`) before spawning and once all
//!   are ready, with the handles still held in a `Vec`;
//! - bytes per idle actor: the RSS growth divided by `N`. It includes the handle in the `Vec`
//!   (its size is printed too) and whatever the allocator keeps around, so it is an upper bound
//!   on what the runtime holds per actor.
//!
//! The goal: at most 1.5 KB per idle actor beyond its own state, and 100 000 actors spawned and
//! ready in under 0.5 s in a release build. At the end a few actors are called to show they
//! serve, the handles are dropped and helio shut down.
//!
//! Flags: `--actors N` (default 100 000). Run with `cargo run --release --example idle_actors`;
//! RSS figures need Linux (`/proc`), elsewhere they print as unknown.

use std::time::Instant;

use helio::prelude::*;

/// An actor with no state of its own.
#[derive(Default)]
pub struct Idle;

#[actor]
impl Idle {
    /// The constructor.
    pub fn new() -> Self {
        Idle
    }

    /// Answers 42: proof that the actor serves.
    #[remote_method]
    pub fn ping(&self) -> u32 {
        42
    }
}

/// The resident set size of this process in bytes, from `/proc/self/status`.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        None => "unknown".to_owned(),
    }
}

fn parse_actors() -> usize {
    let mut n = 100_000;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--actors" => {
                n = it
                    .next()
                    .expect("--actors needs a value")
                    .parse()
                    .expect("--actors takes a positive integer");
                assert!(n > 0, "--actors must be at least 1");
            }
            "--help" | "-h" => {
                println!("usage: idle_actors [--actors N]");
                std::process::exit(0);
            }
            other => panic!("unknown flag {other:?} (try --help)"),
        }
    }
    n
}

fn main() -> Result<(), ActorError> {
    let n = parse_actors();

    // Start the runtime and warm its threads and allocator with one actor, so the RSS before
    // holds everything but the idle actors.
    let warm = Idle::new_actor().remote();
    helio::get(warm.methods().ping().remote())?;
    drop(warm);
    let before = rss_bytes();

    let start = Instant::now();
    let actors: Vec<Actor<Idle>> = (0..n).map(|_| Idle::new_actor().remote()).collect();
    let spawned = start.elapsed();
    // Every `ready` call is sent first, then all are awaited: one wave, not N round trips.
    let ready: Vec<ObjectRef<()>> = actors.iter().map(Actor::ready).collect();
    helio::get_all(ready)?;
    let ready = start.elapsed();
    let after = rss_bytes();

    println!("{n} idle actors");
    println!(
        "spawn: {:.3} s until every handle returned, {:.3} s until all ready ({:.2} µs per actor)",
        spawned.as_secs_f64(),
        ready.as_secs_f64(),
        ready.as_secs_f64() * 1e6 / n as f64
    );
    println!("RSS before: {}, after: {}", mib(before), mib(after));
    match (before, after) {
        (Some(before), Some(after)) => println!(
            "bytes per idle actor: {:.0} (handle in the Vec: {} of them)",
            after.saturating_sub(before) as f64 / n as f64,
            std::mem::size_of::<Actor<Idle>>()
        ),
        _ => println!("bytes per idle actor: unknown (no /proc/self/status)"),
    }

    // A few of them still serve.
    let step = (n / 4).max(1);
    let pings = actors
        .iter()
        .step_by(step)
        .map(|a| a.methods().ping().remote());
    let answers = helio::get_all(pings)?;
    assert!(answers.iter().all(|&a| a == 42), "every ping answers 42");
    println!("{} actors pinged, each answered 42", answers.len());

    let stop = Instant::now();
    drop(actors);
    helio::shutdown();
    println!(
        "dropped and shut down in {:.3} s",
        stop.elapsed().as_secs_f64()
    );
    Ok(())
}
