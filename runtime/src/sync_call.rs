//! The body of a sync method's call: it runs once, inline on the driver, on the actor's state.
//!
//! A new call allocates its result slot and its body together ([`Slot`] with the body as its
//! tail), so a sync call costs one allocation, freed by whoever lets go of the result last:
//! usually the caller, on the thread that allocated it. (A body freed on the actor's thread
//! instead costs a cross-thread `free` per call, which was most of a call's cost.)

use std::{
    mem::ManuallyDrop,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
};

use futures::task::AtomicWaker;

use crate::{
    error::DeathCause,
    exec::{Exec, Outcome},
    object_ref::{Origin, Slot, Tail},
    take_once::TakeOnce,
    unwind::take_message,
};

/// What a body does when it runs, or when it is dropped unrun.
///
/// Called only by the body's [`Once`], which makes at most one of `run` and `abandon`, once:
/// so the body is taken out of its slot with a plain flag ([`TakeOnce`]), no locked
/// instruction.
pub(crate) trait Runs<T>: Abandon {
    /// Runs the body (or fails it without running, with `Exec::Fail`).
    ///
    /// # Safety
    /// No other `run` or `abandon` of this body may run at the same time.
    unsafe fn run(&self, exec: Exec<T>) -> Outcome;
}

/// What happens to a body dropped unrun (its runtime went away).
pub(crate) trait Abandon: Send + Sync {
    /// Resolves the call to `ActorDied { cause: Shutdown }` unless it ran.
    ///
    /// # Safety
    /// As for [`Runs::run`]: no other `run` or `abandon` of this body at the same time.
    unsafe fn abandon(&self);
}

/// A body that runs at most once; dropped unrun, it is abandoned. The one owner that may run
/// its body (see [`Once::new`]).
pub(crate) struct Once<C: ?Sized + Abandon>(Option<Arc<C>>);

impl<C: ?Sized + Abandon> Once<C> {
    /// Asks the CPU to start loading the body's allocation (its result slot) into the cache,
    /// so that the miss overlaps with the calls before it instead of stalling this one.
    pub(crate) fn prefetch(&self) {
        if let Some(body) = &self.0 {
            prefetch(Arc::as_ptr(body).cast::<u8>());
        }
    }

    /// # Safety
    /// No other `Once` may be made of `body` (or of a clone of it), and nothing else may call
    /// its [`Runs::run`] or [`Abandon::abandon`]: this `Once` is what orders them.
    pub(crate) unsafe fn new(body: Arc<C>) -> Self {
        Once(Some(body))
    }

    /// Runs the body.
    pub(crate) fn run<T>(self, exec: Exec<T>) -> Outcome
    where
        C: Runs<T>,
    {
        // Taken out below, so there is nothing left for `Drop`: skipping it saves a call per
        // call.
        let mut this = ManuallyDrop::new(self);
        match this.0.take() {
            // SAFETY: this `Once` is the body's only runner (`Once::new`), and consumed here.
            Some(body) => unsafe { body.run(exec) },
            None => Outcome::NotRun,
        }
    }
}

impl<C: ?Sized + Abandon> Drop for Once<C> {
    fn drop(&mut self) {
        if let Some(body) = self.0.take() {
            // SAFETY: this `Once` is the body's only runner (`Once::new`); `run` consumed it
            // without this `Drop`, so the body did not run.
            unsafe { body.abandon() };
        }
    }
}

/// The tail of a sync call's result slot: its body (the arguments and the method), first,
/// right after the slot's shared part, then its origin.
pub(crate) struct Stored<Args, F> {
    body: TakeOnce<(Args, F)>,
    origin: Origin,
}

impl<Args: Send, F: Send> Tail for Stored<Args, F> {
    fn origin(&self) -> Option<&Origin> {
        Some(&self.origin)
    }

    fn cancel_waker(&self) -> Option<&AtomicWaker> {
        None
    }
}

/// A new sync call: its result slot with the body after it.
#[inline]
pub(crate) fn stored<R, Args, F>(
    fresh: crate::object_ref::Fresh<'_, R>,
    args: Args,
    f: F,
) -> Arc<Slot<R, Stored<Args, F>>>
where
    R: Send + 'static,
    Args: Send + 'static,
    F: Send + 'static,
{
    let origin = fresh.origin();
    let cell = Arc::new(Slot::new(
        fresh.pending,
        Stored {
            body: TakeOnce::new((args, f)),
            origin,
        },
    ));
    let shared: Arc<Slot<R>> = cell.clone();
    *fresh.out = Some(crate::ObjectRef::of(shared));
    cell
}

/// Resolves the slot with what the method did.
fn deliver<R, B: ?Sized + Tail>(slot: &Slot<R, B>, result: std::thread::Result<R>) -> Outcome {
    match result {
        Ok(value) => {
            slot.complete(Ok(value));
            Outcome::Returned
        }
        Err(payload) => {
            let message = take_message(payload);
            crate::unwind::method_panicked();
            slot.complete(Err(slot.panicked_error(message.clone())));
            Outcome::Panicked(message)
        }
    }
}

/// Runs a stored body with `state` (`&A` or `&mut A`) through `call`.
///
/// # Safety
/// As for [`Runs::run`]: no other run or abandon of this body at the same time.
unsafe fn run_stored<R, Args: Send, F: Send, S>(
    slot: &Slot<R, Stored<Args, F>>,
    exec: Exec<S>,
    call: impl FnOnce(F, S, Args) -> R,
) -> Outcome {
    // SAFETY: passed on from this function's contract.
    let Some((args, f)) = (unsafe { slot.tail.body.take() }) else {
        return Outcome::NotRun;
    };
    match exec {
        // Cancelled while queued: the ref says so already.
        Exec::Run(_) if slot.is_cancelled() => Outcome::NotRun,
        Exec::Run(state) => deliver(
            slot,
            catch_unwind(AssertUnwindSafe(|| call(f, state, args))),
        ),
        Exec::Fail(err) => {
            slot.complete(Err(err));
            Outcome::NotRun
        }
    }
}

impl<R: Send, Args: Send, F: Send> Abandon for Slot<R, Stored<Args, F>> {
    unsafe fn abandon(&self) {
        // SAFETY: passed on from this function's contract.
        if unsafe { self.tail.body.take() }.is_some() {
            self.complete(Err(self.died_error(DeathCause::Shutdown)));
        }
    }
}

impl<'x, A, R, Args, F> Runs<&'x A> for Slot<R, Stored<Args, F>>
where
    R: Send,
    Args: Send,
    F: FnOnce(&A, Args) -> R + Send,
{
    unsafe fn run(&self, exec: Exec<&'x A>) -> Outcome {
        // SAFETY: passed on from this function's contract.
        unsafe { run_stored(self, exec, |f, state, args| f(state, args)) }
    }
}

impl<'x, A, R, Args, F> Runs<&'x mut A> for Slot<R, Stored<Args, F>>
where
    R: Send,
    Args: Send,
    F: FnOnce(&mut A, Args) -> R + Send,
{
    unsafe fn run(&self, exec: Exec<&'x mut A>) -> Outcome {
        // SAFETY: passed on from this function's contract.
        unsafe { run_stored(self, exec, |f, state, args| f(state, args)) }
    }
}

/// A body as a closure that resolves its call itself (a call made before its body, such as
/// one that waited for ref arguments, or `ready`).
pub(crate) struct FnCall<F>(TakeOnce<F>);

impl<F: Send> Abandon for FnCall<F> {
    unsafe fn abandon(&self) {
        // The closure's resolver, dropped unresolved, resolves the call to `Shutdown`.
        // SAFETY: passed on from this function's contract.
        drop(unsafe { self.0.take() });
    }
}

impl<T, F: FnOnce(Exec<T>) -> Outcome + Send> Runs<T> for FnCall<F> {
    unsafe fn run(&self, exec: Exec<T>) -> Outcome {
        // SAFETY: passed on from this function's contract.
        match unsafe { self.0.take() } {
            Some(f) => f(exec),
            None => Outcome::NotRun,
        }
    }
}

/// A sync `&self` body.
pub(crate) type RefBody<A> = Once<dyn for<'x> Runs<&'x A>>;
/// A sync `&mut self` body.
pub(crate) type MutBody<A> = Once<dyn for<'x> Runs<&'x mut A>>;

impl<A: 'static> RefBody<A> {
    /// A `&self` body from a closure.
    pub(crate) fn from_fn(f: impl for<'x> FnOnce(Exec<&'x A>) -> Outcome + Send + 'static) -> Self {
        // SAFETY: a new body, given to this `Once` alone.
        unsafe { Once::new(Arc::new(FnCall(TakeOnce::new(f)))) }
    }
}

impl<A: 'static> MutBody<A> {
    /// A `&mut self` body from a closure.
    pub(crate) fn from_fn(
        f: impl for<'x> FnOnce(Exec<&'x mut A>) -> Outcome + Send + 'static,
    ) -> Self {
        // SAFETY: a new body, given to this `Once` alone.
        unsafe { Once::new(Arc::new(FnCall(TakeOnce::new(f)))) }
    }
}

/// Prefetches the two cache lines from `at`: a hint, which never faults.
#[inline]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint: it reads nothing the program sees and does not
        // fault, whatever the address; SSE, which it needs, is part of x86_64's baseline.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>());
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(64).cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::{
        cell::Cell,
        sync::atomic::{AtomicUsize, Ordering::Relaxed},
        time::Duration,
    };

    use super::*;
    use crate::{
        error::ActorError,
        label::{ActorId, ActorLabel},
        object_ref::{Fresh, ObjectRef, pair},
        pending::PendingGuard,
    };

    const ACTOR: &str = "Counter";
    const METHOD: &str = "add";

    /// An actor's state that counts its method's runs.
    #[derive(Default)]
    struct Counter {
        runs: Cell<u32>,
        total: u32,
    }

    /// A sync call's slot, with its body after it.
    type StoredSlot<R, Args, F> = Arc<Slot<R, Stored<Args, F>>>;

    /// A new sync call of `f`, as `Body::sync_ref` and `Body::sync_mut` make one: its ref, and
    /// its slot.
    fn new_call<R, Args, F>(
        args: Args,
        f: F,
        pending: Option<PendingGuard>,
    ) -> (ObjectRef<R>, StoredSlot<R, Args, F>)
    where
        R: Send + 'static,
        Args: Send + 'static,
        F: Send + 'static,
    {
        let actor = ActorLabel::new(ACTOR, None);
        let mut out = None;
        let fresh = Fresh {
            actor: &actor,
            id: ActorId::next(),
            method: METHOD,
            pending,
            out: &mut out,
        };
        let slot = stored(fresh, args, f);
        (out.expect("a stored call writes its ref"), slot)
    }

    /// A `&self` call of `f` with `args`: its ref and its body.
    fn ref_call<R, Args, F>(args: Args, f: F) -> (ObjectRef<R>, RefBody<Counter>)
    where
        R: Send + 'static,
        Args: Send + 'static,
        F: FnOnce(&Counter, Args) -> R + Send + 'static,
    {
        let (r, slot) = new_call(args, f, None);
        // SAFETY: the slot's only other reference is its ref's, through which the body is out
        // of reach: this `Once` is its only runner.
        (r, unsafe { RefBody::new(slot) })
    }

    /// A `&mut self` call of `f` with `args`: its ref and its body.
    fn mut_call<R, Args, F>(args: Args, f: F) -> (ObjectRef<R>, MutBody<Counter>)
    where
        R: Send + 'static,
        Args: Send + 'static,
        F: FnOnce(&mut Counter, Args) -> R + Send + 'static,
    {
        let (r, slot) = new_call(args, f, None);
        // SAFETY: as in `ref_call`.
        (r, unsafe { MutBody::new(slot) })
    }

    /// The method: counts its run, and gives back its argument doubled.
    fn double(state: &Counter, x: u32) -> u32 {
        state.runs.set(state.runs.get() + 1);
        2 * x
    }

    /// The ref's result, which must be there already.
    fn now<T>(r: ObjectRef<T>) -> Result<T, ActorError> {
        r.get_timeout(Duration::ZERO)
    }

    fn died(cause: DeathCause) -> ActorError {
        ActorError::ActorDied {
            actor: ActorLabel::new(ACTOR, None),
            method: METHOD,
            cause,
        }
    }

    #[test]
    fn a_body_run_gives_its_value_to_the_ref() {
        let (r, body) = ref_call(21, double);
        assert!(!r.is_ready());
        body.prefetch();
        let state = Counter::default();
        assert!(matches!(body.run(Exec::Run(&state)), Outcome::Returned));
        assert_eq!(state.runs.get(), 1, "the method runs once");
        assert_eq!(now(r), Ok(42));
    }

    #[test]
    fn a_mut_body_changes_the_state_and_gives_its_value() {
        let (r, body) = mut_call(5, |state: &mut Counter, x: u32| {
            state.total += x;
            state.total
        });
        let mut state = Counter {
            total: 10,
            ..Counter::default()
        };
        assert!(matches!(body.run(Exec::Run(&mut state)), Outcome::Returned));
        assert_eq!(state.total, 15);
        assert_eq!(now(r), Ok(15));
    }

    #[test]
    fn a_body_dropped_unrun_resolves_its_ref_to_shutdown_and_drops_its_arguments() {
        let argument = Arc::new(());
        let (r, body) = ref_call(Arc::clone(&argument), |state: &Counter, _: Arc<()>| {
            double(state, 1)
        });
        assert_eq!(Arc::strong_count(&argument), 2);
        drop(body);
        assert_eq!(
            Arc::strong_count(&argument),
            1,
            "the unrun body's arguments are dropped"
        );
        assert_eq!(now(r), Err(died(DeathCause::Shutdown)));
    }

    #[test]
    fn a_failed_body_resolves_to_its_error_without_running() {
        let argument = Arc::new(());
        let ran = Arc::new(AtomicUsize::new(0));
        let (r, body) = ref_call(Arc::clone(&argument), {
            let ran = Arc::clone(&ran);
            move |_: &Counter, _: Arc<()>| ran.fetch_add(1, Relaxed)
        });
        assert!(matches!(
            body.run(Exec::Fail(died(DeathCause::Killed))),
            Outcome::NotRun
        ));
        assert_eq!(ran.load(Relaxed), 0);
        assert_eq!(Arc::strong_count(&argument), 1);
        assert_eq!(now(r), Err(died(DeathCause::Killed)));
    }

    #[test]
    fn a_body_cancelled_while_queued_is_skipped() {
        let argument = Arc::new(());
        let (r, body) = ref_call(Arc::clone(&argument), |state: &Counter, _: Arc<()>| {
            double(state, 1)
        });
        assert!(r.cancel());
        let state = Counter::default();
        assert!(matches!(body.run(Exec::Run(&state)), Outcome::NotRun));
        assert_eq!(state.runs.get(), 0, "a cancelled body does not run");
        assert_eq!(Arc::strong_count(&argument), 1);
        assert_eq!(
            now(r),
            Err(ActorError::Cancelled {
                actor: ActorLabel::new(ACTOR, None),
                method: METHOD,
            })
        );
    }

    #[test]
    fn a_panicking_body_resolves_its_ref_to_task_panicked() {
        let (r, body) = ref_call((), |_: &Counter, ()| -> u32 { panic!("boom") });
        let outcome = body.run(Exec::Run(&Counter::default()));
        assert!(matches!(&outcome, Outcome::Panicked(message) if message == "boom"));
        assert_eq!(
            now(r),
            Err(ActorError::TaskPanicked {
                actor: ActorLabel::new(ACTOR, None),
                method: METHOD,
                message: "boom".into(),
            })
        );
    }

    #[test]
    fn a_ref_dropped_before_the_run_has_its_value_dropped_when_it_arrives() {
        let value = Arc::new(());
        let (r, body) = ref_call(Arc::clone(&value), |_: &Counter, value: Arc<()>| value);
        drop(r);
        // The body still runs: dropping a ref does not cancel its call.
        let state = Counter::default();
        let outcome = body.run(Exec::Run(&state));
        assert!(matches!(outcome, Outcome::Returned));
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "no one is left to read the value"
        );
    }

    #[test]
    fn a_ref_dropped_after_the_run_drops_the_value_with_the_slot() {
        let value = Arc::new(());
        let (r, body) = ref_call(Arc::clone(&value), |_: &Counter, value: Arc<()>| value);
        assert!(matches!(
            body.run(Exec::Run(&Counter::default())),
            Outcome::Returned
        ));
        assert_eq!(Arc::strong_count(&value), 2, "the ref holds the value");
        drop(r);
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn a_ref_dropped_before_its_body_leaves_nothing_behind() {
        let argument = Arc::new(());
        let (r, body) = ref_call(Arc::clone(&argument), |state: &Counter, _: Arc<()>| {
            double(state, 1)
        });
        drop(r);
        drop(body);
        assert_eq!(Arc::strong_count(&argument), 1);
    }

    #[test]
    fn the_calls_pending_place_is_freed_once_it_resolves() {
        let pending = Arc::new(AtomicUsize::new(0));
        let count = || pending.load(Relaxed);
        let guard = || PendingGuard::acquire(&pending, 2).expect("under the limit");
        let (ran, ran_body) = new_call(21, double, Some(guard()));
        let (abandoned, abandoned_body) = new_call(21, double, Some(guard()));
        assert_eq!(count(), 2);
        // SAFETY: each slot's only other reference is its ref's.
        let (ran_body, abandoned_body): (RefBody<Counter>, RefBody<Counter>) =
            unsafe { (RefBody::new(ran_body), RefBody::new(abandoned_body)) };
        ran_body.run(Exec::Run(&Counter::default()));
        assert_eq!(count(), 1);
        drop(abandoned_body);
        assert_eq!(count(), 0);
        assert_eq!(now(ran), Ok(42));
        assert_eq!(now(abandoned), Err(died(DeathCause::Shutdown)));
    }

    fn closure_call() -> (ObjectRef<u32>, RefBody<Counter>) {
        let origin = Origin {
            actor: ActorLabel::new(ACTOR, None),
            id: ActorId::next(),
            method: METHOD,
        };
        let (r, done) = pair::<u32>(origin, None);
        let body = RefBody::from_fn(move |exec: Exec<&Counter>| match exec {
            Exec::Run(state) => {
                done.complete(Ok(double(state, 4)));
                Outcome::Returned
            }
            Exec::Fail(err) => {
                done.complete(Err(err));
                Outcome::NotRun
            }
        });
        (r, body)
    }

    #[test]
    fn a_closure_body_runs_once_with_the_state() {
        let (r, body) = closure_call();
        let state = Counter::default();
        assert!(matches!(body.run(Exec::Run(&state)), Outcome::Returned));
        assert_eq!(state.runs.get(), 1);
        assert_eq!(now(r), Ok(8));
    }

    #[test]
    fn a_closure_body_fails_without_running() {
        let (r, body) = closure_call();
        assert!(matches!(
            body.run(Exec::Fail(died(DeathCause::Killed))),
            Outcome::NotRun
        ));
        assert_eq!(now(r), Err(died(DeathCause::Killed)));
    }

    #[test]
    fn a_closure_body_dropped_unrun_resolves_its_ref_to_shutdown() {
        let (r, body) = closure_call();
        drop(body);
        assert_eq!(now(r), Err(died(DeathCause::Shutdown)));
    }
}
