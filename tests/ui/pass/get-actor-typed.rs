// `helio::get_actor::<A>(name)` returns a typed `Actor<A>`, whose methods are A's.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor(name = "counter")]
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
    let _created: Actor<Counter> = Counter::new_actor().remote(1);
    let found: Result<Actor<Counter>, helio::LookupError> = helio::get_actor::<Counter>("counter");
    let counter: Actor<Counter> = found.expect("registered above");
    let _r: ObjectRef<i64> = counter.methods().add().remote(1);
    let _in: Result<Actor<Counter>, _> = helio::get_actor_in::<Counter>("default", "counter");
}
