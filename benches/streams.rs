//! Stream throughput: items/s from a helio streaming method vs a raw bounded
//! `tokio::sync::mpsc` with the same buffer (16), each consumed from the bench thread.
//!
//! - **helio**: `#[remote_method] fn upto(n) -> impl Stream<Item = u64>` on an actor, consumed
//!   with `blocking_iter()`.
//! - **baseline**: a task on a 2-worker tokio runtime sends `0..n` into `mpsc::channel(16)`;
//!   the bench thread `blocking_recv`s them.
//!
//! Read the ratio helio / baseline of the times. Run with `cargo bench --bench streams`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::{Stream, stream};
use helio::prelude::*;
use tokio::{runtime::Builder, sync::mpsc};

const ITEMS: u64 = 100_000;

pub struct Numbers;

#[actor]
impl Numbers {
    pub fn new() -> Self {
        Numbers
    }

    #[remote_method]
    pub fn upto(&self, n: u64) -> impl Stream<Item = u64> + Send + 'static {
        stream::iter(0..n)
    }
}

fn streams(c: &mut Criterion) {
    let _ = helio::init(helio::Config::new().worker_threads(2));
    let actor = Numbers::new_actor().remote();
    helio::get(actor.ready()).expect("actor starts");
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("baseline runtime");

    let mut group = c.benchmark_group("stream_100k");
    group.throughput(Throughput::Elements(ITEMS));
    group.bench_function("helio", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for item in actor.methods().upto().remote(ITEMS).blocking_iter() {
                sum += item.expect("item");
            }
            black_box(sum)
        })
    });
    group.bench_function("tokio_mpsc", |b| {
        b.iter(|| {
            let (tx, mut rx) = mpsc::channel(16);
            rt.spawn(async move {
                for i in 0..ITEMS {
                    if tx.send(i).await.is_err() {
                        return;
                    }
                }
            });
            let mut sum = 0u64;
            while let Some(item) = rx.blocking_recv() {
                sum += item;
            }
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(20);
    targets = streams
}
criterion_main!(benches);
