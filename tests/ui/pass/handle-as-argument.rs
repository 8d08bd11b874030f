// An `Actor<A>` handle can be passed to, and used by, a function taking `Actor<A>`.
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

fn bump(counter: Actor<Counter>) -> ObjectRef<i64> {
    counter.methods().add().remote(1)
}

fn bump_ref(counter: &Actor<Counter>) -> ObjectRef<i64> {
    counter.methods().add().remote(1)
}

fn main() {
    let counter: Actor<Counter> = Counter::new_actor().remote(0);
    let _r = bump_ref(&counter);
    let v: i64 = helio::get(bump(counter)).unwrap();
    assert_eq!(v, 2);
}
