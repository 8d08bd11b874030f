// A task argument of the wrong type names the type the fn takes.
use helio::prelude::*;

#[remote]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {
    let _r = double.remote("two");
}
