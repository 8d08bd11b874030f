// A #[remote_method] argument must be owned: &str is rejected.
use helio::prelude::*;

pub struct Greeter;

#[actor]
impl Greeter {
    pub fn new() -> Self {
        Greeter
    }

    #[remote_method]
    pub fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

fn main() {}
