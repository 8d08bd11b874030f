//! Starting an actor's calls: the new calls go to the [scheduler](crate::scheduler) core, and
//! each call it lets start runs: a sync call inline (`inline.rs`), an async or `blocking` call
//! as a future the driver keeps polling ([`InGroup`] beside the others of its group, [`Alone`]
//! when it owns the state) until it finishes, or until a crash or death interrupts it
//! ([`Interrupted`]).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use futures::stream::FuturesUnordered;

use super::{Driver, fail_call};
use crate::{
    ActorClass, ActorError,
    blocking::running_inline,
    call::{Body, Call, ExclusiveRun, Kind, SharedRun, Started},
    error::DeathCause,
    exec::{Exec, Outcome},
    label::ActorLabel,
    object_ref::Failer,
    restart::Resumable,
    scheduler::{Lane, Start},
    unwind::{catch, drop_quietly},
};

/// A shared call's future, with its lane and what it takes to re-run or fail it.
pub(super) struct InGroup<A> {
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
pub(super) struct Alone<A> {
    resume: Option<Resumable<Kind<A>>>,
    failer: Option<Failer>,
    pub(super) run: ExclusiveRun<A>,
}

/// A call that was running as a future when its actor crashed or died.
pub(super) struct Interrupted<A> {
    pub(super) resume: Option<Resumable<Kind<A>>>,
    failer: Option<Failer>,
    run: Box<dyn Send>,
}

impl<A> Interrupted<A> {
    /// Resolves its ref to `ActorDied { cause }` (unless a retry superseded this run) and
    /// drops its future, whose `Drop` may panic.
    pub(super) fn abandon(self, cause: &DeathCause, label: &ActorLabel) {
        if let Some(failer) = self.failer {
            failer.fail(cause.clone());
        }
        if let Some(message) = drop_quietly(self.run) {
            tracing::warn!(actor = %label, %message, "dropping an interrupted call panicked");
        }
    }
}

impl<A: ActorClass> Driver<A> {
    /// Gives the new calls to the core, then starts every call it allows.
    pub(super) fn start_calls(&mut self) {
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
    pub(super) fn take_running(&mut self) -> Vec<Interrupted<A>> {
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

    pub(super) fn lane(call: &Call<A>) -> Lane {
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
    /// Fails a call the core started while the state was not available to it. The core only
    /// starts calls while the actor serves and lets nothing run beside an exclusive call, so
    /// this is a broken invariant of helio's, reported and contained.
    pub(super) fn lost(&self, method: &'static str, kind: Kind<A>) -> Outcome {
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
}
