// Registering a task for cluster mode needs serde argument and result types.
use helio::prelude::*;

pub struct Point {
    x: i64,
}

#[remote]
fn plot(at: Point) -> i64 {
    at.x
}

fn main() {
    helio::register_task(&plot);
}
