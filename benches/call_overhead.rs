//! Call overhead of a helio actor next to a hand-written tokio actor.
//!
//! Both sides run the same counter (`value += by; value`) and the same kind of executor:
//!
//! - **helio**: `#[actor] Counter` with a sync `&mut self` method `add`, called through a
//!   reusable method handle (`add.remote(1)`), on helio's embedded multi-thread runtime
//!   (initialised here with 2 worker threads).
//! - **baseline**: one task owning `value: i64` that loops on a
//!   `tokio::sync::mpsc::UnboundedReceiver<(i64, oneshot::Sender<i64>)>`, spawned on its own
//!   multi-thread tokio runtime with 2 worker threads. This is the least an actor with an
//!   unbounded mailbox and a reply channel can do, so it is the floor for helio.
//!
//! Groups (each holds `helio` and `baseline`, measured in the same run):
//!
//! - `round_trip/blocking`: one call and wait for its reply from the plain bench thread
//!   (`helio::get` vs. `oneshot::Receiver::blocking_recv`).
//! - `round_trip/async`: the same from async code on a separate current-thread tokio runtime;
//!   each sample runs all its iterations inside one `block_on` (`iter_custom`), so `block_on`
//!   itself is not measured.
//! - `pipelined_1000`: send 1000 calls, then wait for the 1000 replies in order from the bench
//!   thread (`helio::get_all` vs. `blocking_recv` on each receiver); throughput in calls/s.
//!
//! - `allocations per call` (printed, not timed): one round of `pipelined_1000` on each side
//!   under a counting allocator; every thread counts, so the actor's side is in it.
//!
//! Reading the results: divide helio's mean time by the baseline's in the same group. The ratio
//! is the cost of helio's machinery (object-ref slot, boxed call body, panic catching,
//! scheduling rules) relative to a bare channel round trip; 1.0 means no overhead. The round
//! trips are dominated by cross-thread wake-ups, so their ratio shows the fixed cost per call
//! under latency; `pipelined_1000` amortises wake-ups and shows the per-call CPU cost.
//!
//! On machines with few cores (VMs especially) a round trip costs mostly the wake-up of a
//! thread on another, idle CPU, and whether a benchmark lands in the fast or the slow wake-up
//! mode varies from run to run (2-3x). For a stable overhead ratio, pin the bench to one CPU:
//! `taskset -c 0 cargo bench --bench call_overhead`.
//!
//! Run with `cargo bench --bench call_overhead`.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helio::prelude::*;
use tokio::{
    runtime::{Builder, Runtime},
    sync::{mpsc, oneshot},
};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

/// Worker threads of both the helio runtime and the baseline runtime.
const WORKERS: usize = 2;

/// Calls in flight in `pipelined_1000`.
const PIPELINED: usize = 1000;

/// The helio actor under test.
pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    /// Starts the counter at `start`.
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    /// Adds `by` and returns the new value.
    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }
}

/// A message to the baseline actor: the increment and where to send the new value.
type Msg = (i64, oneshot::Sender<i64>);

/// The hand-written tokio actor: its runtime and its mailbox.
struct Baseline {
    tx: mpsc::UnboundedSender<Msg>,
    // Dropped after `tx`, so the actor task sees its mailbox close before the runtime stops.
    _runtime: Runtime,
}

impl Baseline {
    fn start() -> Self {
        let runtime = Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("baseline-worker")
            .build()
            .expect("baseline runtime");
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        runtime.spawn(async move {
            let mut value: i64 = 0;
            while let Some((by, reply)) = rx.recv().await {
                value += by;
                let _ = reply.send(value);
            }
        });
        Baseline {
            tx,
            _runtime: runtime,
        }
    }

    /// Sends one call; the receiver gets the reply.
    fn add(&self, by: i64) -> oneshot::Receiver<i64> {
        let (reply, rx) = oneshot::channel();
        self.tx.send((by, reply)).expect("baseline actor alive");
        rx
    }
}

/// Starts helio's runtime with as many workers as the baseline's, and one started counter.
fn start_helio() -> Actor<Counter> {
    // `AlreadyRunning` only means an earlier group started it.
    let _ = helio::init(helio::Config::new().worker_threads(WORKERS));
    let counter = Counter::new_actor().remote(0);
    helio::get(counter.ready()).expect("counter constructed");
    counter
}

/// A current-thread runtime for driving async callers.
fn caller_runtime() -> Runtime {
    Builder::new_current_thread()
        .build()
        .expect("caller runtime")
}

fn round_trip_blocking(c: &mut Criterion) {
    let counter = start_helio();
    let baseline = Baseline::start();
    let add = counter.methods().add();

    let mut group = c.benchmark_group("round_trip/blocking");
    group.bench_function("helio", |b| {
        b.iter(|| helio::get(add.remote(black_box(1))).expect("helio reply"));
    });
    group.bench_function("baseline", |b| {
        b.iter(|| {
            baseline
                .add(black_box(1))
                .blocking_recv()
                .expect("baseline reply")
        });
    });
    group.finish();
}

fn round_trip_async(c: &mut Criterion) {
    let counter = start_helio();
    let baseline = Baseline::start();
    let add = counter.methods().add();
    let rt = caller_runtime();

    let mut group = c.benchmark_group("round_trip/async");
    group.bench_function("helio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(add.remote(black_box(1)).await.expect("helio reply"));
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(baseline.add(black_box(1)).await.expect("baseline reply"));
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// One round of `pipelined_1000` on helio: `PIPELINED` calls sent, then their replies.
fn helio_pipelined(call: impl Fn() -> ObjectRef<i64>) -> Vec<i64> {
    let refs: Vec<ObjectRef<i64>> = (0..PIPELINED).map(|_| call()).collect();
    helio::get_all(refs).expect("helio replies")
}

/// One round of `pipelined_1000` on the baseline actor.
fn baseline_pipelined(baseline: &Baseline) -> Vec<i64> {
    let receivers: Vec<oneshot::Receiver<i64>> = (0..PIPELINED).map(|_| baseline.add(1)).collect();
    receivers
        .into_iter()
        .map(|rx| rx.blocking_recv().expect("baseline reply"))
        .collect()
}

fn pipelined(c: &mut Criterion) {
    let counter = start_helio();
    let baseline = Baseline::start();
    let add = counter.methods().add();

    let mut group = c.benchmark_group("pipelined_1000");
    group.throughput(Throughput::Elements(PIPELINED as u64));
    group.bench_function("helio", |b| {
        b.iter(|| helio_pipelined(|| add.remote(1)));
    });
    group.bench_function("baseline", |b| {
        b.iter(|| baseline_pipelined(&baseline));
    });
    group.finish();
}

/// Prints the allocations per pipelined call of each side (after a warm-up round, so that
/// buffers that grow once are not counted).
fn allocations(_: &mut Criterion) {
    let counter = start_helio();
    let baseline = Baseline::start();
    let add = counter.methods().add();
    let helio_round = || helio_pipelined(|| add.remote(1));
    let baseline_round = || baseline_pipelined(&baseline);
    helio_round();
    baseline_round();
    let (helio, _) = counting_alloc::per_item(PIPELINED as u64, helio_round);
    let (raw, _) = counting_alloc::per_item(PIPELINED as u64, baseline_round);
    println!("allocations per pipelined call: helio {helio:.2}, baseline {raw:.2}");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = round_trip_blocking, round_trip_async, pipelined, allocations
}
criterion_main!(benches);
