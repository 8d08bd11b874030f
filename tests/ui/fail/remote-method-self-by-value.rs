// A #[remote_method] taking self by value is rejected.
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
    pub fn into_value(self) -> i64 {
        self.value
    }
}

fn main() {}
