// An `ObjectRef<u32>` is not accepted where the method takes an `i64`.
use helio::prelude::*;

pub struct Math;

#[actor]
impl Math {
    pub fn new() -> Self {
        Math
    }

    #[remote_method]
    pub fn double(&self, x: u32) -> u32 {
        x * 2
    }

    #[remote_method]
    pub fn negate(&self, x: i64) -> i64 {
        -x
    }
}

fn main() {
    let m: Actor<Math> = Math::new_actor().remote();
    let doubled: ObjectRef<u32> = m.methods().double().remote(2);
    let _r = m.methods().negate().remote(doubled);
}
