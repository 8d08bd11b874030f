// `Actor<A>` is `Clone + Send + Sync + 'static`, so it can be shared across threads and tasks.
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
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn assert<T: Clone + Send + Sync + 'static>() {}

fn main() {
    assert::<Actor<Counter>>();
}
