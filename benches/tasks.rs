//! Throughput of tiny tasks: helio's `#[remote]` fns next to `tokio::spawn` + a oneshot and
//! rayon's `spawn` + a channel, in the same run.
//!
//! Each round submits `TASKS` tasks that add 1 to their argument, then waits for every
//! result; the figure is the median of `ROUNDS` rounds, in tasks per second, with helio's
//! ratio to the baseline beside it:
//!
//! - `helio async` (num_cpus 0, so no CPU accounting) vs `tokio::spawn`, both on a 2-worker
//!   multi-thread runtime; the goal is at least 0.5x.
//! - `helio async` with the default `num_cpus = 1`: every task takes a CPU from the node's
//!   ledger and waits in line for one.
//! - `helio sync` (the blocking pool) vs rayon's `spawn` on a 2-thread pool.
//!
//! Each line also gives the allocations per task, counted over one more round.
//!
//! Run with `cargo bench --bench tasks` (or `taskset -c 0,1` to pin it).

use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

use helio::prelude::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

const TASKS: u64 = 100_000;
const ROUNDS: usize = 5;
const WORKERS: usize = 2;

#[remote]
async fn incr(x: u64) -> u64 {
    x + 1
}

#[remote]
fn incr_sync(x: u64) -> u64 {
    x + 1
}

/// The median of `ROUNDS` timings of `round`.
fn median(mut round: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS).map(|_| round()).collect();
    times.sort();
    times[ROUNDS / 2]
}

fn per_second(time: Duration) -> f64 {
    TASKS as f64 / time.as_secs_f64()
}

/// Submits every task of a round through `submit`, then checks every result.
fn helio_round(submit: impl Fn(u64) -> ObjectRef<u64>) -> Duration {
    let start = Instant::now();
    let refs: Vec<ObjectRef<u64>> = (0..TASKS).map(&submit).collect();
    let results = helio::get_all(refs).expect("every task returns");
    let took = start.elapsed();
    assert_eq!(results.iter().sum::<u64>(), TASKS * (TASKS + 1) / 2);
    took
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    helio::init(helio::Config::new().runtime(rt.handle().clone())).expect("helio");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool");

    let tokio_round = || {
        let start = Instant::now();
        let sum: u64 = rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|x| {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    tokio::spawn(async move {
                        let _ = tx.send(x + 1);
                    });
                    rx
                })
                .collect();
            let mut sum = 0;
            for rx in handles {
                sum += rx.await.expect("a result");
            }
            sum
        });
        let took = start.elapsed();
        assert_eq!(sum, TASKS * (TASKS + 1) / 2);
        took
    };
    let rayon_round = || {
        let start = Instant::now();
        let (tx, rx) = mpsc::channel();
        for x in 0..TASKS {
            let tx = tx.clone();
            pool.spawn(move || {
                let _ = tx.send(x + 1);
            });
        }
        drop(tx);
        let sum: u64 = rx.iter().sum();
        let took = start.elapsed();
        assert_eq!(sum, TASKS * (TASKS + 1) / 2);
        took
    };
    let free = incr.options(TaskOptions::new().num_cpus(0.0));
    let free_sync = incr_sync.options(TaskOptions::new().num_cpus(0.0));
    let helio_async = || helio_round(|x| free.remote(x));
    let helio_async_cpu = || helio_round(|x| incr.remote(x));
    let helio_sync = || helio_round(|x| free_sync.remote(x));

    // Allocations per task: one untimed round each (it also warms every path up).
    let allocs = [
        counting_alloc::per_item(TASKS, tokio_round).0,
        counting_alloc::per_item(TASKS, rayon_round).0,
        counting_alloc::per_item(TASKS, helio_async).0,
        counting_alloc::per_item(TASKS, helio_async_cpu).0,
        counting_alloc::per_item(TASKS, helio_sync).0,
    ];
    let times = [
        median(tokio_round),
        median(rayon_round),
        median(helio_async),
        median(helio_async_cpu),
        median(helio_sync),
    ];
    let [tokio_spawn, rayon_spawn, ..] = times;
    let rows = [
        ("tokio::spawn + oneshot", None),
        ("rayon spawn + channel", None),
        (
            "helio async, num_cpus 0",
            Some(("tokio::spawn", tokio_spawn)),
        ),
        (
            "helio async, num_cpus 1",
            Some(("tokio::spawn", tokio_spawn)),
        ),
        ("helio sync, num_cpus 0", Some(("rayon spawn", rayon_spawn))),
    ];

    println!("{TASKS} tiny tasks, median of {ROUNDS} rounds, {WORKERS} workers");
    for (((name, baseline), time), allocs) in rows.into_iter().zip(times).zip(allocs) {
        let ratio = baseline.map_or(String::new(), |(what, base): (&str, Duration)| {
            format!("  {:.2}x {what}", base.as_secs_f64() / time.as_secs_f64())
        });
        println!(
            "{name:<26} {:>10.0} tasks/s {allocs:>5.1} allocs/task{ratio}",
            per_second(time)
        );
    }
}
