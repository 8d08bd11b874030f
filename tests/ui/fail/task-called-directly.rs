// A `#[remote]` fn's name is its task handle: it is called with `.remote(..)`.
use helio::prelude::*;

#[remote]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {
    let _four = double(2);
}
