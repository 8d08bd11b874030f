// #[remote_method] outside an #[actor] impl block is rejected.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

impl Counter {
    #[remote_method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
