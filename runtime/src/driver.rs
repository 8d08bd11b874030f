//! The task that runs one actor: it carries out what the [scheduler](crate::scheduler) core
//! decides, on tokio.
//!
//! The driver owns the actor's state, its mailbox's receiving side and the calls that run
//! beyond one poll. Sync methods run inline on this task; async and `blocking` `&self` calls
//! run as futures polled by it beside the mailbox; an async or `blocking` `&mut self` call owns
//! the state while it runs and hands it back.
//!
//! Every place where user code runs (methods, the constructor, `on_stop`, and the `Drop` of
//! the state, of arguments, results, futures and panic payloads) is guarded by
//! [`unwind`](crate::unwind): a panic there is a crash of this actor, never of the driver.
//! Whatever way the driver ends (death, a graceful stop, its runtime going away, or a bug),
//! its `Drop` frees the name, records the state and resolves every call left.

use std::{
    collections::VecDeque,
    future::{Future, poll_fn},
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};

use crate::{
    ActorClass, ActorError,
    actor::{ActorShared, Kill},
    blocking::running_inline,
    call::{Body, Call, ExclusiveRun, Kind, SharedRun, Started},
    error::DeathCause,
    exec::{Exec, Outcome},
    instance::Instance,
    label::ActorLabel,
    mailbox::{Mail, Mailbox},
    object_ref::Failer,
    options::ActorConfig,
    registry::{self, Key},
    restart::Resumable,
    roster::{self, Enlisted},
    scheduler::{AfterCrash, Core, Lane, Start},
    state::ActorState,
    unwind::{Quiet, catch, drop_quietly},
};

/// How long an `#[on_stop]` hook may run before the actor stops without it.
pub(crate) const ON_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How many calls ahead of the one it starts the driver prefetches a sync call's slot: the
/// first touch of a slot its caller wrote is a cache miss, and a call's own work is too short
/// to hide it (1024 actors x 256 callers on 2 workers: about a fifth more calls per second).
const PREFETCH_AHEAD: usize = 4;

/// Events handled per poll before the driver yields to its worker's other tasks.
const EVENTS_PER_POLL: u32 = 128;

/// Runs the constructor again with the stored arguments.
pub(crate) type Constructor<A> = Box<dyn Fn() -> BoxFuture<'static, Result<A, String>> + Send>;

/// A shared call's future, with its lane and what it takes to re-run or fail it.
struct InGroup<A> {
    lane: Lane,
    resume: Option<Resumable<Kind<A>>>,
    failer: Option<Failer>,
    run: SharedRun,
}

impl<A> Future for InGroup<A> {
    type Output = (Lane, Outcome);
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let lane = this.lane;
        match catch(|| this.run.as_mut().poll(cx)) {
            Ok(poll) => poll.map(|outcome| (lane, outcome)),
            Err(message) => Poll::Ready((lane, Outcome::Panicked(message))),
        }
    }
}

/// The running exclusive call.
struct Alone<A> {
    resume: Option<Resumable<Kind<A>>>,
    failer: Option<Failer>,
    run: ExclusiveRun<A>,
}

/// A call that was running as a future when its actor crashed or died.
struct Interrupted<A> {
    resume: Option<Resumable<Kind<A>>>,
    failer: Option<Failer>,
    run: Box<dyn Send>,
}

impl<A> Interrupted<A> {
    /// Resolves its ref to `ActorDied { cause }` (unless a retry superseded this run) and
    /// drops its future, whose `Drop` may panic.
    fn abandon(self, cause: &DeathCause, label: &ActorLabel) {
        if let Some(failer) = self.failer {
            failer.fail(cause.clone());
        }
        if let Some(message) = drop_quietly(self.run) {
            tracing::warn!(actor = %label, %message, "dropping an interrupted call panicked");
        }
    }
}

enum Event<A> {
    Kill(Kill),
    Mail,
    SendersGone,
    SharedDone(Lane, Outcome),
    ExclusiveDone(Option<Instance<A>>, Outcome),
    Constructed(Result<A, String>),
}

/// How the driver ended.
enum End {
    /// Every handle was dropped and every call served.
    Stopped,
    Died(DeathCause),
}

pub(crate) struct Driver<A: ActorClass> {
    shared: Arc<ActorShared>,
    name: Option<Box<Key>>,
    _enlisted: Enlisted,
    /// The constructor has been started once.
    started: bool,
    /// The `#[on_stop]` hook of a graceful stop, running.
    stopping: Option<BoxFuture<'static, ()>>,
    construct: Constructor<A>,
    constructing: Option<BoxFuture<'static, Result<A, String>>>,
    mailbox: Arc<Mailbox<Call<A>>>,
    /// Calls taken from the mailbox, not yet given to the core.
    inbox: VecDeque<Call<A>>,
    senders_gone: bool,
    core: Core<Call<A>>,
    instance: Option<Instance<A>>,
    /// Made on the first async or blocking `&self` call.
    running_shared: Option<FuturesUnordered<InGroup<A>>>,
    running_exclusive: Option<Box<Alone<A>>>,
    /// A crash to handle before anything else.
    crash: Option<DeathCause>,
    end: Option<End>,
}

impl<A: ActorClass> Driver<A> {
    pub(crate) fn new(
        shared: Arc<ActorShared>,
        config: ActorConfig,
        construct: Constructor<A>,
        mailbox: Arc<Mailbox<Call<A>>>,
    ) -> Self {
        let limits = config.groups.into_iter().map(|(_, limit)| limit);
        Driver {
            _enlisted: roster::enlist(&shared),
            shared,
            name: config.name.map(Box::new),
            started: false,
            stopping: None,
            construct,
            constructing: None,
            mailbox,
            inbox: VecDeque::new(),
            senders_gone: false,
            core: Core::new(limits, config.max_restarts),
            instance: None,
            running_shared: None,
            running_exclusive: None,
            crash: None,
            end: None,
        }
    }

    fn handle(&mut self, event: Event<A>) {
        match event {
            Event::Kill(Kill::ForGood) => {
                tracing::info!(actor = %self.shared.label, "actor killed");
                self.end = Some(End::Died(DeathCause::Killed));
            }
            Event::Kill(Kill::Fenced) => {
                tracing::warn!(actor = %self.shared.label, "actor stopped: its node is cut off");
                self.end = Some(End::Died(DeathCause::Fenced));
            }
            Event::Kill(Kill::Shutdown) => self.end = Some(End::Died(DeathCause::Shutdown)),
            Event::Kill(Kill::Crash) => {
                self.crash.get_or_insert(DeathCause::Killed);
            }
            Event::Mail => {}
            Event::SendersGone => self.senders_gone = true,
            Event::SharedDone(lane, outcome) => {
                self.core.finished(lane);
                self.note(outcome);
            }
            Event::ExclusiveDone(instance, outcome) => {
                self.core.finished(Lane::Exclusive);
                self.instance = instance;
                self.note(outcome);
            }
            Event::Constructed(Ok(state)) => {
                self.instance = Some(Instance::new(state));
                self.shared.set_state(ActorState::Alive);
                self.core.serve();
            }
            Event::Constructed(Err(message)) => {
                tracing::warn!(actor = %self.shared.label, %message, "actor constructor failed");
                self.end = Some(End::Died(DeathCause::InitFailed(message)));
            }
        }
    }

    /// One step of the actor's life; `Ready` once it has ended.
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.started {
            self.started = true;
            self.begin_construct();
        }
        let mut budget = EVENTS_PER_POLL;
        loop {
            if self.end.is_some() {
                return Poll::Ready(());
            }
            if let Some(stopping) = self.stopping.as_mut() {
                if let Some(kill) = self.shared.take_kill() {
                    // The hook's future owns the state: its `Drop` may panic.
                    if let Some(stopping) = self.stopping.take() {
                        drop_quietly(stopping);
                    }
                    self.handle(Event::Kill(kill));
                    self.end.get_or_insert(End::Stopped);
                    continue;
                }
                self.shared.register_kill_waker(cx);
                std::task::ready!(stopping.as_mut().poll(cx));
                self.stopping = None;
                self.end = Some(End::Stopped);
                continue;
            }
            self.start_calls();
            if let Some(cause) = self.crash.take() {
                self.on_crash(cause);
                continue;
            }
            if self.senders_gone
                && self.inbox.is_empty()
                && self.core.is_idle()
                && self.constructing.is_none()
            {
                // A graceful stop: run `#[on_stop]`, which takes the state along.
                self.stopping = Some(on_stop(self.shared.label.clone(), self.instance.take()));
                continue;
            }
            if budget == 0 {
                // Let the worker's other tasks run; poll again right after them.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            let event = std::task::ready!(self.poll_event(cx));
            self.handle(event);
        }
    }

    /// Starts the constructor (a restart runs it again with the stored arguments).
    fn begin_construct(&mut self) {
        match catch(|| (self.construct)()) {
            Ok(future) => self.constructing = Some(future),
            Err(message) => {
                let message = format!("the constructor panicked: {message}");
                tracing::warn!(actor = %self.shared.label, %message, "actor constructor failed");
                self.end = Some(End::Died(DeathCause::InitFailed(message)));
            }
        }
    }

    fn note(&mut self, outcome: Outcome) {
        if let Outcome::Panicked(message) = outcome {
            self.crash.get_or_insert(DeathCause::Panicked(message));
        }
    }

    /// Gives the new calls to the core, then starts every call it allows.
    fn start_calls(&mut self) {
        // The sync calls started here run inline on this thread: a blocking wait in one of them
        // on this same actor would never end (`SelfDeadlock`). Marked once for the whole batch;
        // starting an async or blocking call runs none of its code here.
        let _inline = running_inline(self.shared.id);
        loop {
            if self.crash.is_none() {
                // The common case, kept short: the sync calls in front run right here.
                self.run_inline_calls();
            }
            let Some(call) = self.inbox.pop_front() else {
                break;
            };
            let lane = Self::lane(&call);
            if call.body.is_sync() && self.crash.is_none() && self.core.may_start(lane) {
                // The state is shared with a call that has not let go of it yet.
                self.run_inline(call);
            } else if self.crash.is_some() {
                self.core.submit(lane, call);
            } else if let Some(start) = self.core.admit(lane, call) {
                let running = self.futures_running();
                self.start(start);
                if self.futures_running() > running {
                    // An async or blocking call started: it is polled once before the calls
                    // that came after it (`poll_event` polls running calls before new mail).
                    break;
                }
            }
        }
        while self.crash.is_none()
            && let Some(start) = self.core.next_start()
        {
            self.start(start);
        }
    }

    /// Takes every call running as a future (the actor crashed or died).
    fn take_running(&mut self) -> Vec<Interrupted<A>> {
        let shared = self.running_shared.take().into_iter().flatten();
        let shared = shared.map(|run| Interrupted {
            resume: run.resume,
            failer: run.failer,
            run: Box::new(run.run),
        });
        let alone = self.running_exclusive.take().map(|run| Interrupted {
            resume: run.resume,
            failer: run.failer,
            run: Box::new(run.run),
        });
        shared.chain(alone).collect()
    }

    /// How many calls run as futures.
    fn futures_running(&self) -> usize {
        let shared = self
            .running_shared
            .as_ref()
            .map_or(0, FuturesUnordered::len);
        shared + usize::from(self.running_exclusive.is_some())
    }

    fn lane(call: &Call<A>) -> Lane {
        if call.body.is_exclusive() {
            Lane::Exclusive
        } else {
            Lane::Shared(call.group)
        }
    }

    fn start(&mut self, start: Start<Call<A>>) {
        let Start { lane, seq, call } = start;
        let Call {
            method,
            group,
            body: Body(kind, retry),
        } = call;
        let resume = retry.map(|retry| Resumable {
            lane,
            seq,
            method,
            group,
            retry,
        });
        let outcome = match (kind, self.instance.as_mut()) {
            (kind @ (Kind::SyncRef(_) | Kind::SyncMut(_)), _) => self.run_sync(method, kind),
            (Kind::Shared(f), Some(instance)) => match catch(|| f(Exec::Run(instance))) {
                Ok(Some(Started { run, failer })) => {
                    let running = self
                        .running_shared
                        .get_or_insert_with(FuturesUnordered::new);
                    running.push(InGroup {
                        lane,
                        resume,
                        failer,
                        run,
                    });
                    return;
                }
                Ok(None) => Outcome::NotRun,
                Err(message) => Outcome::Panicked(message),
            },
            (Kind::Exclusive(f), Some(_)) => {
                let Some(instance) = self.instance.take() else {
                    return;
                };
                match instance.into_exclusive() {
                    Ok(state) => match catch(|| f(Exec::Run(state))) {
                        Ok(Some(Started { run, failer })) => {
                            self.running_exclusive = Some(Box::new(Alone {
                                resume,
                                failer,
                                run,
                            }));
                            return;
                        }
                        // The body gave no future back: it failed before it could.
                        Ok(None) => Outcome::Panicked("the call lost the actor's state".into()),
                        Err(message) => Outcome::Panicked(message),
                    },
                    Err(instance) => {
                        self.instance = Some(instance);
                        self.lost(method, Kind::Exclusive(f))
                    }
                }
            }
            (kind, None) => self.lost(method, kind),
        };
        self.core.finished(lane);
        self.note(outcome);
    }

    /// Runs the sync calls at the front of the inbox that the core lets start now, one after
    /// another, until one may not (or is not sync, or panics). Each finishes before the next
    /// starts, so none needs the core's `admit` and `finished`; the state is borrowed, and
    /// panics are caught, once for the whole run.
    fn run_inline_calls(&mut self) {
        let Driver {
            instance,
            inbox,
            core,
            ..
        } = self;
        let Some(state) = instance.as_mut().and_then(Instance::get_mut) else {
            return;
        };
        let ran = catch(|| {
            while let Some(call) = inbox.pop_front() {
                let lane = Self::lane(&call);
                if !core.may_start(lane) {
                    inbox.push_front(call);
                    break;
                }
                if let Some(ahead) = inbox.get(PREFETCH_AHEAD - 1) {
                    ahead.body.prefetch();
                }
                let Call {
                    method,
                    group,
                    body: Body(kind, retry),
                } = call;
                let outcome = match kind {
                    Kind::SyncRef(f) => f.run(Exec::Run(&*state)),
                    Kind::SyncMut(f) => f.run(Exec::Run(&mut *state)),
                    kind => {
                        let body = Body(kind, retry);
                        inbox.push_front(Call {
                            method,
                            group,
                            body,
                        });
                        break;
                    }
                };
                if let Outcome::Panicked(message) = outcome {
                    return Outcome::Panicked(message);
                }
            }
            Outcome::Returned
        });
        self.note(ran.unwrap_or_else(Outcome::Panicked));
    }

    /// Runs a sync call that the core lets start now; it finishes before this returns.
    fn run_inline(&mut self, call: Call<A>) {
        let Call {
            method,
            body: Body(kind, _),
            ..
        } = call;
        let outcome = self.run_sync(method, kind);
        self.note(outcome);
    }

    /// Runs a sync call's body on the state (another kind of call, or a state that is not
    /// there, is a broken invariant: see [`lost`](Driver::lost)).
    fn run_sync(&mut self, method: &'static str, kind: Kind<A>) -> Outcome {
        match (kind, self.instance.as_mut()) {
            (Kind::SyncRef(f), Some(instance)) => {
                let state = instance.get();
                catch(|| f.run(Exec::Run(state))).unwrap_or_else(Outcome::Panicked)
            }
            (Kind::SyncMut(f), Some(instance)) => match instance.get_mut() {
                Some(state) => catch(|| f.run(Exec::Run(state))).unwrap_or_else(Outcome::Panicked),
                None => self.lost(method, Kind::SyncMut(f)),
            },
            (kind, _) => self.lost(method, kind),
        }
    }

    /// Fails a call the core started while the state was not available to it. The core only
    /// starts calls while the actor serves and lets nothing run beside an exclusive call, so
    /// this is a broken invariant of helio's, reported and contained.
    fn lost(&self, method: &'static str, kind: Kind<A>) -> Outcome {
        let what = "a call started while the actor's state was unavailable";
        tracing::error!(actor = %self.shared.label, method, what, "helio bug");
        let call = Call {
            method,
            group: 0,
            body: Body(kind, None),
        };
        fail_call(
            call,
            ActorError::ActorDied {
                actor: self.shared.label.clone(),
                method,
                cause: DeathCause::Internal(what),
            },
        );
        Outcome::NotRun
    }

    /// After a crash: fails or re-queues the running calls, then restarts or dies.
    fn on_crash(&mut self, cause: DeathCause) {
        let after = self.core.crash();
        let retry = after == AfterCrash::Restart;
        let mut again = Vec::new();
        for mut call in self.take_running() {
            if retry
                && let Some(mut resume) = call.resume.take()
                && let Ok(Some(kind)) = catch(|| resume.retry.next())
            {
                let next_run = Call {
                    method: resume.method,
                    group: resume.group,
                    body: Body(kind, Some(resume.retry)),
                };
                again.push((resume.lane, resume.seq, next_run));
            }
            // A retry superseded the failer's run, so it resolves nothing then.
            call.abandon(&cause, &self.shared.label);
        }
        let label = &self.shared.label;
        if let Some(constructor) = self.constructing.take() {
            drop_quietly(constructor);
        }
        if let Some(message) = self.instance.take().and_then(drop_quietly) {
            tracing::warn!(actor = %label, %message, "dropping the crashed state panicked");
        }
        for (lane, seq, call) in again {
            self.core.requeue(lane, seq, call);
        }
        match after {
            AfterCrash::Die => {
                tracing::warn!(actor = %label, %cause, "actor crashed; no restarts left");
                self.end = Some(End::Died(cause));
            }
            AfterCrash::Restart => {
                tracing::info!(actor = %label, %cause, "actor crashed; restarting");
                self.shared.count_restart();
                self.shared.set_state(ActorState::Restarting);
                self.begin_construct();
            }
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event<A>> {
        if let Some(kill) = self.shared.take_kill() {
            return Poll::Ready(Event::Kill(kill));
        }
        if let Some(constructing) = self.constructing.as_mut() {
            let polled = catch(|| constructing.as_mut().poll(cx)).unwrap_or_else(|message| {
                Poll::Ready(Err(format!("the constructor panicked: {message}")))
            });
            if let Poll::Ready(result) = polled {
                if let Some(constructing) = self.constructing.take() {
                    drop_quietly(constructing);
                }
                return Poll::Ready(Event::Constructed(result));
            }
        }
        if let Some(alone) = self.running_exclusive.as_mut() {
            let polled = catch(|| alone.run.as_mut().poll(cx))
                .unwrap_or_else(|message| Poll::Ready((None, Outcome::Panicked(message))));
            if let Poll::Ready((instance, outcome)) = polled {
                if let Some(alone) = self.running_exclusive.take() {
                    drop_quietly(alone);
                }
                return Poll::Ready(Event::ExclusiveDone(instance, outcome));
            }
        }
        if let Some(running) = self.running_shared.as_mut()
            && !running.is_empty()
            && let Poll::Ready(Some((lane, outcome))) = running.poll_next_unpin(cx)
        {
            return Poll::Ready(Event::SharedDone(lane, outcome));
        }
        if !self.inbox.is_empty() {
            // Calls taken earlier wait their turn behind a call that just started.
            return Poll::Ready(Event::Mail);
        }
        if !self.senders_gone {
            match self.mailbox.poll_take(cx, &mut self.inbox) {
                Poll::Ready(Mail::Calls) => {
                    // The calls' slots were written by their callers, often on other cores:
                    // start loading the first few (`start_calls` keeps ahead of the rest).
                    for call in self.inbox.iter().take(PREFETCH_AHEAD) {
                        call.body.prefetch();
                    }
                    return Poll::Ready(Event::Mail);
                }
                Poll::Ready(Mail::SendersGone) => return Poll::Ready(Event::SendersGone),
                Poll::Pending => {}
            }
        }
        // Register for kills only when about to sleep, then look once more.
        self.shared.register_kill_waker(cx);
        match self.shared.take_kill() {
            Some(kill) => Poll::Ready(Event::Kill(kill)),
            None => Poll::Pending,
        }
    }
}

impl<A: ActorClass> Future for Driver<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `Drop` resolves what is left once this returns `Ready`.
        self.get_mut().step(cx)
    }
}

/// Runs the `#[on_stop]` hook at a graceful stop, for at most [`ON_STOP_TIMEOUT`]; then drops
/// the state. Owns the state, so the driver can keep polling it.
fn on_stop<A: ActorClass>(
    label: ActorLabel,
    instance: Option<Instance<A>>,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let Some(mut instance) = instance else {
            return;
        };
        if let Some(state) = instance.get_mut() {
            run_hook(&label, state).await;
        }
        if let Some(message) = drop_quietly(instance) {
            tracing::warn!(actor = %label, %message, "dropping the stopped state panicked");
        }
    })
}

async fn run_hook<A: ActorClass>(label: &ActorLabel, state: &mut A) {
    let hook = match catch(|| A::on_stop(state)) {
        Ok(Some(hook)) => hook,
        Ok(None) => return,
        Err(message) => {
            tracing::warn!(actor = %label, %message, "on_stop panicked");
            return;
        }
    };
    let mut hook = AssertUnwindSafe(Quiet(hook)).catch_unwind();
    let sleep = crate::embedded::timer_handle().map(|handle| {
        let _entered = handle.enter();
        Box::pin(tokio::time::sleep(ON_STOP_TIMEOUT))
    });
    let outcome = match sleep {
        Ok(mut sleep) => {
            poll_fn(|cx| {
                if let Poll::Ready(done) = hook.poll_unpin(cx) {
                    return Poll::Ready(Some(done));
                }
                sleep.as_mut().poll(cx).map(|()| None)
            })
            .await
        }
        Err(_) => Some(hook.await),
    };
    match outcome {
        Some(Ok(())) => tracing::debug!(actor = %label, "on_stop done"),
        Some(Err(payload)) => {
            let message = crate::unwind::take_message(payload);
            tracing::warn!(actor = %label, %message, "on_stop panicked");
        }
        None => tracing::warn!(actor = %label, ?ON_STOP_TIMEOUT, "on_stop timed out"),
    }
}

/// Resolves a call to `err` without running it; its arguments' `Drop` may panic.
fn fail_call<A: Send + 'static>(call: Call<A>, err: ActorError) {
    let method = call.method;
    if let Err(message) = catch(|| call.body.fail(err)) {
        tracing::warn!(method, %message, "dropping a call's arguments panicked");
    }
}

impl<A: ActorClass> Drop for Driver<A> {
    fn drop(&mut self) {
        let cause = match self.end.take() {
            Some(End::Stopped) => None,
            Some(End::Died(cause)) => Some(cause),
            // The driver's task was dropped: its runtime shut down (or, in a panic, a bug).
            None if std::thread::panicking() => Some(DeathCause::Internal("the driver panicked")),
            None => Some(DeathCause::Shutdown),
        };
        // Free the name first: whoever learns of the death may reuse it at once.
        if let Some(key) = &self.name {
            registry::global().remove(key, self.shared.id);
        }
        // An `on_stop` hook cut short (its runtime went away) owns the state.
        if let Some(stopping) = self.stopping.take() {
            drop_quietly(stopping);
        }
        let Some(cause) = cause else {
            // A graceful stop: no handle is left and every call was served.
            drop(self.mailbox.close());
            if let Some(instance) = self.instance.take() {
                drop_quietly(instance);
            }
            drop_quietly(self.shared.take_kept());
            return;
        };
        let label = self.shared.label.clone();
        self.shared.set_state(ActorState::Dead(cause.clone()));
        let left = self.mailbox.close();
        for call in self.take_running() {
            call.abandon(&cause, &label);
        }
        let queued = self.core.drain();
        for call in queued.into_iter().chain(self.inbox.drain(..)).chain(left) {
            let err = ActorError::ActorDied {
                actor: label.clone(),
                method: call.method,
                cause: cause.clone(),
            };
            fail_call(call, err);
        }
        if let Some(constructing) = self.constructing.take() {
            drop_quietly(constructing);
        }
        if let Some(instance) = self.instance.take() {
            drop_quietly(instance);
        }
        drop_quietly(self.shared.take_kept());
    }
}
