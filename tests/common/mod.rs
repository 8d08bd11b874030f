//! Helpers shared by the integration tests: bounded waits that fail loudly.

#![allow(dead_code)]

use std::{future::Future, time::Duration};

use helio::{ActorError, ObjectRef};

/// How long any single wait in a test may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(20);

/// Blocks on `r`, failing the test if it takes longer than [`BOUND`].
#[track_caller]
pub fn get<T>(r: ObjectRef<T>) -> Result<T, ActorError> {
    match r.get_timeout(BOUND) {
        Err(ActorError::GetTimeout { .. }) => panic!("no result within {BOUND:?}"),
        other => other,
    }
}

/// Runs `fut` to completion on a fresh current-thread tokio runtime, bounded by [`BOUND`].
#[track_caller]
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("test runtime");
    rt.block_on(async {
        tokio::time::timeout(BOUND, fut)
            .await
            .unwrap_or_else(|_| panic!("not done within {BOUND:?}"))
    })
}
