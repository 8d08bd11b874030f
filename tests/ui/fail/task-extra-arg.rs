// A task called with too many arguments is rejected.
use helio::prelude::*;

#[remote]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {
    let _r = double.remote(1, 2);
}
