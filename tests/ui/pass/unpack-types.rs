// `.unpack()` on `ObjectRef<(A, B, ..)>` gives one typed ref per element.
use helio::prelude::*;

pub struct Pairs;

#[actor]
impl Pairs {
    pub fn new() -> Self {
        Pairs
    }

    #[remote_method]
    pub fn pair(&self, x: i64) -> (i64, String) {
        (x, x.to_string())
    }

    #[remote_method]
    pub async fn triple(&self) -> (u8, bool, Vec<char>) {
        (1, true, vec!['a'])
    }
}

#[allow(dead_code)]
fn usage(actor: Actor<Pairs>) {
    let (n, s): (ObjectRef<i64>, ObjectRef<String>) = actor.methods().pair().remote(1).unpack();
    let (a, b, c): (ObjectRef<u8>, ObjectRef<bool>, ObjectRef<Vec<char>>) =
        actor.methods().triple().remote().unpack();
    let _ = (n, s, a, b, c);
}

fn main() {}
