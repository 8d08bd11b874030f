// A #[remote_method] argument must be Send: Rc<i32> is rejected.
use helio::prelude::*;

use std::rc::Rc;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn add(&mut self, by: Rc<i32>) -> i64 {
        self.value += i64::from(*by);
        self.value
    }
}

fn main() {}
