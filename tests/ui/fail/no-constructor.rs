// An #[actor] impl without `new` or an #[init] fn is rejected.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    #[remote_method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
