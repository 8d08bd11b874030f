//! The calls this process serves for other processes, by their reply subject: to cancel
//! one as its caller asks, grant a stream credit, or hand the tasks back as this node leaves.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

/// Calls being served for other processes, by their reply subject.
#[derive(Default)]
pub(crate) struct Inflight(Mutex<HashMap<String, Served>>);

/// How to reach a call being served: to cancel it, or to grant its stream credit.
pub(crate) enum Served {
    Call(crate::seam::Canceller),
    /// A task another node sent here.
    Task(crate::seam::Canceller),
    Stream(tokio::sync::watch::Sender<Credit>),
}

/// What a stream's caller has granted: items consumed so far, or a cancel.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Credit {
    pub(crate) consumed: u64,
    pub(crate) cancelled: bool,
}

impl Inflight {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Served>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, call: String, served: Served) {
        self.lock().insert(call, served);
    }

    /// Whether `call` is being served here.
    pub(crate) fn contains(&self, call: &str) -> bool {
        self.lock().contains_key(call)
    }

    pub(crate) fn remove(&self, call: &str) {
        let removed = self.lock().remove(call);
        drop(removed);
    }

    /// Cancels the call, as its caller asked.
    pub(crate) fn cancel(&self, call: &str) {
        let served = self.lock().remove(call);
        match served {
            Some(Served::Call(cancel) | Served::Task(cancel)) => {
                cancel.cancel();
            }
            Some(Served::Stream(credit)) => {
                credit.send_modify(|credit| credit.cancelled = true);
            }
            None => {}
        }
    }

    /// Takes out every task running here for another node: their reply subjects and
    /// cancellers.
    pub(crate) fn take_tasks(&self) -> Vec<(String, crate::seam::Canceller)> {
        let mut served = self.lock();
        let tasks: Vec<String> = served
            .iter()
            .filter(|(_, s)| matches!(s, Served::Task(_)))
            .map(|(call, _)| call.clone())
            .collect();
        tasks
            .into_iter()
            .filter_map(|call| match served.remove(&call) {
                Some(Served::Task(cancel)) => Some((call, cancel)),
                _ => None,
            })
            .collect()
    }

    /// The caller of stream `call` has consumed `consumed` items.
    pub(crate) fn credit(&self, call: &str, consumed: u64) {
        if let Some(Served::Stream(credit)) = self.lock().get(call) {
            credit.send_modify(|credit| credit.consumed = credit.consumed.max(consumed));
        }
    }
}
