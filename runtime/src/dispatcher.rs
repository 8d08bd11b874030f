//! The task that runs one actor: it owns the state, starts calls and handles crashes.
//!
//! Scheduling rules (see DESIGN.md §3):
//! - calls start in arrival order; every call gets a sequence number;
//! - a shared (`&self`) call waits in its concurrency group's FIFO queue until the group has a
//!   free permit, so a full group never holds up another group;
//! - an exclusive (`&mut self`) call is a barrier: it starts once every earlier call has started
//!   and finished, and nothing later starts until it returns.
//!
//! Sync methods run inline on this task. Async and blocking `&self` calls run as futures polled
//! by this task beside the mailbox; an async or blocking `&mut self` call owns the state while
//! it runs and hands it back.

use std::{
    borrow::Cow,
    collections::VecDeque,
    future::{Future, poll_fn},
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::{
    ActorClass, ActorError, ActorState,
    actor::ActorShared,
    call::{Body, Call, ExclusiveRun, Exec, Kind, Outcome, Retry, SharedRun},
    error::{DeathCause, panic_message},
    instance::Instance,
    object_ref::fail_dropped_with,
    options::ActorConfig,
    registry::{Key, Registry},
};

/// How long an `#[on_stop]` hook may run before the actor stops without it.
pub(crate) const ON_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the constructor again with the stored arguments.
pub(crate) type Constructor<A> = Box<dyn Fn() -> BoxFuture<'static, Result<A, String>> + Send>;

struct Queued<A> {
    seq: u64,
    call: Call<A>,
}

struct Group<A> {
    name: String,
    limit: usize,
    running: usize,
    queue: VecDeque<Queued<A>>,
}

/// What it takes to put a running call back in its queue when a crash interrupts it.
struct Resumable<A> {
    seq: u64,
    method: &'static str,
    group: Option<Cow<'static, str>>,
    retry: Retry<A>,
}

impl<A: Send + 'static> Resumable<A> {
    /// The call's next run, while `max_task_retries` allows.
    fn next_run(self) -> Option<Queued<A>> {
        let Resumable {
            seq,
            method,
            group,
            retry,
        } = self;
        let body = retry.next()?;
        Some(Queued {
            seq,
            call: Call {
                method,
                group,
                body,
            },
        })
    }
}

/// A shared call's future, tagged with its group.
struct InGroup<A> {
    group: usize,
    resume: Option<Resumable<A>>,
    run: SharedRun,
}

impl<A> Future for InGroup<A> {
    type Output = (usize, Outcome);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let group = self.group;
        self.run.as_mut().poll(cx).map(|outcome| (group, outcome))
    }
}

enum Event<A> {
    /// `helio::kill`: for good, or as a crash.
    Kill {
        for_good: bool,
    },
    Mail(Option<Call<A>>),
    SharedDone(usize, Outcome),
    ExclusiveDone(Option<Instance<A>>, Outcome),
}

pub(crate) struct Dispatcher<A> {
    shared: Arc<ActorShared>,
    name: Option<(Arc<Registry>, Key)>,
    construct: Constructor<A>,
    mailbox: UnboundedReceiver<Call<A>>,
    mailbox_open: bool,
    instance: Option<Instance<A>>,
    groups: Vec<Group<A>>,
    barriers: VecDeque<Queued<A>>,
    next_seq: u64,
    running_shared: FuturesUnordered<InGroup<A>>,
    running_exclusive: Option<ExclusiveRun<A>>,
    /// How to re-run the running exclusive call, if it may be retried.
    exclusive_resume: Option<Resumable<A>>,
    /// `-1`: forever.
    restarts_left: i64,
    /// A crash not yet handled (a panic, or a kill that may restart).
    crashed: Option<DeathCause>,
    /// Set when the actor dies; `None` at a graceful stop.
    death: Option<DeathCause>,
}

impl<A: ActorClass> Dispatcher<A> {
    pub(crate) fn new(
        shared: Arc<ActorShared>,
        config: ActorConfig,
        registry: Option<Arc<Registry>>,
        construct: Constructor<A>,
        mailbox: UnboundedReceiver<Call<A>>,
    ) -> Self {
        let groups = config
            .groups
            .into_iter()
            .map(|(name, limit)| Group {
                name,
                limit,
                running: 0,
                queue: VecDeque::new(),
            })
            .collect();
        Dispatcher {
            shared,
            name: registry.zip(config.name),
            construct,
            mailbox,
            mailbox_open: true,
            instance: None,
            groups,
            barriers: VecDeque::new(),
            next_seq: 0,
            running_shared: FuturesUnordered::new(),
            running_exclusive: None,
            exclusive_resume: None,
            restarts_left: config.max_restarts,
            crashed: None,
            death: None,
        }
    }

    pub(crate) async fn run(mut self) {
        if self.construct_instance().await {
            self.serve().await;
        }
        self.finish();
    }

    async fn serve(&mut self) {
        loop {
            self.schedule();
            if let Some(cause) = self.crashed.take() {
                if !self.restart_after_crash(cause).await {
                    return;
                }
                continue;
            }
            if !self.mailbox_open && self.is_idle() {
                self.run_on_stop().await;
                return;
            }
            match self.next_event().await {
                Event::Kill { for_good: true } => {
                    tracing::info!(actor = %self.shared.label, "actor killed");
                    self.death = Some(DeathCause::Killed);
                    return;
                }
                Event::Kill { for_good: false } => {
                    self.crashed.get_or_insert(DeathCause::Killed);
                }
                Event::Mail(Some(call)) => self.enqueue(call),
                Event::Mail(None) => self.mailbox_open = false,
                Event::SharedDone(group, outcome) => {
                    self.groups[group].running -= 1;
                    self.note(outcome);
                }
                Event::ExclusiveDone(instance, outcome) => {
                    self.exclusive_resume = None;
                    self.instance = instance;
                    self.note(outcome);
                }
            }
        }
    }

    /// Runs the `#[on_stop]` hook at a graceful stop, for at most [`ON_STOP_TIMEOUT`].
    async fn run_on_stop(&mut self) {
        let Some(state) = self.instance.as_mut().and_then(Instance::get_mut) else {
            return;
        };
        let Some(hook) = A::on_stop(state) else {
            return;
        };
        let label = &self.shared.label;
        match tokio::time::timeout(ON_STOP_TIMEOUT, AssertUnwindSafe(hook).catch_unwind()).await {
            Ok(Ok(())) => tracing::debug!(actor = %label, "on_stop done"),
            Ok(Err(payload)) => {
                let message = panic_message(&*payload);
                tracing::warn!(actor = %label, %message, "on_stop panicked");
            }
            Err(_) => tracing::warn!(actor = %label, ?ON_STOP_TIMEOUT, "on_stop timed out"),
        }
    }

    /// Runs the constructor; on failure records the death and returns `false`.
    async fn construct_instance(&mut self) -> bool {
        let result = match std::panic::catch_unwind(AssertUnwindSafe(|| (self.construct)())) {
            Ok(future) => match AssertUnwindSafe(future).catch_unwind().await {
                Ok(result) => result,
                Err(payload) => Err(format!(
                    "the constructor panicked: {}",
                    panic_message(&*payload)
                )),
            },
            Err(payload) => Err(format!(
                "the constructor panicked: {}",
                panic_message(&*payload)
            )),
        };
        match result {
            Ok(state) => {
                self.instance = Some(Instance::new(state));
                self.shared.set_state(ActorState::Alive);
                true
            }
            Err(message) => {
                tracing::warn!(actor = %self.shared.label, %message, "actor constructor failed");
                self.death = Some(DeathCause::InitFailed(message));
                false
            }
        }
    }

    /// After a crash: fails the running calls, then restarts if a restart is left.
    async fn restart_after_crash(&mut self, cause: DeathCause) -> bool {
        // Calls interrupted by the crash run again on the new instance while their
        // `max_task_retries` allows; making their next run supersedes the interrupted one, whose
        // completer then stays silent when it is dropped below.
        let mut again = Vec::new();
        if self.restarts_left != 0 {
            for running in self.running_shared.iter_mut() {
                if let Some(queued) = running.resume.take().and_then(Resumable::next_run) {
                    again.push((Some(running.group), queued));
                }
            }
            if let Some(queued) = self.exclusive_resume.take().and_then(Resumable::next_run) {
                again.push((None, queued));
            }
        }
        fail_dropped_with(cause.clone(), || {
            self.running_shared.clear();
            self.running_exclusive = None;
            self.exclusive_resume = None;
            self.instance = None;
        });
        for group in &mut self.groups {
            group.running = 0;
        }
        // They started before every queued call: back to the front, in their original order.
        again.sort_by_key(|(_, queued)| std::cmp::Reverse(queued.seq));
        for (group, queued) in again {
            match group {
                Some(group) => self.groups[group].queue.push_front(queued),
                None => self.barriers.push_front(queued),
            }
        }
        if self.restarts_left == 0 {
            tracing::warn!(actor = %self.shared.label, %cause, "actor crashed; no restarts left");
            self.death = Some(cause);
            return false;
        }
        if self.restarts_left > 0 {
            self.restarts_left -= 1;
        }
        tracing::info!(actor = %self.shared.label, %cause, "actor crashed; restarting");
        self.shared.set_state(ActorState::Restarting);
        self.shared.count_restart();
        self.construct_instance().await
    }

    fn note(&mut self, outcome: Outcome) {
        if let Outcome::Panicked(message) = outcome {
            self.crashed.get_or_insert(DeathCause::Panicked(message));
        }
    }

    fn is_idle(&self) -> bool {
        self.running_exclusive.is_none()
            && self.running_shared.is_empty()
            && self.barriers.is_empty()
            && self.groups.iter().all(|g| g.queue.is_empty())
    }

    /// Whether a call that needs no more than a free permit may start right now, ahead of
    /// nothing: no crash pending, no exclusive call running or waiting.
    fn may_start_now(&self) -> bool {
        self.crashed.is_none() && self.running_exclusive.is_none() && self.barriers.is_empty()
    }

    /// Queues a call, or starts it at once when nothing it must wait for is queued or running.
    fn enqueue(&mut self, call: Call<A>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if call.body.is_exclusive() {
            let alone = self.may_start_now()
                && self.running_shared.is_empty()
                && self.groups.iter().all(|g| g.queue.is_empty());
            if alone {
                self.start_exclusive(seq, call);
            } else {
                self.barriers.push_back(Queued { seq, call });
            }
            return;
        }
        let index = match &call.group {
            None => Some(0),
            Some(name) => self.groups.iter().position(|g| g.name == *name),
        };
        match index {
            Some(index) => {
                let group = &self.groups[index];
                if self.may_start_now() && group.queue.is_empty() && group.running < group.limit {
                    self.start_shared(index, seq, call);
                } else {
                    self.groups[index].queue.push_back(Queued { seq, call });
                }
            }
            None => {
                let declared = self
                    .groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>();
                let err = ActorError::UnknownConcurrencyGroup {
                    actor: self.shared.label.clone(),
                    method: call.method,
                    group: call.group.as_deref().unwrap_or_default().to_owned(),
                    declared: declared.join(", "),
                };
                call.body.fail(err);
            }
        }
    }

    /// Starts every call the rules allow, until none can start.
    fn schedule(&mut self) {
        loop {
            if self.crashed.is_some() || self.running_exclusive.is_some() {
                return;
            }
            let barrier = self.barriers.front().map_or(u64::MAX, |q| q.seq);
            let mut started = false;
            for index in 0..self.groups.len() {
                while self.crashed.is_none() {
                    let group = &mut self.groups[index];
                    let startable = group.running < group.limit
                        && group.queue.front().is_some_and(|q| q.seq < barrier);
                    if !startable {
                        break;
                    }
                    let Some(queued) = group.queue.pop_front() else {
                        break;
                    };
                    self.start_shared(index, queued.seq, queued.call);
                    started = true;
                }
            }
            let barrier_due = barrier != u64::MAX
                && self.crashed.is_none()
                && self.running_shared.is_empty()
                && self
                    .groups
                    .iter()
                    .all(|g| g.queue.front().is_none_or(|q| q.seq > barrier));
            if barrier_due && let Some(queued) = self.barriers.pop_front() {
                self.start_exclusive(queued.seq, queued.call);
                started = true;
            }
            if !started {
                return;
            }
        }
    }

    fn start_shared(&mut self, group: usize, seq: u64, call: Call<A>) {
        let Call {
            method,
            group: group_name,
            body: Body(kind, retry),
        } = call;
        let Some(instance) = self.instance.as_ref() else {
            let call = Call {
                method,
                group: group_name,
                body: Body(kind, None),
            };
            return self.fail_internal(call, "no instance for a shared call");
        };
        match kind {
            Kind::SyncRef(f) => {
                let outcome = f(Exec::Run(instance.get()));
                self.note(outcome);
            }
            Kind::Shared(f) => {
                if let Some(run) = f(Exec::Run(instance)) {
                    let resume = retry.map(|retry| Resumable {
                        seq,
                        method,
                        group: group_name,
                        retry,
                    });
                    self.groups[group].running += 1;
                    self.running_shared.push(InGroup { group, resume, run });
                }
            }
            kind @ (Kind::SyncMut(_) | Kind::Exclusive(_)) => {
                let call = Call {
                    method,
                    group: group_name,
                    body: Body(kind, None),
                };
                self.fail_internal(call, "an exclusive call in a group queue");
            }
        }
    }

    fn start_exclusive(&mut self, seq: u64, call: Call<A>) {
        let Call {
            method,
            group,
            body: Body(kind, retry),
        } = call;
        let rebuild = |kind| Call {
            method,
            group: None,
            body: Body(kind, None),
        };
        match kind {
            Kind::SyncMut(f) => match self.instance.as_mut().and_then(Instance::get_mut) {
                Some(state) => {
                    let outcome = f(Exec::Run(state));
                    self.note(outcome);
                }
                None => self.fail_internal(rebuild(Kind::SyncMut(f)), "state still shared"),
            },
            Kind::Exclusive(f) => {
                let Some(instance) = self.instance.take() else {
                    let call = rebuild(Kind::Exclusive(f));
                    return self.fail_internal(call, "no instance for an exclusive call");
                };
                match instance.into_exclusive() {
                    Ok(state) => match f(Exec::Run(state)) {
                        Some(run) => {
                            self.running_exclusive = Some(run);
                            self.exclusive_resume = retry.map(|retry| Resumable {
                                seq,
                                method,
                                group,
                                retry,
                            });
                        }
                        None => {
                            let lost = DeathCause::Internal("an exclusive call lost the state");
                            self.crashed.get_or_insert(lost);
                        }
                    },
                    Err(instance) => {
                        self.instance = Some(instance);
                        self.fail_internal(rebuild(Kind::Exclusive(f)), "state still shared");
                    }
                }
            }
            kind @ (Kind::SyncRef(_) | Kind::Shared(_)) => {
                self.fail_internal(rebuild(kind), "a shared call in the exclusive queue");
            }
        }
    }

    fn fail_internal(&self, call: Call<A>, what: &'static str) {
        tracing::error!(actor = %self.shared.label, method = call.method, what, "helio bug");
        call.fail_died(&self.shared.label, DeathCause::Internal(what));
    }

    async fn next_event(&mut self) -> Event<A> {
        poll_fn(|cx| {
            let kill = |for_good| Poll::Ready(Event::Kill { for_good });
            if let Some(for_good) = self.shared.take_kill() {
                return kill(for_good);
            }
            if let Some(run) = self.running_exclusive.as_mut()
                && let Poll::Ready((instance, outcome)) = run.as_mut().poll(cx)
            {
                self.running_exclusive = None;
                return Poll::Ready(Event::ExclusiveDone(instance, outcome));
            }
            if !self.running_shared.is_empty()
                && let Poll::Ready(Some((group, outcome))) = self.running_shared.poll_next_unpin(cx)
            {
                return Poll::Ready(Event::SharedDone(group, outcome));
            }
            if self.mailbox_open
                && let Poll::Ready(mail) = self.mailbox.poll_recv(cx)
            {
                return Poll::Ready(Event::Mail(mail));
            }
            // Register for kills only when about to sleep, then look once more.
            self.shared.register_kill_waker(cx);
            match self.shared.take_kill() {
                Some(for_good) => kill(for_good),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Fails everything left when the actor died, and frees its name.
    fn finish(mut self) {
        // Free the name first: whoever learns of the death may reuse it at once.
        if let Some((registry, key)) = &self.name {
            registry.remove(key, self.shared.id);
        }
        if let Some(cause) = self.death.take() {
            let label = self.shared.label.clone();
            self.shared.set_state(ActorState::Dead(cause.clone()));
            fail_dropped_with(cause.clone(), || {
                self.running_shared.clear();
                self.running_exclusive = None;
                self.exclusive_resume = None;
            });
            let queued = self.groups.iter_mut().flat_map(|g| g.queue.drain(..));
            for q in queued.chain(self.barriers.drain(..)) {
                q.call.fail_died(&label, cause.clone());
            }
            self.mailbox.close();
            while let Ok(call) = self.mailbox.try_recv() {
                call.fail_died(&label, cause.clone());
            }
        }
    }
}
