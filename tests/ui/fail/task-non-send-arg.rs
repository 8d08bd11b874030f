// A task's arguments cross threads: they must be `Send`.
use helio::prelude::*;
use std::rc::Rc;

#[remote]
fn count(x: Rc<u8>) -> u8 {
    *x
}

fn main() {
    let _r = count.remote(Rc::new(1));
}
