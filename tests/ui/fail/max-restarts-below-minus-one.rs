// max_restarts = -2 is rejected: only -1 or a non-negative count is allowed.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(max_restarts = -2)]
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
