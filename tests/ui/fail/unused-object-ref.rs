// A call whose ref is dropped unused: it runs, and the warning says its result is lost.
#![deny(unused_must_use)]

use helio::prelude::*;

pub struct Counter;

#[actor]
impl Counter {
    pub fn new() -> Self {
        Counter
    }

    #[remote_method]
    pub fn add(&self, x: u64) -> u64 {
        x + 1
    }
}

fn main() {
    let counter = Counter::new_actor().remote();
    counter.methods().add().remote(1);
}
