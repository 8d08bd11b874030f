//! Running user code from inside the runtime without letting its panics escape.
//!
//! Every place where the runtime runs code the user wrote (a method, a constructor, an
//! `on_stop` hook, or a `Drop` impl of the state, an argument, a result, a future or a panic
//! payload) goes through these helpers, so a panic there is a crash of that actor and never
//! tears down the runtime's own bookkeeping.

use std::{
    any::Any,
    cell::Cell,
    future::Future,
    panic::{AssertUnwindSafe, PanicHookInfo, catch_unwind},
    pin::Pin,
    sync::Once,
    task::{Context, Poll},
};

/// Who hears, before a method's caller, that the method panicked: the actor whose driver
/// runs (so that its state shows the crash by the time the caller learns of it).
pub(crate) trait HearsPanics: Send + Sync {
    /// A method of this actor panicked; its caller is about to learn it.
    fn method_panicked(&self);
}

tokio::task_local! {
    /// The actor whose driver runs here.
    static HEARS: std::sync::Arc<dyn HearsPanics>;
}

/// Runs `driver` with `actor` hearing the panics of the methods it runs.
pub(crate) fn hearing_panics<F: Future>(
    actor: std::sync::Arc<dyn HearsPanics>,
    driver: F,
) -> impl Future<Output = F::Output> {
    HEARS.scope(actor, driver)
}

/// A method panicked: tells the actor whose driver runs here, if any, before its caller
/// learns it.
pub(crate) fn method_panicked() {
    let _ = HEARS.try_with(|actor| actor.method_panicked());
}

thread_local! {
    /// How many helio catch sites this thread is inside: a panic here comes back as a result
    /// (`TaskPanicked`, a crash), so it is reported through `tracing`, not printed.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Wraps the process's panic hook, once: panics that helio catches become a `tracing` event
/// (with their message and location) instead of the hook's output; every other panic goes to
/// the hook that was there before, the user's own included. A hook set later replaces this
/// one, as it would any other.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    // The hook cannot change while this thread panics; the next call will install it.
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if CATCHING.try_with(|c| c.get() > 0).unwrap_or(false) {
                let location = info.location().map(ToString::to_string);
                let message = panic_message(info.payload());
                tracing::warn!(
                    location = location.as_deref().unwrap_or("?"),
                    %message,
                    "panic in actor code, caught by helio"
                );
            } else {
                previous(info);
            }
        }));
    });
}

/// Marks this thread as inside a helio catch site until dropped (also when unwinding).
struct Catching;

impl Catching {
    /// (The hook itself is installed when an actor is spawned, before any of its code runs:
    /// not here, on every call's path.)
    #[inline]
    fn enter() -> Self {
        let _ = CATCHING.try_with(|c| c.set(c.get() + 1));
        Catching
    }
}

impl Drop for Catching {
    #[inline]
    fn drop(&mut self) {
        let _ = CATCHING.try_with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// Runs `f`, whose panics helio catches around it: they are reported through `tracing`.
#[inline]
pub(crate) fn quiet<R>(f: impl FnOnce() -> R) -> R {
    let _catching = Catching::enter();
    f()
}

/// A future whose panics helio catches around it (see [`quiet`]).
pub(crate) struct Quiet<F>(pub(crate) F);

impl<F: Future + Unpin> Future for Quiet<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        quiet(|| Pin::new(&mut self.0).poll(cx))
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Reads a panic payload's message and drops the payload, whose own `Drop` may panic too.
pub(crate) fn take_message(payload: Box<dyn Any + Send>) -> String {
    let message = panic_message(&*payload);
    drop_quietly(payload);
    message
}

/// Runs `f`, turning a panic into its message (reported through `tracing`, not printed).
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    quiet(|| catch_unwind(AssertUnwindSafe(f))).map_err(take_message)
}

/// Drops `value`; a panic in its `Drop` is returned as a message instead of unwinding.
pub(crate) fn drop_quietly<T>(value: T) -> Option<String> {
    match quiet(|| catch_unwind(AssertUnwindSafe(move || drop(value)))) {
        Ok(()) => None,
        Err(payload) => {
            let message = panic_message(&*payload);
            // A payload whose `Drop` panics again is leaked: there is no one left to tell.
            if let Err(again) = quiet(|| catch_unwind(AssertUnwindSafe(move || drop(payload)))) {
                std::mem::forget(again);
            }
            Some(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }

    #[test]
    fn a_panicking_drop_is_reported_not_unwound() {
        assert_eq!(drop_quietly(PanicsOnDrop).as_deref(), Some("boom in drop"));
        assert_eq!(drop_quietly(1_u8), None);
    }

    #[test]
    fn a_payload_whose_drop_panics_is_contained() {
        let result = catch(|| std::panic::panic_any(PanicsOnDrop));
        assert_eq!(
            result.err().as_deref(),
            Some("a panic with a non-string payload")
        );
    }
}
