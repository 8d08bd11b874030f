// A misspelt `#[remote]` option gets a "did you mean", and a bad amount says what it takes.
use helio::prelude::*;

#[remote(num_cpu = 1, num_gpus = -1)]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {}
