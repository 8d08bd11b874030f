//! Model checks of a sync call's body slot: the take-once flag and cell that hold the body
//! ([`TakeOnce`]), the one runner that orders its takes ([`Once`](crate::sync_call::Once)),
//! and the slot's last holder dropping what was never taken, with the caller's side (reading,
//! cancelling or dropping the ref) on another thread.
//!
//! Loom runs each model under every interleaving of its threads (up to `LOOM_MAX_PREEMPTIONS`
//! preemptions) and fails it when two accesses to the cell, or a store and a plain read of the
//! flag, are not ordered; the asserts check what each side observed, and each model checks
//! afterwards that loom did reach every outcome it expects (so that a model that stopped
//! exploring fails too).
//!
//! The models run the code the runtime runs ([`stored`], [`RefBody`], [`MutBody`],
//! [`TakeOnce`]); only the flag and the cell are loom's. The slot's lock and counters are
//! `std`'s (`object_ref::slot`), so loom switches threads at the flag, the cell, the models' own
//! steps ([`Steps`]) and their loom `Arc`s, never inside the slot's lock.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p helio-runtime --lib loom::models
//! ```

use std::{
    collections::BTreeSet,
    future::{Future, IntoFuture},
    pin::Pin,
    sync::{
        Arc as StdArc, Mutex as StdMutex,
        atomic::{AtomicUsize as Count, Ordering::Relaxed},
    },
    task::{Context, Poll, Waker},
};

use ::loom::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    thread,
};

use crate::{
    error::{ActorError, DeathCause},
    exec::{Exec, Outcome},
    label::{ActorId, ActorLabel},
    object_ref::{Fresh, ObjectRef, ObjectRefFuture, Origin, Slot, pair},
    sync_call::{MutBody, RefBody, Stored, stored},
    take_once::TakeOnce,
};

/// The steps of a call's runner, which both sides see: the runner takes one as it starts (before
/// it runs or drops the body), and the method one more as it runs (after the cancel check,
/// before the result).
///
/// Loom switches threads only at its own operations, and tries both orders of two of them only
/// when they touch the same loom object, while the caller's side does nothing that loom sees
/// (the slot's lock, cancel flag and count of refs are `std`'s). So the caller reads the steps
/// before it acts: loom then puts its action before the runner starts, while the method runs,
/// and after it, in turn, and what the caller read tells which.
#[derive(Clone)]
struct Steps(Arc<AtomicUsize>);

impl Steps {
    fn new() -> Self {
        Steps(Arc::new(AtomicUsize::new(0)))
    }

    fn take(&self) {
        self.0.fetch_add(1, SeqCst);
    }

    /// How many steps the runner took by now. (A read-modify-write reads the latest value;
    /// loom treats a `SeqCst` load as an `Acquire` one, which may read an older value.)
    fn now(&self) -> usize {
        self.0.fetch_add(0, SeqCst)
    }
}

/// An actor's state: its method takes a step as it runs.
struct State(Steps);

/// A value that counts its drops. (A plain counter: it is read after the threads are joined.)
struct Tracked {
    n: u32,
    drops: StdArc<Count>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Relaxed);
    }
}

/// The call's arguments: the number, and the drop counter its result gets.
type Args = (Tracked, StdArc<Count>);

/// The method: doubles its argument.
fn double(state: &State, (x, drops): Args) -> Tracked {
    state.0.take();
    Tracked { n: x.n * 2, drops }
}

/// The same as a `&mut self` method.
fn double_mut(state: &mut State, args: Args) -> Tracked {
    double(state, args)
}

/// One hold of a call's slot, through a loom `Arc`. Each side lets go of its ref or its body
/// first and of its hold last, so the slot (and an untaken body with it) is dropped by whichever
/// side lets go last, after what loom sees of the other's accesses.
type Keep = Arc<StdArc<dyn Send + Sync>>;

/// A new sync call, as the caller makes one.
struct Call<B> {
    r: ObjectRef<Tracked>,
    body: B,
    keep: Keep,
    /// Drops of the argument: 1 at the end, whatever happened.
    args: StdArc<Count>,
    /// Drops of the result: 1 if the method ran, else 0.
    values: StdArc<Count>,
}

const ACTOR: &str = "Counter";
const METHOD: &str = "double";

fn call<F, B>(f: F, body: impl FnOnce(StdArc<Slot<Tracked, Stored<Args, F>>>) -> B) -> Call<B>
where
    F: Send + 'static,
{
    let args = StdArc::new(Count::new(0));
    let values = StdArc::new(Count::new(0));
    let actor = ActorLabel::new(ACTOR, None);
    let mut out = None;
    let fresh = Fresh {
        actor: &actor,
        id: ActorId::next(),
        method: METHOD,
        pending: None,
        out: &mut out,
    };
    let argument = Tracked {
        n: 21,
        drops: StdArc::clone(&args),
    };
    let slot = stored(fresh, (argument, StdArc::clone(&values)), f);
    let keep: Keep = Arc::new(StdArc::clone(&slot) as StdArc<dyn Send + Sync>);
    Call {
        r: out.expect("a stored call writes its ref"),
        body: body(slot),
        keep,
        args,
        values,
    }
}

/// A call of `&self` `double`, as `Body::sync_ref` makes it.
fn ref_call() -> Call<RefBody<State>> {
    // SAFETY: the slot's only other references are its ref's and the model's holds, through
    // which the body is out of reach: this `Once` is its only runner.
    call(double as fn(&State, Args) -> Tracked, |slot| unsafe {
        RefBody::new(slot)
    })
}

/// A call of `&mut self` `double`, as `Body::sync_mut` makes it.
fn mut_call() -> Call<MutBody<State>> {
    // SAFETY: as in `ref_call`.
    call(
        double_mut as fn(&mut State, Args) -> Tracked,
        |slot| unsafe { MutBody::new(slot) },
    )
}

/// A closure body (`RefBody::from_fn`: a call made before its body, such as one that waited for
/// ref arguments) and its ref; the closure resolves the ref itself, to 7.
fn closure_call() -> (ObjectRef<u32>, RefBody<State>) {
    let origin = Origin {
        actor: ActorLabel::new(ACTOR, None),
        id: ActorId::next(),
        method: METHOD,
    };
    let (r, done) = pair::<u32>(origin, None);
    let body = RefBody::from_fn(move |exec: Exec<&State>| match exec {
        Exec::Run(state) => {
            state.0.take();
            done.complete(Ok(7));
            Outcome::Returned
        }
        Exec::Fail(err) => {
            done.complete(Err(err));
            Outcome::NotRun
        }
    });
    (r, body)
}

fn died(cause: DeathCause) -> ActorError {
    ActorError::ActorDied {
        actor: ActorLabel::new(ACTOR, None),
        method: METHOD,
        cause,
    }
}

fn cancelled() -> ActorError {
    ActorError::Cancelled {
        actor: ActorLabel::new(ACTOR, None),
        method: METHOD,
    }
}

/// Polls an awaited ref once (never blocks: a model's thread must not park outside loom).
fn poll<T>(future: &mut ObjectRefFuture<T>) -> Poll<Result<T, ActorError>> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// The result of a ref that must have resolved by now.
fn resolved<T>(future: &mut ObjectRefFuture<T>) -> Result<T, ActorError> {
    match poll(future) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("the ref is still pending after its body ran or was dropped"),
    }
}

/// The outcomes a model reached, over all its interleavings.
#[derive(Clone, Default)]
struct Seen(StdArc<StdMutex<BTreeSet<&'static str>>>);

impl Seen {
    fn saw(&self, what: &'static str) {
        self.0.lock().unwrap().insert(what);
    }

    /// Fails unless every one of `all` was reached, and nothing else.
    fn check(&self, all: &[&'static str]) {
        let seen = self.0.lock().unwrap();
        let all: BTreeSet<_> = all.iter().copied().collect();
        assert_eq!(*seen, all, "the outcomes loom reached");
    }
}

/// Runs `f` under loom, then checks that it reached `outcomes`.
fn model(outcomes: &[&'static str], f: impl Fn(&Seen) + Send + Sync + 'static) {
    let seen = Seen::default();
    let model_seen = seen.clone();
    ::loom::model(move || f(&model_seen));
    seen.check(outcomes);
}

/// The runner's side, on a thread of its own: takes a step, does `act` (runs or drops the body),
/// then lets go of its hold of the slot.
fn runner<T: Send + 'static>(
    keep: &Keep,
    steps: &Steps,
    act: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let (keep, steps) = (Arc::clone(keep), steps.clone());
    thread::spawn(move || {
        steps.take();
        let out = act();
        drop(keep);
        out
    })
}

/// The caller's side, on a thread of its own: reads the runner's steps, does `act`, then lets
/// go of its hold of the slot; gives back the steps it read and what `act` gave.
fn caller<T: Send + 'static>(
    keep: &Keep,
    steps: &Steps,
    act: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<(usize, T)> {
    let (keep, steps) = (Arc::clone(keep), steps.clone());
    thread::spawn(move || {
        let seen = steps.now();
        let out = act();
        drop(keep);
        (seen, out)
    })
}

/// What a `read_once` gives back: what it got then, and the awaited ref.
type Read<T> = (Poll<Result<T, ActorError>>, ObjectRefFuture<T>);

/// A caller's action: reads the ref once, without waiting.
fn read_once<T: Send + 'static>(r: ObjectRef<T>) -> impl FnOnce() -> Read<T> + Send + 'static {
    move || {
        let mut future = r.into_future();
        (poll(&mut future), future)
    }
}

/// A caller's action: drops the ref; gives back whether it had resolved.
fn drop_ref<T: Send + 'static>(r: ObjectRef<T>) -> impl FnOnce() -> bool + Send + 'static {
    move || {
        let ready = r.is_ready();
        drop(r);
        ready
    }
}

/// A caller's action: cancels the call; gives back whether the ref was pending, and the ref.
fn cancel<T: Send + 'static>(r: ObjectRef<T>) -> impl FnOnce() -> (bool, ObjectRef<T>) + Send {
    move || (r.cancel(), r)
}

/// The result a `read_once` got: at once, or now that both sides are joined. `early` names the
/// first case, `late` the second; a read before the runner started must be the second.
fn result_of<T>(
    seen: &Seen,
    (steps_seen, (early, mut future)): (usize, Read<T>),
    [ready_at_once, pending_at_first]: [&'static str; 2],
) -> Result<T, ActorError> {
    match early {
        Poll::Ready(got) => {
            assert_ne!(
                steps_seen, 0,
                "a read before the runner started found a result"
            );
            seen.saw(ready_at_once);
            got
        }
        Poll::Pending => {
            seen.saw(pending_at_first);
            resolved(&mut future)
        }
    }
}

const READ: [&str; 2] = ["read after the result", "read before the result"];

#[test]
fn a_run_races_the_refs_drop() {
    let outcomes = ["dropped after the result", "dropped before the result"];
    model(&outcomes, move |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = ref_call();
        let steps = Steps::new();
        let state = State(steps.clone());
        let unread = StdArc::clone(&values);
        let runner = runner(&keep, &steps, move || {
            let outcome = body.run(Exec::Run(&state));
            (outcome, unread.load(Relaxed))
        });
        let caller = caller(&keep, &steps, drop_ref(r));
        drop(keep);
        let (outcome, dropped_at_once) = runner.join().unwrap();
        let (steps_seen, ready) = caller.join().unwrap();
        assert!(matches!(outcome, Outcome::Returned), "the body runs");
        assert_eq!(steps.now(), 2, "the method runs once");
        if steps_seen == 0 {
            assert!(!ready);
            assert_eq!(
                dropped_at_once, 1,
                "a result no ref reads is dropped when it arrives"
            );
        }
        seen.saw(outcomes[usize::from(!ready)]);
        assert_eq!(args.load(Relaxed), 1, "the argument is dropped once");
        assert_eq!(values.load(Relaxed), 1, "the unread result is dropped once");
    });
}

#[test]
fn a_run_races_a_read() {
    model(&READ, |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = ref_call();
        let steps = Steps::new();
        let state = State(steps.clone());
        let runner = runner(&keep, &steps, move || body.run(Exec::Run(&state)));
        let caller = caller(&keep, &steps, read_once(r));
        let outcome = runner.join().unwrap();
        let got = result_of(seen, caller.join().unwrap(), READ);
        assert!(matches!(outcome, Outcome::Returned));
        assert_eq!(steps.now(), 2, "the method runs once");
        assert_eq!(got.map(|value| value.n).ok(), Some(42));
        assert_eq!(
            values.load(Relaxed),
            1,
            "the result is dropped by its reader"
        );
        drop(keep);
        assert_eq!(args.load(Relaxed), 1);
        assert_eq!(values.load(Relaxed), 1);
    });
}

#[test]
fn a_mut_run_races_a_read() {
    model(&READ, |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = mut_call();
        let steps = Steps::new();
        let mut state = State(steps.clone());
        let runner = runner(&keep, &steps, move || body.run(Exec::Run(&mut state)));
        let caller = caller(&keep, &steps, read_once(r));
        drop(keep);
        let outcome = runner.join().unwrap();
        let got = result_of(seen, caller.join().unwrap(), READ);
        assert!(matches!(outcome, Outcome::Returned));
        assert_eq!(steps.now(), 2, "the method runs once");
        assert_eq!(got.map(|value| value.n).ok(), Some(42));
        assert_eq!(args.load(Relaxed), 1);
        assert_eq!(values.load(Relaxed), 1);
    });
}

#[test]
fn a_run_races_a_cancel() {
    let outcomes = [
        "cancelled after the run: the ref keeps the value",
        "cancelled before the run: the body is skipped",
        "cancelled during the run: the result is discarded",
    ];
    model(&outcomes, move |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = ref_call();
        let steps = Steps::new();
        let state = State(steps.clone());
        let runner = runner(&keep, &steps, move || body.run(Exec::Run(&state)));
        let caller = caller(&keep, &steps, cancel(r));
        drop(keep);
        let outcome = runner.join().unwrap();
        let (steps_seen, (was_pending, r)) = caller.join().unwrap();
        let ran = steps.now() - 1;
        let got = resolved(&mut r.into_future()).map(|value| value.n);
        match (was_pending, outcome) {
            (false, Outcome::Returned) => {
                seen.saw(outcomes[0]);
                assert_ne!(
                    steps_seen, 0,
                    "a cancel before the runner started found no result"
                );
                assert_eq!(got, Ok(42));
                assert_eq!(ran, 1);
            }
            (true, Outcome::NotRun) => {
                seen.saw(outcomes[1]);
                assert_eq!(got, Err(cancelled()));
                assert_eq!(ran, 0);
            }
            (true, Outcome::Returned) => {
                seen.saw(outcomes[2]);
                assert_ne!(
                    steps_seen, 0,
                    "a cancel before the runner started let it run"
                );
                assert_eq!(got, Err(cancelled()));
                assert_eq!(ran, 1);
            }
            (was_pending, _) => panic!("cancel gave {was_pending}, and the body did not return"),
        }
        assert_eq!(args.load(Relaxed), 1);
        assert_eq!(
            values.load(Relaxed),
            ran,
            "a result, read or discarded, is dropped once"
        );
    });
}

#[test]
fn a_failed_body_races_a_cancel() {
    let outcomes = ["cancelled first", "failed first"];
    model(&outcomes, move |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = ref_call();
        let steps = Steps::new();
        let runner = runner(&keep, &steps, move || {
            body.run(Exec::Fail(died(DeathCause::Killed)))
        });
        let caller = caller(&keep, &steps, cancel(r));
        drop(keep);
        let outcome = runner.join().unwrap();
        let (steps_seen, (was_pending, r)) = caller.join().unwrap();
        assert!(
            matches!(outcome, Outcome::NotRun),
            "a failed body does not run"
        );
        let got = resolved(&mut r.into_future()).map(|value| value.n);
        if was_pending {
            seen.saw(outcomes[0]);
            assert_eq!(got, Err(cancelled()));
        } else {
            seen.saw(outcomes[1]);
            assert_ne!(
                steps_seen, 0,
                "a cancel before the runner started found it failed"
            );
            assert_eq!(got, Err(died(DeathCause::Killed)));
        }
        assert_eq!(steps.now(), 1, "the method does not run");
        assert_eq!(args.load(Relaxed), 1);
        assert_eq!(values.load(Relaxed), 0);
    });
}

#[test]
fn an_abandoned_body_races_the_refs_drop() {
    let outcomes = ["dropped after the body", "dropped before the body"];
    model(&outcomes, move |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = ref_call();
        let steps = Steps::new();
        let runner = runner(&keep, &steps, move || drop(body));
        let caller = caller(&keep, &steps, drop_ref(r));
        drop(keep);
        runner.join().unwrap();
        let (steps_seen, ready) = caller.join().unwrap();
        if steps_seen == 0 {
            assert!(!ready);
        }
        seen.saw(outcomes[usize::from(!ready)]);
        assert_eq!(
            args.load(Relaxed),
            1,
            "the unrun body's argument is dropped once"
        );
        assert_eq!(values.load(Relaxed), 0);
    });
}

#[test]
fn an_abandoned_body_races_a_read() {
    model(&READ, |seen| {
        let Call {
            r,
            body,
            keep,
            args,
            values,
        } = ref_call();
        let steps = Steps::new();
        let runner = runner(&keep, &steps, move || drop(body));
        let caller = caller(&keep, &steps, read_once(r));
        drop(keep);
        runner.join().unwrap();
        let got = result_of(seen, caller.join().unwrap(), READ);
        assert_eq!(got.map(|value| value.n), Err(died(DeathCause::Shutdown)));
        assert_eq!(args.load(Relaxed), 1);
        assert_eq!(values.load(Relaxed), 0);
    });
}

/// Nothing to hold: a closure body's allocation is its `Once`'s alone.
fn no_keep() -> Keep {
    Arc::new(StdArc::new(()))
}

#[test]
fn a_closure_body_runs_while_its_ref_is_read() {
    model(&READ, |seen| {
        let (r, body) = closure_call();
        let (keep, steps) = (no_keep(), Steps::new());
        let state = State(steps.clone());
        let runner = runner(&keep, &steps, move || body.run(Exec::Run(&state)));
        let caller = caller(&keep, &steps, read_once(r));
        assert!(matches!(runner.join().unwrap(), Outcome::Returned));
        let got = result_of(seen, caller.join().unwrap(), READ);
        assert_eq!(steps.now(), 2, "the closure runs once");
        assert_eq!(got, Ok(7));
    });
}

#[test]
fn an_abandoned_closure_body_races_a_read() {
    model(&READ, |seen| {
        let (r, body) = closure_call();
        let (keep, steps) = (no_keep(), Steps::new());
        let runner = runner(&keep, &steps, move || drop(body));
        let caller = caller(&keep, &steps, read_once(r));
        runner.join().unwrap();
        let got = result_of(seen, caller.join().unwrap(), READ);
        assert_eq!(steps.now(), 1, "the closure does not run");
        assert_eq!(got, Err(died(DeathCause::Shutdown)));
    });
}

#[test]
fn takes_ordered_by_a_lock_give_the_value_once() {
    let outcomes = ["taken here", "taken there"];
    model(&outcomes, move |seen| {
        let drops = StdArc::new(Count::new(0));
        let value = Tracked {
            n: 1,
            drops: StdArc::clone(&drops),
        };
        let once = Arc::new((Mutex::new(()), TakeOnce::new(value)));
        let take = |once: &(Mutex<()>, TakeOnce<Tracked>)| {
            let _ordered = once.0.lock().unwrap();
            // SAFETY: every take holds the lock, which orders them.
            unsafe { once.1.take() }.map(|value| value.n)
        };
        let other = thread::spawn({
            let once = Arc::clone(&once);
            move || take(&once)
        });
        let here = take(&once);
        drop(once);
        let there = other.join().unwrap();
        match (here, there) {
            (Some(1), None) => seen.saw(outcomes[0]),
            (None, Some(1)) => seen.saw(outcomes[1]),
            (here, there) => panic!("took {here:?} here and {there:?} there"),
        }
        assert_eq!(drops.load(Relaxed), 1, "the value is dropped once");
    });
}

#[test]
fn an_untaken_value_is_dropped_once_by_its_last_holder() {
    model(&["dropped"], |seen| {
        let drops = StdArc::new(Count::new(0));
        let once = Arc::new(TakeOnce::new(Tracked {
            n: 1,
            drops: StdArc::clone(&drops),
        }));
        let other = thread::spawn({
            let once = Arc::clone(&once);
            move || drop(once)
        });
        drop(once);
        other.join().unwrap();
        assert_eq!(drops.load(Relaxed), 1);
        seen.saw("dropped");
    });
}

/// Loom does catch a broken take: two takes that nothing orders (which `take`'s contract rules
/// out) both read the cell, and the second read is not ordered after the first.
#[test]
#[should_panic(expected = "Causality violation")]
fn unordered_takes_are_a_race_loom_reports() {
    ::loom::model(|| {
        let once = Arc::new(TakeOnce::new(1_u32));
        let other = thread::spawn({
            let once = Arc::clone(&once);
            // SAFETY: none: this breaks `take`'s contract on purpose.
            move || unsafe { once.take() }
        });
        // SAFETY: as above.
        let here = unsafe { once.take() };
        let there = other.join().unwrap();
        assert!(here.is_none() || there.is_none());
    });
}
