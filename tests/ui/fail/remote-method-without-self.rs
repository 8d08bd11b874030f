// A #[remote_method] must take self: an associated fn is rejected.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn zero() -> i64 {
        0
    }

    #[remote_method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
