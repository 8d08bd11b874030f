// Passing the arguments to the accessor, and its handle to `helio::get`, without `.remote(..)`.
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
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }
}

fn main() {
    let c: Actor<Counter> = Counter::new_actor().remote(0);
    let _v = helio::get(c.methods().add(2));
}
