// `#[on_stop]` runs with no caller, so it cannot take arguments.
use helio::prelude::*;

pub struct Counter {
    value: i64,
}

#[actor]
impl Counter {
    pub fn new(start: i64) -> Self {
        Counter { value: start }
    }

    #[on_stop]
    fn flush(&mut self, reason: String) {
        let _ = (self.value, reason);
    }
}

fn main() {}
