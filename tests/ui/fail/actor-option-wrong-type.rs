// An #[actor] option given a value of the wrong type is rejected.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(max_restarts = "four")]
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
