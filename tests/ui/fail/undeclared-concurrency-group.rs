// A concurrency_group not declared in #[actor(concurrency_groups)] is rejected, listing the declared groups.
use helio::prelude::*;

pub struct Echo;

#[actor(concurrency_groups = { io = 2, compute = 4 })]
impl Echo {
    pub fn new() -> Self {
        Echo
    }

    #[remote_method(concurrency_group = "nope")]
    pub async fn echo(&self, msg: String) -> String {
        msg
    }
}

fn main() {}
