// Registering an actor for cluster mode needs serde argument and result types.
use helio::prelude::*;

pub struct Point {
    x: i64,
}

pub struct Plotter;

#[actor]
impl Plotter {
    pub fn new() -> Self {
        Plotter
    }

    #[remote_method]
    pub fn plot(&self, at: Point) -> i64 {
        at.x
    }
}

fn main() {
    helio::register::<Plotter>();
}
