// A task takes owned arguments: it runs later, elsewhere.
use helio::prelude::*;

#[remote]
fn shout(s: &str) -> String {
    s.to_uppercase()
}

fn main() {}
