// Reading a ref that `wait_blocking` lent: `get` takes refs by value.
use helio::prelude::*;

fn main() {
    let refs: Vec<ObjectRef<u64>> = (0..3).map(helio::put).collect();
    let (ready, _pending) = helio::wait_blocking(&refs, 3, None);
    let _first = helio::get(ready[0]);
}
