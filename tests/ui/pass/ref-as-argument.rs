// A parameter of type `T` accepts a `T` or an `ObjectRef<T>`; literals still infer.
use helio::prelude::*;

pub struct Math;

#[actor]
impl Math {
    pub fn new() -> Self {
        Math
    }

    #[remote_method]
    pub fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    #[remote_method]
    pub fn greet(&self, name: String, times: Option<u8>) -> String {
        name.repeat(usize::from(times.unwrap_or(1)))
    }
}

#[allow(dead_code)]
fn usage(m: Actor<Math>) {
    let three: ObjectRef<i64> = m.methods().add().remote(1, 2);
    let _five: ObjectRef<i64> = m.methods().add().remote(three, 2);
    let _hi: ObjectRef<String> = m.methods().greet().remote("hi", None);
    let name = String::from("x");
    let _x: ObjectRef<String> = m.methods().greet().remote(&name, Some(2));
}

fn main() {}
