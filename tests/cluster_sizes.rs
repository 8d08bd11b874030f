//! Values over the NATS server's `max_payload` (1 MB by default): a message that cannot go
//! fails its call at once with an error that says why, on either side, and is never only
//! logged; many small messages whose batch would be over the limit still go (the batch is
//! cut). Two processes on a server of our own; every wait bounded.

mod cluster_support;

use std::time::Duration;

use cluster_support::{Nats, Proc, role, say, url};
use helio::{ActorError, prelude::*};

/// Any single wait in the client.
const WAIT: Duration = Duration::from_secs(20);

/// Over the server's default `max_payload` of 1 MB.
const TOO_LARGE: usize = 2 << 20;

/// Measures and makes blobs.
pub struct Blob;

#[actor]
impl Blob {
    pub fn new() -> Self {
        Blob
    }

    /// How long `bytes` is.
    #[remote_method]
    pub fn len(&self, bytes: Vec<u8>) -> usize {
        bytes.len()
    }

    /// `n` bytes.
    #[remote_method]
    pub fn make(&self, n: u64) -> Vec<u8> {
        vec![1; usize::try_from(n).unwrap_or(0)]
    }

    /// Two items: a small one, then one of `n` bytes.
    #[remote_method]
    pub fn items(&self, n: u64) -> impl helio::stream::Stream<Item = Vec<u8>> + Send + 'static {
        helio::stream::stream::iter([vec![1], vec![1; usize::try_from(n).unwrap_or(0)]])
    }
}

/// How long `bytes` is (a task that asks for nothing: the queue group).
#[remote(num_cpus = 0)]
fn task_len(bytes: Vec<u8>) -> usize {
    bytes.len()
}

/// `n` bytes (a task that takes a CPU: the line).
#[remote]
fn task_make(n: u64) -> Vec<u8> {
    vec![1; usize::try_from(n).unwrap_or(0)]
}

fn join(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url()).node_name(name).host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register::<Blob>();
    helio::register_task(&task_len);
    helio::register_task(&task_make);
}

/// The error says what was too large, and what to do.
#[track_caller]
fn too_large<T: std::fmt::Debug>(result: Result<T, ActorError>) {
    match result {
        Err(ActorError::Wire { message }) => {
            assert!(message.contains("max_payload"), "{message}");
        }
        other => panic!("expected a wire error naming max_payload, got {other:?}"),
    }
}

#[test]
fn a_value_over_max_payload_fails_its_call_at_once_and_small_ones_still_go_in_bulk() {
    match role().as_deref() {
        Some("host") => {
            join("host", true);
            let blob = Blob::new_actor()
                .options(
                    ActorOptions::new()
                        .name("blob")
                        .lifetime(Lifetime::Detached),
                )
                .remote();
            blob.ready().get_timeout(WAIT).expect("the blob starts");
            say("ready");
            return cluster_support::park();
        }
        Some("client") => {
            join("client", false);
            let blob = helio::get_actor::<Blob>("blob").expect("find the blob");
            let methods = blob.methods();
            // Too large to send: fails here.
            too_large(methods.len().remote(vec![0; TOO_LARGE]).get_timeout(WAIT));
            too_large(task_len.remote(vec![0; TOO_LARGE]).get_timeout(WAIT));
            // Too large to answer: fails there, and the error comes back.
            too_large(methods.make().remote(TOO_LARGE as u64).get_timeout(WAIT));
            too_large(task_make.remote(TOO_LARGE as u64).get_timeout(WAIT));
            // A stream item too large: the stream ends with the error.
            let mut items = methods.items().remote(TOO_LARGE as u64).blocking_iter();
            assert_eq!(
                items.next().expect("the small item").expect("sent"),
                vec![1]
            );
            too_large(items.next().expect("the error"));
            // The actor is fine, and values under the limit go.
            assert_eq!(
                methods
                    .len()
                    .remote(vec![0; 200_000])
                    .get_timeout(WAIT)
                    .expect("200 KB"),
                200_000
            );
            // 300 calls of 20 KB in flight: 6 MB, in batches cut to fit.
            let calls: Vec<_> = (0..300)
                .map(|_| methods.len().remote(vec![0; 20_000]))
                .collect();
            for call in calls {
                assert_eq!(call.get_timeout(WAIT).expect("a 20 KB call"), 20_000);
            }
            let results: Vec<_> = (0..100).map(|_| methods.make().remote(20_000)).collect();
            for result in results {
                assert_eq!(
                    result.get_timeout(WAIT).expect("a 20 KB result").len(),
                    20_000
                );
            }
            say("done");
            return;
        }
        _ => {}
    }
    let test = "a_value_over_max_payload_fails_its_call_at_once_and_small_ones_still_go_in_bulk";
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    host.expect("ready");
    let mut client = Proc::start(test, "client", &nats.url);
    client.expect("done");
    client.succeeds();
}
