// A streaming method's items travel to the caller: they must be `Send`.
use std::rc::Rc;

use futures::Stream;
use helio::prelude::*;

pub struct Numbers;

#[actor]
impl Numbers {
    pub fn new() -> Self {
        Numbers
    }

    #[remote_method]
    pub fn shared(&self) -> impl Stream<Item = Rc<u8>> + 'static {
        futures::stream::empty()
    }
}

fn main() {}
