// A task cannot be generic: its handle needs concrete argument types.
use helio::prelude::*;

#[remote]
fn echo<T: Send + 'static>(x: T) -> T {
    x
}

fn main() {}
