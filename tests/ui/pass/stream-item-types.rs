// A streaming method's `.remote()` returns `ObjectRefStream<Item>`.
use futures::stream::{self, BoxStream, StreamExt};
use helio::{ObjectRefStream, prelude::*};

pub struct Numbers;

#[actor]
impl Numbers {
    pub fn new() -> Self {
        Numbers
    }

    #[remote_method(stream_buffer = 8)]
    pub fn upto(&self, n: u64) -> impl futures::Stream<Item = u64> + Send + 'static {
        stream::iter(0..n)
    }

    #[remote_method]
    pub async fn words(&self) -> BoxStream<'static, String> {
        stream::iter(vec!["a".to_owned()]).boxed()
    }
}

#[allow(dead_code)]
fn usage(actor: Actor<Numbers>) {
    let _numbers: ObjectRefStream<u64> = actor.methods().upto().remote(3);
    let _words: ObjectRefStream<String> = actor.methods().words().remote();
}

fn main() {}
