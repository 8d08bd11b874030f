//! Restart latency: from a crash to the first call served by the restarted actor.
//!
//! - **helio**: `helio::kill(&actor, false)` on an actor with `max_restarts = -1`, then one call
//!   (`ping`) and a blocking wait for its reply. The kill drops the state, re-runs the
//!   constructor with its stored arguments, and serves the queued call on the new instance.
//! - **baseline**: the least a restart can cost: `tokio::spawn` of a task that runs the same
//!   constructor and replies through a oneshot, on a multi-thread runtime with the same number
//!   of workers, waited for from the bench thread.
//!
//! Read the ratio helio / baseline. Run with `cargo bench --bench restart` (pin with
//! `taskset -c 0` for stable figures on small VMs).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use helio::prelude::*;
use tokio::{runtime::Builder, sync::oneshot};

const WORKERS: usize = 2;

/// A small state, as real actors have: built by its constructor on every restart.
pub struct Service {
    buffer: Vec<u64>,
}

#[actor(max_restarts = -1)]
impl Service {
    pub fn new(capacity: usize) -> Self {
        Service {
            buffer: Vec::with_capacity(capacity),
        }
    }

    #[remote_method]
    pub fn ping(&self) -> usize {
        self.buffer.capacity()
    }
}

fn restart(c: &mut Criterion) {
    let _ = helio::init(helio::Config::new().worker_threads(WORKERS));
    let mut group = c.benchmark_group("restart");

    let actor = Service::new_actor().remote(64);
    helio::get(actor.ready()).expect("actor starts");
    group.bench_function("helio", |b| {
        b.iter(|| {
            helio::kill(&actor, false);
            black_box(helio::get(actor.methods().ping().remote()).expect("served after restart"))
        })
    });
    assert!(actor.restarts() > 0, "the bench restarted the actor");

    let rt = Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("baseline runtime");
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let (tx, rx) = oneshot::channel();
            rt.spawn(async move {
                let service = Service::new(64);
                let _ = tx.send(service.buffer.capacity());
            });
            black_box(rx.blocking_recv().expect("spawned task replies"))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(50);
    targets = restart
}
criterion_main!(benches);
