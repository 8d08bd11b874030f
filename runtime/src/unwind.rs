//! Running user code from inside the runtime without letting its panics escape.
//!
//! Every place where the runtime runs code the user wrote (a method, a constructor, an
//! `on_stop` hook, or a `Drop` impl of the state, an argument, a result, a future or a panic
//! payload) goes through these helpers, so a panic there is a crash of that actor and never
//! tears down the runtime's own bookkeeping.

use std::{
    any::Any,
    panic::{AssertUnwindSafe, catch_unwind},
};

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

/// Runs `f`, turning a panic into its message.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(take_message)
}

/// Drops `value`; a panic in its `Drop` is returned as a message instead of unwinding.
pub(crate) fn drop_quietly<T>(value: T) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(move || drop(value))) {
        Ok(()) => None,
        Err(payload) => {
            let message = panic_message(&*payload);
            // A payload whose `Drop` panics again is leaked: there is no one left to tell.
            if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
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
