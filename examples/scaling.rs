//! Pipelined call throughput of many helio actors and many callers, next to hand-written tokio
//! actors and kameo actors, on one tokio multi-thread runtime, in the same run.
//!
//! All three sides run the same counter (`value += by; value`) and the same callers:
//!
//! - **helio**: `A` actors `#[actor] Counter` with a sync `&mut self` method `add`, created from
//!   inside the runtime (`rt.block_on`), each awaited `ready()` before measuring.
//! - **baseline**: `A` tasks, each owning `value: i64` and looping on a
//!   `tokio::sync::mpsc::UnboundedReceiver<(i64, oneshot::Sender<i64>)>`, spawned on the same
//!   runtime. This is the least an actor with an unbounded mailbox and a reply channel can do, so
//!   it is the floor for helio.
//! - **kameo** (0.22, default features off, no macros): `A` actors `KameoCounter` with a hand-written
//!   `kameo::Actor` and `Message<Add>` (`type Reply = i64`), spawned from inside the runtime with
//!   `Spawn::spawn_with_mailbox(.., mailbox::unbounded())` (kameo's default is a bounded mailbox of
//!   64; unbounded matches the baseline), each awaited `wait_for_startup()` before measuring. A
//!   call is `actor_ref.ask(Add(1)).try_enqueue()`: it puts the message in the mailbox at once
//!   and returns an owned `PendingReply` future, so the `K` calls in flight are really in the
//!   mailboxes (awaiting `ask(..)` itself would only send when polled, i.e. one call at a time).
//!   kameo is another actor library on tokio, so it is the peer helio is compared with.
//! - **callers**: `C` tokio tasks spawned on the runtime. Caller `i` sends its calls to the actors
//!   round-robin, starting at actor `i % A`, keeps `K` calls in flight (it sends until `K` are
//!   pending, then awaits the oldest reply and sends the next call) until it has sent and
//!   received `M` replies.
//!
//! Each side runs once as a warm-up (a quarter of the calls), then the three sides are measured
//! in turn, `--rounds R` times (baseline, kameo, helio, baseline, ...); each figure is all
//! callers' replies divided by the wall time from spawning the callers to the last reply. The
//! summary line gives the median of the rounds' ratios: a ratio compares two measurements taken
//! seconds apart, so a VM whose speed shifts for a while (2-3x on small VMs) skews one round,
//! not the result. At the end each side checks that its actors served every call. The runtime has
//! `--workers N` worker threads. helio and kameo run their actors on the runtime that creates
//! them, so all sides share the same workers, and every call and reply stays on them.
//!
//! Flags: `--workers N` (default 2), `--actors A` (1024), `--callers C` (256), `--inflight K`
//! (256), `--calls M` (per caller, 2000: small enough for a debug build), `--rounds R` (3),
//! `--both` (also run the shape 64 actors x 64 callers). For real figures:
//! `cargo run --release --example scaling -- --workers 16 --calls 200000`.
//!
//! Reading the results: `helio/baseline` is helio's throughput divided by the baseline's; 1.0
//! means helio's machinery (object-ref slot, boxed call body, panic catching, scheduling rules)
//! costs nothing next to a bare channel round trip, 0.5 means each call costs twice the CPU.
//! Compare the ratio across `--workers` to see whether helio scales like the baseline: a ratio
//! that falls as workers grow points at contention (shared locks, atomics) in helio.
//! `helio/kameo` is helio's throughput divided by kameo's for the same calls: above 1.0 helio
//! serves more calls per second than kameo (whose calls box the message, the reply future and
//! the reply, clone the `ActorRef` and catch panics too), below 1.0 fewer.

use std::{collections::VecDeque, sync::Arc, time::Instant};

use helio::prelude::*;
use kameo::{
    actor::{ActorRef, Spawn},
    error::Infallible,
    mailbox,
    message::{Context, Message},
    request::PendingReply,
};
use tokio::{
    runtime::{Builder, Runtime},
    sync::{mpsc, oneshot},
    task::JoinSet,
};

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

/// The kameo actor under test: the same counter, with `kameo::Actor` written by hand.
pub struct KameoCounter {
    value: i64,
}

impl kameo::Actor for KameoCounter {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, _actor_ref: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(state)
    }
}

/// The kameo message: add `.0` and reply with the new value.
#[derive(Debug)]
pub struct Add(i64);

impl Message<Add> for KameoCounter {
    type Reply = i64;

    async fn handle(&mut self, Add(by): Add, _ctx: &mut Context<Self, i64>) -> i64 {
        self.value += by;
        self.value
    }
}

/// A message to a baseline actor: the increment and where to send the new value.
type Msg = (i64, oneshot::Sender<i64>);

/// The command line.
#[derive(Clone, Copy, Debug)]
struct Args {
    workers: usize,
    actors: usize,
    callers: usize,
    inflight: usize,
    calls: usize,
    rounds: usize,
    both: bool,
}

impl Args {
    fn parse() -> Self {
        let mut args = Args {
            workers: 2,
            actors: 1024,
            callers: 256,
            inflight: 256,
            calls: 2000,
            rounds: 3,
            both: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let slot = match flag.as_str() {
                "--workers" => &mut args.workers,
                "--actors" => &mut args.actors,
                "--callers" => &mut args.callers,
                "--inflight" => &mut args.inflight,
                "--calls" => &mut args.calls,
                "--rounds" => &mut args.rounds,
                "--both" => {
                    args.both = true;
                    continue;
                }
                "--help" | "-h" => {
                    println!(
                        "usage: scaling [--workers N] [--actors A] [--callers C] \
                         [--inflight K] [--calls M] [--rounds R] [--both]"
                    );
                    std::process::exit(0);
                }
                other => panic!("unknown flag {other:?} (try --help)"),
            };
            let value = it
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .parse::<usize>()
                .unwrap_or_else(|err| panic!("{flag}: {err}"));
            assert!(value > 0, "{flag} must be at least 1");
            *slot = value;
        }
        args
    }
}

/// One shape of the measurement.
#[derive(Clone, Copy, Debug)]
struct Shape {
    actors: usize,
    callers: usize,
    inflight: usize,
    calls: usize,
}

impl Shape {
    fn total(&self) -> usize {
        self.callers * self.calls
    }

    /// The same shape with a quarter of the calls, for the warm-up.
    fn warm_up(&self) -> Shape {
        Shape {
            calls: (self.calls / 4).max(1),
            ..*self
        }
    }
}

/// Runs `shape`'s callers against helio counters; returns calls/s.
async fn run_helio(actors: &Arc<Vec<Actor<Counter>>>, shape: Shape) -> f64 {
    let start = Instant::now();
    let mut callers = JoinSet::new();
    for i in 0..shape.callers {
        let actors = Arc::clone(actors);
        callers.spawn(async move {
            let adds: Vec<_> = actors.iter().map(|a| a.methods().add()).collect();
            let mut next = i % adds.len();
            let mut pending: VecDeque<ObjectRef<i64>> = VecDeque::with_capacity(shape.inflight);
            let (mut sent, mut received) = (0, 0);
            while received < shape.calls {
                while sent < shape.calls && pending.len() < shape.inflight {
                    pending.push_back(adds[next].remote(1));
                    next = (next + 1) % adds.len();
                    sent += 1;
                }
                let oldest = pending.pop_front().expect("a call in flight");
                oldest.await.expect("helio reply");
                received += 1;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.expect("helio caller");
    }
    shape.total() as f64 / start.elapsed().as_secs_f64()
}

/// Runs `shape`'s callers against baseline actors; returns calls/s.
async fn run_baseline(mailboxes: &Arc<Vec<mpsc::UnboundedSender<Msg>>>, shape: Shape) -> f64 {
    let start = Instant::now();
    let mut callers = JoinSet::new();
    for i in 0..shape.callers {
        let mailboxes = Arc::clone(mailboxes);
        callers.spawn(async move {
            let mut next = i % mailboxes.len();
            let mut pending: VecDeque<oneshot::Receiver<i64>> =
                VecDeque::with_capacity(shape.inflight);
            let (mut sent, mut received) = (0, 0);
            while received < shape.calls {
                while sent < shape.calls && pending.len() < shape.inflight {
                    let (reply, rx) = oneshot::channel();
                    mailboxes[next]
                        .send((1, reply))
                        .expect("baseline actor alive");
                    pending.push_back(rx);
                    next = (next + 1) % mailboxes.len();
                    sent += 1;
                }
                let oldest = pending.pop_front().expect("a call in flight");
                oldest.await.expect("baseline reply");
                received += 1;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.expect("baseline caller");
    }
    shape.total() as f64 / start.elapsed().as_secs_f64()
}

/// Runs `shape`'s callers against kameo counters; returns calls/s.
async fn run_kameo(actors: &Arc<Vec<ActorRef<KameoCounter>>>, shape: Shape) -> f64 {
    let start = Instant::now();
    let mut callers = JoinSet::new();
    for i in 0..shape.callers {
        let actors = Arc::clone(actors);
        callers.spawn(async move {
            let mut next = i % actors.len();
            let mut pending: VecDeque<PendingReply<Add, i64>> =
                VecDeque::with_capacity(shape.inflight);
            let (mut sent, mut received) = (0, 0);
            while received < shape.calls {
                while sent < shape.calls && pending.len() < shape.inflight {
                    let reply = actors[next]
                        .ask(Add(1))
                        .try_enqueue()
                        .expect("kameo actor alive");
                    pending.push_back(reply);
                    next = (next + 1) % actors.len();
                    sent += 1;
                }
                let oldest = pending.pop_front().expect("a call in flight");
                oldest.await.expect("kameo reply");
                received += 1;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.expect("kameo caller");
    }
    shape.total() as f64 / start.elapsed().as_secs_f64()
}

/// Throughputs of one shape, in calls/s.
struct Figures {
    baseline: f64,
    kameo: f64,
    helio: f64,
}

/// Measures the baseline, kameo and helio in turn, `rounds` times, for `shape` on `rt`: one
/// [`Figures`] per round.
fn measure(rt: &Runtime, shape: Shape, rounds: usize) -> Vec<Figures> {
    rt.block_on(async {
        let expected = (shape.warm_up().total() + rounds * shape.total()) as i64;
        // The baseline's actors: one task per mailbox; they stop when the senders drop.
        let mut actor_tasks = JoinSet::new();
        let mailboxes: Vec<mpsc::UnboundedSender<Msg>> = (0..shape.actors)
            .map(|_| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
                actor_tasks.spawn(async move {
                    let mut value: i64 = 0;
                    while let Some((by, reply)) = rx.recv().await {
                        value += by;
                        let _ = reply.send(value);
                    }
                    value
                });
                tx
            })
            .collect();
        let mailboxes = Arc::new(mailboxes);

        // kameo's actors, spawned from inside the runtime with unbounded mailboxes.
        let kameo_actors: Vec<ActorRef<KameoCounter>> = (0..shape.actors)
            .map(|_| {
                KameoCounter::spawn_with_mailbox(KameoCounter { value: 0 }, mailbox::unbounded())
            })
            .collect();
        for actor in &kameo_actors {
            actor.wait_for_startup().await;
        }
        let kameo_actors = Arc::new(kameo_actors);

        // helio's actors, created from inside the runtime.
        let helio_actors: Vec<Actor<Counter>> = (0..shape.actors)
            .map(|_| Counter::new_actor().remote(0))
            .collect();
        for actor in &helio_actors {
            actor.ready().await.expect("counter constructed");
        }
        let helio_actors = Arc::new(helio_actors);

        run_baseline(&mailboxes, shape.warm_up()).await;
        run_kameo(&kameo_actors, shape.warm_up()).await;
        run_helio(&helio_actors, shape.warm_up()).await;
        let mut figures = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let baseline = run_baseline(&mailboxes, shape).await;
            let kameo = run_kameo(&kameo_actors, shape).await;
            let helio = run_helio(&helio_actors, shape).await;
            figures.push(Figures {
                baseline,
                kameo,
                helio,
            });
        }

        drop(mailboxes);
        let mut served: i64 = 0;
        while let Some(value) = actor_tasks.join_next().await {
            served += value.expect("baseline actor");
        }
        assert_eq!(served, expected, "baseline actors served every call");

        let mut served: i64 = 0;
        for actor in kameo_actors.iter() {
            served += actor.ask(Add(0)).await.expect("kameo reply");
        }
        assert_eq!(served, expected, "kameo actors served every call");
        for actor in kameo_actors.iter() {
            actor.stop_gracefully().await.expect("kameo actor alive");
            actor.wait_for_shutdown().await;
        }

        let mut served: i64 = 0;
        for actor in helio_actors.iter() {
            served += actor.methods().add().remote(0).await.expect("helio reply");
        }
        assert_eq!(served, expected, "helio actors served every call");
        figures
    })
}

/// The median of `values` (the upper one of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let args = Args::parse();
    let rt = Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("scaling-worker")
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut shapes = vec![Shape {
        actors: args.actors,
        callers: args.callers,
        inflight: args.inflight,
        calls: args.calls,
    }];
    if args.both {
        shapes.push(Shape {
            actors: 64,
            callers: 64,
            ..shapes[0]
        });
    }

    for shape in shapes {
        let rounds = measure(&rt, shape, args.rounds);
        let header = format!(
            "workers={} actors={} callers={} inflight={} calls={}",
            args.workers, shape.actors, shape.callers, shape.inflight, shape.calls,
        );
        for (i, round) in rounds.iter().enumerate() {
            println!(
                "{header} round {}/{}: baseline {:.2} M/s, kameo {:.2} M/s, helio {:.2} M/s, \
                 helio/baseline = {:.2}, helio/kameo = {:.2}",
                i + 1,
                rounds.len(),
                round.baseline / 1e6,
                round.kameo / 1e6,
                round.helio / 1e6,
                round.helio / round.baseline,
                round.helio / round.kameo,
            );
        }
        println!(
            "{header}: median of {} rounds: helio/baseline = {:.2}, helio/kameo = {:.2}",
            rounds.len(),
            median(rounds.iter().map(|r| r.helio / r.baseline).collect()),
            median(rounds.iter().map(|r| r.helio / r.kameo).collect()),
        );
    }
    drop(rt);
    helio::shutdown();
}
