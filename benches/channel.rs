//! Channel throughput: items/s through a helio channel's actor vs `tokio::sync::mpsc`, with every
//! put (then every get) in flight at once. This is the actor's pipelined call throughput, not the
//! loop people write (`send(i).await` one at a time, a consumer task awaiting `recv()`): for that,
//! with bounded channels and a flume side too, see `benches/channel_loops.rs`.
//!
//! helio uses one unbounded `RayChannelActor<u64>` on helio's embedded 2-worker runtime
//! (`helio::init`), called through its methods (not `Sender`/`Receiver`) from the bench thread.
//! Neither side ever waits for room, and no consumer runs while items are put.
//!
//! - `single`: 10 000 `put_nowait` calls issued before any is waited for, then `helio::get_all` on
//!   them; then 10 000 `get_nowait` calls issued the same way and waited for together. Baseline: in
//!   one task (`block_on` on a separate 2-worker runtime), 10 000 `send` into an unbounded
//!   `tokio::sync::mpsc` (never waits), then 10 000 `recv().await` (always ready).
//! - `batch_1000`: 100 `put_nowait_batch` calls of 1000 items issued at once and waited for
//!   together, then 100 `get_batch(1000)` calls the same way. Baseline: the same 100 000 items
//!   through an unbounded `tokio::sync::mpsc` in one task, one `send` each, then one `recv` each.
//!
//! Both report items/s (`Throughput::Elements`): helio's time / the baseline's time is how many
//! times longer helio takes to move the same items this way.
//! Run with `cargo bench --bench channel` (pin with `taskset -c 0` on small VMs).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helio::prelude::*;
use helio_channel::{RayChannelActor, Status};
use tokio::{runtime::Builder, sync::mpsc};

const SINGLE: u64 = 10_000;
const BATCHES: u64 = 100;
const BATCH: u64 = 1_000;

fn channel(c: &mut Criterion) {
    let _ = helio::init(helio::Config::new().worker_threads(2));
    let chan: Actor<RayChannelActor<u64>> = RayChannelActor::new_actor().remote(None, true, None);
    helio::get(chan.ready()).expect("channel starts");
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("baseline runtime");

    let mut group = c.benchmark_group("single");
    group.throughput(Throughput::Elements(SINGLE));
    group.bench_function("helio", |b| {
        b.iter(|| {
            let puts: Vec<_> = (0..SINGLE)
                .map(|i| chan.methods().put_nowait().remote(i))
                .collect();
            for status in helio::get_all(puts).expect("puts") {
                assert_eq!(status, Status::Ok);
            }
            let gets: Vec<_> = (0..SINGLE)
                .map(|_| chan.methods().get_nowait().remote(None))
                .collect();
            black_box(helio::get_all(gets).expect("gets"));
        })
    });
    group.bench_function("tokio_mpsc", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::unbounded_channel();
                for i in 0..SINGLE {
                    tx.send(i).expect("send");
                }
                for _ in 0..SINGLE {
                    black_box(rx.recv().await);
                }
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("batch_1000");
    group.throughput(Throughput::Elements(BATCHES * BATCH));
    group.bench_function("helio", |b| {
        b.iter(|| {
            let puts: Vec<_> = (0..BATCHES)
                .map(|n| {
                    chan.methods()
                        .put_nowait_batch()
                        .remote((n * BATCH..(n + 1) * BATCH).collect::<Vec<_>>())
                })
                .collect();
            for status in helio::get_all(puts).expect("puts") {
                assert_eq!(status, Status::Ok);
            }
            let gets: Vec<_> = (0..BATCHES)
                .map(|_| {
                    chan.methods()
                        .get_batch()
                        .remote(BATCH as usize, None, None)
                })
                .collect();
            black_box(helio::get_all(gets).expect("gets"));
        })
    });
    group.bench_function("tokio_mpsc", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::unbounded_channel();
                for i in 0..BATCHES * BATCH {
                    tx.send(i).expect("send");
                }
                for _ in 0..BATCHES * BATCH {
                    black_box(rx.recv().await);
                }
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(30);
    targets = channel
}
criterion_main!(benches);
