//! The batch of sync calls run inline: the sync calls at the front of the inbox run one after
//! another on the driver's own task, with the state borrowed and panics caught once for the
//! whole batch; one sync call the core lets start runs the same way on its own.

use super::{Driver, PREFETCH_AHEAD};
use crate::{
    ActorClass,
    call::{Body, Call, Kind},
    exec::{Exec, Outcome},
    instance::Instance,
    unwind::catch,
};

impl<A: ActorClass> Driver<A> {
    /// Runs the sync calls at the front of the inbox that the core lets start now, one after
    /// another, until one may not (or is not sync, or panics). Each finishes before the next
    /// starts, so none needs the core's `admit` and `finished`; the state is borrowed, and
    /// panics are caught, once for the whole run.
    pub(super) fn run_inline_calls(&mut self) {
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
    pub(super) fn run_inline(&mut self, call: Call<A>) {
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
    pub(super) fn run_sync(&mut self, method: &'static str, kind: Kind<A>) -> Outcome {
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
}
