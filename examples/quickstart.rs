//! The quickstart of the README: a counter actor, called from sync and async code.
//!
//! Run with `cargo run --example quickstart`.

use std::time::Duration;

use helio::prelude::*;

/// A counter that lives in an actor.
pub struct Counter {
    value: i64,
}

#[actor(max_restarts = 4, max_concurrency = 1000, concurrency_groups = { io = 2 })]
impl Counter {
    /// The constructor: `Counter::new_actor().remote(start)` runs it on the actor.
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    /// Adds `by` and returns the new value. `&mut self`: runs alone, in arrival order.
    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    /// Echoes `msg`. `&self` + async: runs concurrently, in the `io` group.
    #[remote_method(concurrency_group = "io")]
    pub async fn echo(&self, msg: String) -> String {
        msg
    }
}

fn main() -> Result<(), ActorError> {
    let counter: Actor<Counter> = Counter::new_actor().remote(1);

    // Blocking, from sync code.
    let r: ObjectRef<i64> = counter.methods().add().remote(2);
    println!("1 + 2 = {}", helio::get(r)?);

    // A reusable method handle, and `wait_owned_blocking` on many refs: it hands back the
    // ready ones, to read, and the pending ones, to wait for again.
    let add = counter.methods().add();
    let refs: Vec<ObjectRef<i64>> = (0..10).map(|i| add.remote(i)).collect();
    let (ready, pending) = helio::wait_owned_blocking(refs, 10, Some(Duration::from_secs(5)));
    println!("{} calls ready, {} pending", ready.len(), pending.len());
    let mut last = 0;
    for r in ready.into_iter().chain(pending) {
        last = helio::get(r)?;
    }
    println!("after adding 0..10: {last}");

    // Awaited, from any async runtime (here futures' own executor).
    let echoed = futures::executor::block_on(async {
        counter
            .methods()
            .echo()
            .remote("hello, actor".to_string())
            .await
    })?;
    println!("echo: {echoed}");

    // A named actor in a namespace.
    let named = Counter::new_actor()
        .options(
            ActorOptions::new()
                .name("counter")
                .namespace("demo")
                .max_restarts(0),
        )
        .remote(100);
    println!(
        "named counter: {}",
        helio::get(named.methods().add().remote(1))?
    );
    Ok(())
}
