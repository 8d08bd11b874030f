//! The actor's life cycle on its driver: constructing the state (again at a restart), a crash
//! (fail or re-queue the running calls, then restart or die), a graceful stop (the
//! `#[on_stop]` hook), and death, where the driver's `Drop` frees the name and resolves every
//! call left.

use std::{future::poll_fn, panic::AssertUnwindSafe, task::Poll};

use futures::{FutureExt, future::BoxFuture};

use super::{Driver, End, fail_call};
use crate::{
    ActorClass, ActorError,
    call::{Body, Call},
    error::DeathCause,
    instance::Instance,
    label::ActorLabel,
    registry,
    scheduler::AfterCrash,
    state::ActorState,
    unwind::{Quiet, catch, drop_quietly},
};

/// How long an `#[on_stop]` hook may run before the actor stops without it.
pub(crate) const ON_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl<A: ActorClass> Driver<A> {
    /// Starts the constructor (a restart runs it again with the stored arguments).
    pub(super) fn begin_construct(&mut self) {
        match catch(|| (self.construct)()) {
            Ok(future) => self.constructing = Some(future),
            Err(message) => {
                let message = format!("the constructor panicked: {message}");
                tracing::warn!(actor = %self.shared.label, %message, "actor constructor failed");
                self.end = Some(End::died(DeathCause::InitFailed(message)));
            }
        }
    }
    /// After a crash: fails or re-queues the running calls, then restarts or dies.
    pub(super) fn on_crash(&mut self, cause: DeathCause) {
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
                self.end = Some(End::died(cause));
            }
            AfterCrash::Restart => {
                tracing::info!(actor = %label, %cause, "actor crashed; restarting");
                self.shared.count_restart();
                self.shared.set_state(ActorState::Restarting);
                self.shared.crash_handled();
                self.begin_construct();
            }
        }
    }
}

/// Runs the `#[on_stop]` hook at a graceful stop, for at most [`ON_STOP_TIMEOUT`]; then drops
/// the state. Owns the state, so the driver can keep polling it.
pub(super) fn on_stop<A: ActorClass>(
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

impl<A: ActorClass> Drop for Driver<A> {
    fn drop(&mut self) {
        let cause = match self.end.take() {
            Some(End::Stopped) => None,
            Some(End::Died(cause)) => Some(*cause),
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
            self.shared.crash_handled();
            drop(self.mailbox.close());
            if let Some(instance) = self.instance.take() {
                drop_quietly(instance);
            }
            drop_quietly(self.shared.take_kept());
            return;
        };
        let label = self.shared.label.clone();
        self.shared.set_state(ActorState::Dead(cause.clone()));
        self.shared.crash_handled();
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
