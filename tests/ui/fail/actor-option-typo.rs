// A near-miss #[actor] option is rejected with a did-you-mean suggestion.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(max_restart = 4)]
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
