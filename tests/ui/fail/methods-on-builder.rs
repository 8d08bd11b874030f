// Calling `.methods()` on the builder, before `.remote(..)` starts the actor.
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

fn main() {
    let _methods = Counter::new_actor().methods();
}
