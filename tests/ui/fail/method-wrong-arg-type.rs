// A remote method argument of the wrong type is rejected.
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
    let _r = c.methods().add().remote("one");
}
