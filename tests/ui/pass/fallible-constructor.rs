// A constructor may return `Result<Self, String>`; the handle is still `Actor<Self>`.
use helio::prelude::*;

pub struct Positive {
    value: i64,
}

#[actor]
impl Positive {
    pub fn new(value: i64) -> Result<Self, String> {
        if value > 0 {
            Ok(Positive { value })
        } else {
            Err(format!("{value} is not positive"))
        }
    }

    #[remote_method]
    pub fn value(&self) -> i64 {
        self.value
    }
}

#[allow(dead_code)]
fn usage() {
    let p: Actor<Positive> = Positive::new_actor().remote(1);
    let _v: ObjectRef<i64> = p.methods().value().remote();
}

fn main() {}
