// Bad attributes are reported alone: calls to the valid methods raise no further errors.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(max_restarts = "four")]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn add(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    #[remote_method(concurrency_group = "io")]
    pub fn get(&self) -> i64 {
        self.value
    }

    #[remote_method(blokcing)]
    pub fn slow(&self) -> i64 {
        self.value
    }
}

fn main() {
    let c: Actor<Counter> = Counter::new_actor().remote(0);
    let _r: ObjectRef<i64> = c.methods().add().remote(1);
    // The methods whose attributes are wrong still get their handles.
    let _g: ObjectRef<i64> = c.methods().get().remote();
    let _s: ObjectRef<i64> = c.methods().slow().remote();
}
