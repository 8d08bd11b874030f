//! A three-stage pipeline of actors connected by helio channels:
//! `Source` -> channel -> `Square` -> channel -> `Sum`, printing a throughput line.
//!
//! Run with `cargo run --example channel_pipeline`.

use std::time::Instant;

use helio::prelude::*;
use helio_channel::{ChannelError, Receiver, Sender, channel};

const ITEMS: u64 = 200_000;
const BATCH: usize = 256;

/// Produces `0..n` into its output channel, in batches.
pub struct Source;

#[actor]
impl Source {
    pub fn new() -> Self {
        Source
    }

    /// Sends `0..n`, then closes its sender.
    #[remote_method]
    pub async fn run(&mut self, n: u64, output: Sender<u64>) -> Result<u64, ChannelError> {
        let mut next = 0;
        while next < n {
            let end = (next + BATCH as u64).min(n);
            output.send_batch((next..end).collect()).await?;
            next = end;
        }
        Ok(n)
    }
}

/// Squares every item it receives and passes it on.
pub struct Square;

#[actor]
impl Square {
    pub fn new() -> Self {
        Square
    }

    /// Runs until its input is closed and drained; returns how many items it passed on.
    #[remote_method]
    pub async fn run(
        &mut self,
        input: Receiver<u64>,
        output: Sender<u64>,
    ) -> Result<u64, ChannelError> {
        let mut passed = 0;
        loop {
            match input.recv_batch(BATCH).await {
                Ok(items) => {
                    passed += items.len() as u64;
                    output
                        .send_batch(items.into_iter().map(|x| x * x).collect())
                        .await?;
                }
                Err(ChannelError::Closed) => return Ok(passed),
                Err(other) => return Err(other),
            }
        }
    }
}

/// Sums what it receives.
pub struct Sum;

#[actor]
impl Sum {
    pub fn new() -> Self {
        Sum
    }

    /// Runs until its input is closed and drained; returns `(items, sum)`.
    #[remote_method]
    pub async fn run(&mut self, input: Receiver<u64>) -> Result<(u64, u64), ChannelError> {
        let (mut items, mut sum) = (0, 0u64);
        loop {
            match input.recv_batch(BATCH).await {
                Ok(batch) => {
                    items += batch.len() as u64;
                    sum = batch.iter().fold(sum, |s, x| s.wrapping_add(*x));
                }
                Err(ChannelError::Closed) => return Ok((items, sum)),
                Err(other) => return Err(other),
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (to_square, from_source) = channel::<u64>(4 * BATCH);
    let (to_sum, from_square) = channel::<u64>(4 * BATCH);
    let (source, square, sum) = (
        Source::new_actor().remote(),
        Square::new_actor().remote(),
        Sum::new_actor().remote(),
    );

    let started = Instant::now();
    // The stages own their channel ends; when `run` returns, its ends drop and close.
    let summed = sum.methods().run().remote(from_square);
    let squared = square.methods().run().remote(from_source, to_sum);
    let sourced = source.methods().run().remote(ITEMS, to_square);

    let produced = helio::get(sourced)??;
    let passed = helio::get(squared)??;
    let (items, total) = helio::get(summed)??;
    let elapsed = started.elapsed();

    let expected = (0..ITEMS).fold(0u64, |s, x| s.wrapping_add(x * x));
    assert_eq!(
        (produced, passed, items, total),
        (ITEMS, ITEMS, ITEMS, expected)
    );
    println!(
        "pipeline: {items} items through 3 stages in {:.1} ms ({:.0} items/s); sum of squares {total}",
        elapsed.as_secs_f64() * 1e3,
        items as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
