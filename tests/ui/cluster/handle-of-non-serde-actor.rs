// A handle crosses processes only for an actor type that could be registered.
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

pub struct Relay;

#[actor]
impl Relay {
    pub fn new() -> Self {
        Relay
    }

    #[remote_method]
    pub fn keep(&self, plotter: Actor<Plotter>) -> u64 {
        plotter.id().to_string().len() as u64
    }
}

fn main() {
    helio::register::<Relay>();
}
