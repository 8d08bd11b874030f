// `#[remote]` goes on a free fn, not on an impl block.
use helio::prelude::*;

pub struct Counter;

#[remote]
impl Counter {}

fn main() {}
