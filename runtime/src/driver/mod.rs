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
//!
//! This module holds the driver's state and its event loop: what wakes it and what each event
//! does. Starting calls (`start.rs`), the sync calls run inline in a batch (`inline.rs`), and
//! the actor's life cycle (`life.rs`: construct, crash and restart, a graceful stop, death)
//! are in the modules beside it.

mod inline;
mod life;
mod start;

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use life::on_stop;
use start::{Alone, InGroup};

use crate::{
    ActorClass, ActorError,
    actor::{ActorShared, Kill},
    call::Call,
    error::DeathCause,
    exec::Outcome,
    instance::Instance,
    mailbox::{Mail, Mailbox},
    options::ActorConfig,
    registry::Key,
    roster::{self, Enlisted},
    scheduler::{Core, Lane},
    state::ActorState,
    unwind::{catch, drop_quietly},
};

/// How many calls ahead of the one it starts the driver prefetches a sync call's slot: the
/// first touch of a slot its caller wrote is a cache miss, and a call's own work is too short
/// to hide it (1024 actors x 256 callers on 2 workers: about a fifth more calls per second).
const PREFETCH_AHEAD: usize = 4;

/// Events handled per poll before the driver yields to its worker's other tasks.
const EVENTS_PER_POLL: u32 = 128;

/// Runs the constructor again with the stored arguments.
pub(crate) type Constructor<A> = Box<dyn Fn() -> BoxFuture<'static, Result<A, String>> + Send>;

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
    /// Boxed, as the crash below: an idle actor's driver stays small (its task is allocated
    /// in steps of 128 bytes).
    Died(Box<DeathCause>),
}

impl End {
    fn died(cause: DeathCause) -> Self {
        End::Died(Box::new(cause))
    }
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
    crash: Option<Box<DeathCause>>,
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
                self.end = Some(End::died(DeathCause::Killed));
            }
            Event::Kill(Kill::Fenced) => {
                tracing::warn!(actor = %self.shared.label, "actor stopped: its node is cut off");
                self.end = Some(End::died(DeathCause::Fenced));
            }
            Event::Kill(Kill::Shutdown) => self.end = Some(End::died(DeathCause::Shutdown)),
            Event::Kill(Kill::Crash) => {
                self.crash
                    .get_or_insert_with(|| Box::new(DeathCause::Killed));
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
                self.end = Some(End::died(DeathCause::InitFailed(message)));
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
                self.on_crash(*cause);
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
    fn note(&mut self, outcome: Outcome) {
        if let Outcome::Panicked(message) = outcome {
            self.crash
                .get_or_insert_with(|| Box::new(DeathCause::Panicked(message)));
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

/// Resolves a call to `err` without running it; its arguments' `Drop` may panic.
fn fail_call<A: Send + 'static>(call: Call<A>, err: ActorError) {
    let method = call.method;
    if let Err(message) = catch(|| call.body.fail(err)) {
        tracing::warn!(method, %message, "dropping a call's arguments panicked");
    }
}
