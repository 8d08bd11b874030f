//! Tasks, resources and DAGs in one process: `#[remote]` fns, the node's CPU limit, and a
//! graph built with `.bind(..)` and run with `execute`.
//!
//! Run with `cargo run --example tasks_and_dags`.

use std::time::Instant;

use helio::prelude::*;

/// A stage of a pipeline: squares its input.
#[remote]
fn square(x: u64) -> u64 {
    x * x
}

/// Sums its inputs, asynchronously.
#[remote]
async fn sum(a: u64, b: u64) -> u64 {
    a + b
}

/// Holds a whole CPU for a while, as a CPU-bound task would.
#[remote(num_cpus = 1)]
fn busy(millis: u64) -> u64 {
    let until = Instant::now() + std::time::Duration::from_millis(millis);
    let mut spins = 0_u64;
    while Instant::now() < until {
        spins = spins.wrapping_add(1);
    }
    millis
}

/// Keeps a running total: an actor in the DAG.
pub struct Tally {
    total: u64,
}

#[actor]
impl Tally {
    pub fn new() -> Self {
        Tally { total: 0 }
    }

    #[remote_method]
    pub fn add(&mut self, x: u64) -> u64 {
        self.total += x;
        self.total
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A node with 2 CPUs: at most two `busy` tasks run at once.
    helio::init(helio::Config::new().num_cpus(2.0))?;

    // Tasks chain through their refs.
    let nine = square.remote(3);
    let thirteen = sum.remote(nine, square.remote(2));
    println!("3^2 + 2^2 = {}", helio::get(thirteen)?);

    // Four tasks of 100 ms on 2 CPUs take about 200 ms.
    let start = Instant::now();
    let done = helio::get_all((0..4).map(|_| busy.remote(100)))?;
    println!(
        "4 x 100 ms on 2 CPUs: {:?} ({} tasks)",
        start.elapsed(),
        done.len()
    );

    // A task asking for what the node lacks fails at once.
    let gpu = square.options(TaskOptions::new().num_gpus(1.0)).remote(1);
    println!("asking for a GPU: {}", helio::get(gpu).unwrap_err());

    // A DAG: x -> x^2 + x^2, added to a tally that keeps its state across runs.
    let input = InputNode::<u64>::new();
    let squared = square.bind(&input);
    let doubled = sum.bind(&squared, &squared); // `square` runs once per execute
    let tally = Tally::new_actor().remote();
    let dag = tally.methods().add().bind(&doubled);
    for x in 1..=3 {
        println!(
            "execute({x}) -> running total {}",
            helio::get(dag.execute(x))?
        );
    }
    helio::shutdown();
    Ok(())
}
