// A method without #[remote_method] is not reachable through methods().
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

    pub fn helper(&self) {}
}

fn main() {
    let c: Actor<Counter> = Counter::new_actor().remote(0);
    let _r = c.methods().helper();
}
