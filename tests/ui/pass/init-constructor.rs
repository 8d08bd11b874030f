// A fn marked `#[init]` with another name than `new` is the constructor.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    #[init]
    pub fn starting_at(value: i64, step: i64) -> Self {
        Counter { value: value * step }
    }

    #[remote_method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

#[allow(dead_code)]
fn usage() {
    let c: Actor<Counter> = Counter::new_actor().remote(1, 2);
    let _v: ObjectRef<i64> = c.methods().get().remote();
}

fn main() {}
