// The forms a `#[remote]` fn may take, and what its handle gives.
use helio::prelude::*;

/// Documented, public, with options.
#[remote(num_cpus = 0.5, max_retries = -1, retry_on_panic = true, resources = { ssd = 1 }, name = "sum")]
pub fn sum(mut total: u64, xs: Vec<u64>) -> u64 {
    for x in xs {
        total += x;
    }
    total
}

#[remote]
async fn later((a, b): (u8, u8)) -> u16 {
    u16::from(a) + u16::from(b)
}

#[remote]
fn fact(n: u64) -> u64 {
    // The fn calls itself directly inside.
    if n == 0 { 1 } else { n * fact(n - 1) }
}

/// A streaming task: `.remote(..)` gives an `ObjectRefStream`.
#[remote]
fn numbers(n: u32) -> impl helio::stream::Stream<Item = u32> + Send + 'static {
    helio::stream::stream::iter(0..n)
}

mod inner {
    #[helio::remote]
    pub(crate) fn unit() {}
}

fn main() {
    let r: ObjectRef<u64> = sum.remote(1, vec![2, 3]);
    let _r2: ObjectRef<u16> = later.remote((1, 2));
    let _r3: ObjectRef<u64> = fact.options(TaskOptions::new().num_cpus(0.0)).remote(r);
    let _r4: ObjectRef<()> = inner::unit.remote();
    let _s: ObjectRefStream<u32> = numbers.remote(3);
    // The handle derefs to a `Task`, and is `Clone`.
    let task: &helio::Task<_, (u64, Vec<u64>), u64> = &sum;
    let _name: &'static str = task.name();
    let _copy = sum.clone();
    // `.call_local(..)` runs the plain fn here: its result, a future, or the boxed stream.
    assert_eq!(sum.call_local(1, vec![2, 3]), 6);
    static_send(later.call_local((1, 2)));
    let _numbers: helio::stream::BoxStream<'static, u32> = numbers.call_local(3);
    inner::unit.call_local();
}

/// `call_local` of an async fn gives a `'static` future: it borrows neither handle nor args.
fn static_send<F: std::future::Future<Output = u16> + Send + 'static>(_: F) {}

pub struct Trainer;

#[actor(num_cpus = 1, num_gpus = 0.5, resources = { ssd = 1 })]
impl Trainer {
    pub fn new() -> Self {
        Trainer
    }
}
