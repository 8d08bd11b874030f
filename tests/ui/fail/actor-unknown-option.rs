// An unknown #[actor] option far from every known one is rejected, listing the options.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(scheduling_strategy = 1)]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
