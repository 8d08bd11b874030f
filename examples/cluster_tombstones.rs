//! How big the registry stays while many short-lived named actors die: each death leaves a
//! tombstone (its cause, for every process), and the registry keeps only the last ones
//! (`Config::dead_actors_kept`).
//!
//! ```text
//! nats-server -js &
//! cargo run --release --features cluster --example cluster_tombstones -- --actors 10000
//! ```
//!
//! Options: `--url URL` (default `$HELIO_URL`, else `nats://127.0.0.1:4222`), `--actors N`
//! (default 10 000), `--keep N` (the retention's count, default 1000, as helio's default).
//! It creates the actors one after another, each named, called once and killed for good, then
//! prints how many records the registry holds: live names, tombstones and nodes.

use std::time::{Duration, Instant};

use helio::prelude::*;

/// A short-lived actor.
pub struct Mayfly;

#[actor]
impl Mayfly {
    /// A new one.
    pub fn new() -> Self {
        Mayfly
    }

    /// Says it lived.
    #[remote_method]
    pub fn live(&self) -> bool {
        true
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = std::env::var("HELIO_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let (mut actors, mut keep) = (10_000usize, 1000usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = value()?,
            "--actors" => actors = value()?.parse()?,
            "--keep" => keep = value()?.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let config = helio::Config::cluster(url)
        .cluster_name(format!("tombstones-{}", std::process::id()))
        .dead_actors_kept(keep, Duration::from_secs(3600));
    helio::init(config)?;
    helio::register::<Mayfly>();

    let start = Instant::now();
    for i in 0..actors {
        let mayfly = Mayfly::new_actor()
            .options(ActorOptions::new().name(format!("mayfly-{i}")))
            .remote();
        assert!(helio::get(mayfly.methods().live().remote())?);
        helio::kill(&mayfly, true);
    }
    let made = start.elapsed();
    // The last deaths are recorded by their hosts' serving tasks, and swept in bursts: wait
    // until the count settles (bounded).
    let mut dead = helio::list_dead_actors().len();
    let settle = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = helio::list_dead_actors().len();
        if (now == dead && now <= keep + keep / 2) || settle.elapsed() > Duration::from_secs(60) {
            dead = now;
            break;
        }
        dead = now;
    }
    let live = helio::list_actors().len();
    let nodes = helio::nodes().len();
    println!(
        "{actors} named actors created, called and killed in {:.1?} ({:.2} ms each)",
        made,
        made.as_secs_f64() * 1000.0 / actors as f64
    );
    println!(
        "registry now: {} records ({live} live names, {dead} tombstones, {nodes} nodes); \
         retention keeps the last {keep}",
        live + dead + nodes
    );
    helio::shutdown();
    Ok(())
}
