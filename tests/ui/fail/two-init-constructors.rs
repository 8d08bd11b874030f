// An actor has one constructor: a second #[init] fn is rejected.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    #[init]
    pub fn start(value: i64) -> Self {
        Counter { value }
    }

    #[init]
    pub fn zero() -> Self {
        Counter { value: 0 }
    }

    #[remote_method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
