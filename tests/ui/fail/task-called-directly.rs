// A `#[remote]` fn's name is its task handle: `.remote(..)` runs it as a task, `.call_local(..)` as a plain fn.
use helio::prelude::*;

#[remote]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {
    let _four = double(2);
}
