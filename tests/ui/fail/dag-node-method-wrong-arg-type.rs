// A method of an actor a DAG node creates, bound with an argument of the wrong type: the
// error names the types the method takes.
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
    let counter = Counter::new_actor().bind(10);
    let _dag = counter.methods().add().bind("one");
}
