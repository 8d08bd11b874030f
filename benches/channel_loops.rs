//! Channel throughput in the loops people write, helio-channel next to `tokio::sync::mpsc` and
//! `flume`, on one tokio multi-thread runtime, in the same run.
//!
//! Unlike `benches/channel.rs` (which puts all items in flight at once), every shape here awaits
//! each `send`/`recv` (or batch) before the next, in producer and consumer tasks spawned on the
//! runtime, so a send waits for room and a receive waits for an item as in real code:
//!
//! - `natural 1/1`: one producer `for i in 0..n { tx.send(i).await }`, then drops its sender; one
//!   consumer `while let Ok(v) = rx.recv().await` until closed, checking it got `0..n` in order.
//!   Capacity 1024: `helio_channel::channel(1024)`, `tokio::sync::mpsc::channel(1024)`,
//!   `flume::bounded(1024)` (`send_async`/`recv_async`).
//! - `natural 4/4`: 4 producers (cloned senders), producer `p` sends `p*n/4 .. (p+1)*n/4`; 4
//!   consumers. helio and flume clone the receiver. tokio's mpsc has one receiver, so its 4
//!   consumers share it as an `Arc<tokio::sync::Mutex<Receiver>>` (lock, `recv().await`, unlock):
//!   the usual way to share it, and the lock is part of what that side measures. Checks: the
//!   count, sum and sum of squares of all items received (none lost or duplicated), and each
//!   consumer saw each producer's items in increasing order.
//! - `batch 1000`: capacity 100 000; one producer sends `10 * n` items (ten times the other
//!   shapes, which would take only milliseconds here) 1000 at a time, one consumer takes up to
//!   1000 at a time, checking it got `0..10 * n` in order. helio: `send_batch(Vec of 1000)` and
//!   `recv_batch(1000)`. tokio, its batch APIs: `reserve_many(1000)` then one `Permit::send` per
//!   item, and `recv_many(&mut buf, 1000)`. flume has no batch send: `send_async` per item, and
//!   `recv_async` for the first item then up to 999 more from `try_iter()`.
//! - `fairness`: capacity 1; `S` senders each send `M` items concurrently (sender `s` sends
//!   `s*M .. (s+1)*M`), one consumer receives all, checking each sender's items come in order.
//!   Run with `S = 10` and `S = 100`, the same total `S * M`. helio's goal is
//!   `fairness 100/10 >= 0.5`: a hundred waiting senders should cost at most twice ten. tokio and
//!   flume run the same shape, for reference.
//!
//! Each side runs once as a warm-up (a tenth of the items) and once measured; the figure is the
//! items received divided by the wall time from creating the channel to the last task's end.
//! Every run is bounded by a timeout ([`BOUND`]): a hang prints which shape and side hung and
//! exits with status 2 instead of running forever. helio creates its channel actors on the
//! runtime it is called from, so all sides share the same `--workers` threads.
//!
//! Flags: `--items N` (default 1 000 000) items per run; `--helio-items N` (default: the same)
//! items per helio run, to keep helio runs short where its loops are much slower (a rate is a
//! fair comparison even when the sides move different numbers of items); `--workers W` (default
//! 2). With the defaults the whole bench takes about 20 s on 2 cores, no helio run over 5 s.
//! Run with `cargo bench --bench channel_loops` or
//! `cargo bench --bench channel_loops -- --workers 4 --items 2000000`.
//!
//! Reading the results: `helio/tokio` is helio's items/s divided by tokio's on the same shape;
//! 1.0 means a helio channel moves items as fast as tokio's, 0.01 means each item costs a
//! hundred times the time. `helio/flume` likewise. `fairness 100/10` is items/s with 100
//! senders divided by items/s with 10: below 1.0, waiting senders slow the channel down.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use helio_channel::ChannelError;
use tokio::{runtime::Builder, sync::mpsc, task::JoinHandle};

/// The most one run (warm-up or measured) may take before the bench reports a hang.
const BOUND: Duration = Duration::from_secs(60);
/// The bounded channels' capacity in the natural shapes.
const CAP: usize = 1024;
/// The batch size in `batch 1000`.
const BATCH: u64 = 1000;
/// The channels' capacity in `batch 1000`.
const BATCH_CAP: usize = 100_000;
/// Producers and consumers in `natural 4/4`.
const FOUR: u64 = 4;

/// The command line.
#[derive(Clone, Copy, Debug)]
struct Args {
    items: u64,
    /// 0 until parsed: then `items` unless `--helio-items` was given.
    helio_items: u64,
    workers: u64,
}

impl Args {
    fn parse() -> Self {
        let mut args = Args {
            items: 1_000_000,
            helio_items: 0,
            workers: 2,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let slot = match flag.as_str() {
                "--items" => &mut args.items,
                "--helio-items" => &mut args.helio_items,
                "--workers" => &mut args.workers,
                // `cargo bench` passes `--bench` to every bench binary.
                "--bench" => continue,
                "--help" | "-h" => {
                    println!("usage: channel_loops [--items N] [--helio-items N] [--workers W]");
                    std::process::exit(0);
                }
                other => panic!("unknown flag {other:?} (try --help)"),
            };
            let value = it
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .parse::<u64>()
                .unwrap_or_else(|err| panic!("{flag}: {err}"));
            assert!(value > 0, "{flag} must be at least 1");
            *slot = value;
        }
        if args.helio_items == 0 {
            args.helio_items = args.items;
        }
        args
    }
}

/// What the consumers of one run received: checks that no item was lost or duplicated and that
/// each producer's items came in order.
struct Seen {
    /// Items per producer: producer `p` sends `p*per .. (p+1)*per`.
    per: u64,
    /// The last item seen from each producer.
    last: Vec<Option<u64>>,
    count: u64,
    sum: u128,
    sum_sq: u128,
}

impl Seen {
    fn new(producers: u64, per: u64) -> Self {
        Seen {
            per,
            last: vec![None; producers as usize],
            count: 0,
            sum: 0,
            sum_sq: 0,
        }
    }

    fn add(&mut self, v: u64) {
        let p = (v / self.per) as usize;
        assert!(p < self.last.len(), "item {v} was never sent");
        if let Some(last) = self.last[p] {
            assert!(v > last, "producer {p}'s item {v} came after {last}");
        }
        self.last[p] = Some(v);
        self.count += 1;
        self.sum += u128::from(v);
        self.sum_sq += u128::from(v) * u128::from(v);
    }

    /// Checks that the consumers together got exactly the `total` items `0..total`.
    fn check_all(seen: &[Seen], total: u64, what: &str) {
        let count: u64 = seen.iter().map(|s| s.count).sum();
        let sum: u128 = seen.iter().map(|s| s.sum).sum();
        let sum_sq: u128 = seen.iter().map(|s| s.sum_sq).sum();
        let n = u128::from(total);
        let want_sum = n * n.saturating_sub(1) / 2;
        let want_sq = n.saturating_sub(1) * n * (2 * n).saturating_sub(1) / 6;
        assert_eq!(count, total, "{what}: items received");
        assert_eq!(sum, want_sum, "{what}: sum of items (lost or duplicated)");
        assert_eq!(
            sum_sq, want_sq,
            "{what}: sum of squares (lost or duplicated)"
        );
    }
}

/// Awaits `task`, failing loudly if it panicked.
async fn join<T>(task: JoinHandle<T>, what: &str) -> T {
    task.await.unwrap_or_else(|err| panic!("{what}: {err}"))
}

/// Runs `run(n / 10)` as a warm-up, then `run(n)` measured, each within [`BOUND`]. `run` returns
/// the number of items it moved (checked); the result is items/s of the measured run.
async fn measure<F, Fut>(shape: &str, side: &str, n: u64, run: F) -> Rate
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = u64>,
{
    let warm_up = (n / 10).max(1);
    bounded(shape, side, warm_up, run(warm_up)).await;
    let start = Instant::now();
    let items = bounded(shape, side, n, run(n)).await;
    let secs = start.elapsed().as_secs_f64();
    Rate {
        items,
        per_s: items as f64 / secs,
    }
}

/// Awaits `run`, `n` items of `shape`'s `side`, or exits with status 2 if it takes over
/// [`BOUND`].
async fn bounded(shape: &str, side: &str, n: u64, run: impl Future<Output = u64>) -> u64 {
    match tokio::time::timeout(BOUND, run).await {
        Ok(items) => items,
        Err(_) => {
            eprintln!("{shape} / {side}: no end after {BOUND:?} with {n} items: it hangs");
            std::process::exit(2);
        }
    }
}

/// One side's measured run.
#[derive(Clone, Copy, Debug)]
struct Rate {
    items: u64,
    per_s: f64,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.3} M items/s ({} items)",
            self.per_s / 1e6,
            self.items
        )
    }
}

/// The helio receive loop: `Ok` items until `Closed`; any other error is a failure.
async fn helio_drain(rx: helio_channel::Receiver<u64>, mut seen: Seen) -> Seen {
    loop {
        match rx.recv().await {
            Ok(v) => seen.add(v),
            Err(ChannelError::Closed) => return seen,
            Err(err) => panic!("helio recv: {err}"),
        }
    }
}

// ---- natural 1/1 and 4/4: `producers` senders, `consumers` receivers, capacity CAP ----

async fn helio_natural(n: u64, producers: u64, consumers: u64) -> u64 {
    let per = n / producers;
    let (tx, rx) = helio_channel::channel::<u64>(CAP);
    let senders: Vec<_> = (0..producers)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in p * per..(p + 1) * per {
                    tx.send(i).await.expect("helio send");
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..consumers)
        .map(|_| tokio::spawn(helio_drain(rx.clone(), Seen::new(producers, per))))
        .collect();
    drop(rx);
    for s in senders {
        join(s, "helio producer").await;
    }
    let mut seen = Vec::new();
    for r in receivers {
        seen.push(join(r, "helio consumer").await);
    }
    Seen::check_all(&seen, per * producers, "helio");
    per * producers
}

async fn tokio_natural(n: u64, producers: u64, consumers: u64) -> u64 {
    let per = n / producers;
    let (tx, rx) = mpsc::channel::<u64>(CAP);
    let senders: Vec<_> = (0..producers)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in p * per..(p + 1) * per {
                    tx.send(i).await.expect("tokio send");
                }
            })
        })
        .collect();
    drop(tx);
    // tokio's mpsc has a single receiver: several consumers share it behind a mutex.
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let receivers: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = Arc::clone(&rx);
            let mut seen = Seen::new(producers, per);
            tokio::spawn(async move {
                loop {
                    let got = rx.lock().await.recv().await;
                    match got {
                        Some(v) => seen.add(v),
                        None => return seen,
                    }
                }
            })
        })
        .collect();
    for s in senders {
        join(s, "tokio producer").await;
    }
    let mut seen = Vec::new();
    for r in receivers {
        seen.push(join(r, "tokio consumer").await);
    }
    Seen::check_all(&seen, per * producers, "tokio");
    per * producers
}

async fn flume_natural(n: u64, producers: u64, consumers: u64) -> u64 {
    let per = n / producers;
    let (tx, rx) = flume::bounded::<u64>(CAP);
    let senders: Vec<_> = (0..producers)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in p * per..(p + 1) * per {
                    tx.send_async(i).await.expect("flume send");
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            let mut seen = Seen::new(producers, per);
            tokio::spawn(async move {
                while let Ok(v) = rx.recv_async().await {
                    seen.add(v);
                }
                seen
            })
        })
        .collect();
    drop(rx);
    for s in senders {
        join(s, "flume producer").await;
    }
    let mut seen = Vec::new();
    for r in receivers {
        seen.push(join(r, "flume consumer").await);
    }
    Seen::check_all(&seen, per * producers, "flume");
    per * producers
}

// ---- batch 1000: one producer, one consumer, capacity BATCH_CAP ----

async fn helio_batch(n: u64) -> u64 {
    let total = (n / BATCH).max(1) * BATCH;
    let (tx, rx) = helio_channel::channel::<u64>(BATCH_CAP);
    let sender = tokio::spawn(async move {
        for start in (0..total).step_by(BATCH as usize) {
            let batch: Vec<u64> = (start..start + BATCH).collect();
            tx.send_batch(batch).await.expect("helio send_batch");
        }
    });
    let receiver = tokio::spawn(async move {
        let mut seen = Seen::new(1, total);
        loop {
            match rx.recv_batch(BATCH as usize).await {
                Ok(batch) => batch.into_iter().for_each(|v| seen.add(v)),
                Err(ChannelError::Closed) => return seen,
                Err(err) => panic!("helio recv_batch: {err}"),
            }
        }
    });
    join(sender, "helio producer").await;
    let seen = join(receiver, "helio consumer").await;
    Seen::check_all(&[seen], total, "helio");
    total
}

async fn tokio_batch(n: u64) -> u64 {
    let total = (n / BATCH).max(1) * BATCH;
    let (tx, mut rx) = mpsc::channel::<u64>(BATCH_CAP);
    let sender = tokio::spawn(async move {
        for start in (0..total).step_by(BATCH as usize) {
            let permits = tx
                .reserve_many(BATCH as usize)
                .await
                .expect("tokio reserve");
            for (permit, v) in permits.zip(start..start + BATCH) {
                permit.send(v);
            }
        }
    });
    let receiver = tokio::spawn(async move {
        let mut seen = Seen::new(1, total);
        let mut buf = Vec::with_capacity(BATCH as usize);
        while rx.recv_many(&mut buf, BATCH as usize).await > 0 {
            buf.drain(..).for_each(|v| seen.add(v));
        }
        seen
    });
    join(sender, "tokio producer").await;
    let seen = join(receiver, "tokio consumer").await;
    Seen::check_all(&[seen], total, "tokio");
    total
}

async fn flume_batch(n: u64) -> u64 {
    let total = (n / BATCH).max(1) * BATCH;
    let (tx, rx) = flume::bounded::<u64>(BATCH_CAP);
    let sender = tokio::spawn(async move {
        for v in 0..total {
            tx.send_async(v).await.expect("flume send");
        }
    });
    let receiver = tokio::spawn(async move {
        let mut seen = Seen::new(1, total);
        while let Ok(first) = rx.recv_async().await {
            seen.add(first);
            rx.try_iter()
                .take(BATCH as usize - 1)
                .for_each(|v| seen.add(v));
        }
        seen
    });
    join(sender, "flume producer").await;
    let seen = join(receiver, "flume consumer").await;
    Seen::check_all(&[seen], total, "flume");
    total
}

// ---- fairness: `senders` senders on a capacity-1 channel, one consumer ----

/// Items per sender so that 10 and 100 senders move the same total, a multiple of 100.
fn fair_per(n: u64, senders: u64) -> u64 {
    (n / 100).max(1) * 100 / senders
}

async fn helio_fair(n: u64, senders: u64) -> u64 {
    let per = fair_per(n, senders);
    let (tx, rx) = helio_channel::channel::<u64>(1);
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in s * per..(s + 1) * per {
                    tx.send(i).await.expect("helio send");
                }
            })
        })
        .collect();
    drop(tx);
    let receiver = tokio::spawn(helio_drain(rx, Seen::new(senders, per)));
    for t in tasks {
        join(t, "helio sender").await;
    }
    let seen = join(receiver, "helio consumer").await;
    Seen::check_all(&[seen], per * senders, "helio");
    per * senders
}

async fn tokio_fair(n: u64, senders: u64) -> u64 {
    let per = fair_per(n, senders);
    let (tx, mut rx) = mpsc::channel::<u64>(1);
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in s * per..(s + 1) * per {
                    tx.send(i).await.expect("tokio send");
                }
            })
        })
        .collect();
    drop(tx);
    let receiver = tokio::spawn(async move {
        let mut seen = Seen::new(senders, per);
        while let Some(v) = rx.recv().await {
            seen.add(v);
        }
        seen
    });
    for t in tasks {
        join(t, "tokio sender").await;
    }
    let seen = join(receiver, "tokio consumer").await;
    Seen::check_all(&[seen], per * senders, "tokio");
    per * senders
}

async fn flume_fair(n: u64, senders: u64) -> u64 {
    let per = fair_per(n, senders);
    let (tx, rx) = flume::bounded::<u64>(1);
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in s * per..(s + 1) * per {
                    tx.send_async(i).await.expect("flume send");
                }
            })
        })
        .collect();
    drop(tx);
    let receiver = tokio::spawn(async move {
        let mut seen = Seen::new(senders, per);
        while let Ok(v) = rx.recv_async().await {
            seen.add(v);
        }
        seen
    });
    for t in tasks {
        join(t, "flume sender").await;
    }
    let seen = join(receiver, "flume consumer").await;
    Seen::check_all(&[seen], per * senders, "flume");
    per * senders
}

/// Prints one shape's three sides and helio's ratios.
fn report(shape: &str, helio: Rate, tokio: Rate, flume: Rate) {
    println!("{shape}:");
    println!("  tokio  {tokio}");
    println!("  flume  {flume}");
    println!("  helio  {helio}");
    println!(
        "  helio/tokio = {:.4}, helio/flume = {:.4}",
        helio.per_s / tokio.per_s,
        helio.per_s / flume.per_s
    );
}

fn main() {
    let args = Args::parse();
    let rt = Builder::new_multi_thread()
        .worker_threads(args.workers as usize)
        .thread_name("channel-loops-worker")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (n, hn) = (args.items, args.helio_items);
    println!(
        "workers={} items={n} (tokio, flume) helio-items={hn} (helio)",
        args.workers
    );

    // Everything runs inside the runtime, so helio creates its channel actors on it.
    rt.block_on(async move {
        let shape = "natural 1/1 (capacity 1024)";
        let tokio = measure(shape, "tokio", n, |n| tokio_natural(n, 1, 1)).await;
        let flume = measure(shape, "flume", n, |n| flume_natural(n, 1, 1)).await;
        let helio = measure(shape, "helio", hn, |n| helio_natural(n, 1, 1)).await;
        report(shape, helio, tokio, flume);

        let shape = "natural 4/4 (capacity 1024; tokio: 4 consumers on one Mutex<Receiver>)";
        let tokio = measure(shape, "tokio", n, |n| tokio_natural(n, FOUR, FOUR)).await;
        let flume = measure(shape, "flume", n, |n| flume_natural(n, FOUR, FOUR)).await;
        let helio = measure(shape, "helio", hn, |n| helio_natural(n, FOUR, FOUR)).await;
        report(shape, helio, tokio, flume);

        let shape = "batch 1000 (capacity 100000; flume sends one by one)";
        let tokio = measure(shape, "tokio", 10 * n, tokio_batch).await;
        let flume = measure(shape, "flume", 10 * n, flume_batch).await;
        let helio = measure(shape, "helio", 10 * hn, helio_batch).await;
        report(shape, helio, tokio, flume);

        println!("fairness (capacity 1, S senders, one consumer, same total):");
        let mut ratios = Vec::new();
        for (side, items) in [("tokio", n), ("flume", n), ("helio", hn)] {
            let mut rates = Vec::new();
            for senders in [10, 100] {
                let shape = format!("fairness S={senders}");
                let rate = match side {
                    "tokio" => measure(&shape, side, items, |n| tokio_fair(n, senders)).await,
                    "flume" => measure(&shape, side, items, |n| flume_fair(n, senders)).await,
                    _ => measure(&shape, side, items, |n| helio_fair(n, senders)).await,
                };
                rates.push(rate);
            }
            println!("  {side:<5}  S=10 {}, S=100 {}", rates[0], rates[1]);
            ratios.push((side, rates[1].per_s / rates[0].per_s));
        }
        let ratios: Vec<String> = ratios
            .iter()
            .map(|(side, r)| format!("{side} {r:.3}"))
            .collect();
        println!(
            "  fairness 100/10: {} (helio's goal: >= 0.5)",
            ratios.join(", ")
        );
    });
}
