// Awaiting a method handle without `.remote(..)`.
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

async fn read(c: &Actor<Counter>) -> i64 {
    c.methods().get().await.unwrap()
}

fn main() {
    let c: Actor<Counter> = Counter::new_actor().remote(0);
    drop(read(&c));
}
