//! Values of any size cross processes: arguments, results, stream items, constructor
//! arguments and task arguments and results over the NATS server's `max_payload` move in
//! chunks from the process that holds them (`objects.rs`, `fetch.rs`), intact, and nothing is
//! left held once they are read. Once on a server with its default `max_payload` (1 MB), once
//! on one lowered to 64 KB, and a 512 MB round trip. Two processes on a server of our own;
//! every wait bounded.

mod cluster_support;

use std::time::Duration;

use cluster_support::{Nats, Proc, role, say, url};
use helio::prelude::*;

/// Any single wait in the client.
const WAIT: Duration = Duration::from_secs(120);

const KB: usize = 1 << 10;
const MB: usize = 1 << 20;

/// `n` bytes that differ from one offset to the next, and with `seed`.
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

/// Checks `bytes` is `pattern(n, seed)`, naming what differs.
#[track_caller]
fn intact(what: &str, bytes: &[u8], n: usize, seed: u8) {
    assert_eq!(bytes.len(), n, "{what}: length");
    if let Some(at) = (0..n).find(|&i| bytes[i] != (i % 251) as u8 ^ seed.wrapping_mul(31)) {
        panic!("{what}: byte {at} differs");
    }
}

/// Echoes and makes blobs; holds the one it was made with.
pub struct Blob {
    seed: Vec<u8>,
}

#[actor]
impl Blob {
    pub fn new(seed: Vec<u8>) -> Self {
        Blob { seed }
    }

    /// `bytes`, back.
    #[remote_method]
    pub fn echo(&self, bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }

    /// `bytes`, back, as binary in one copy (`serde_bytes`).
    #[remote_method]
    pub fn echo_buf(&self, bytes: serde_bytes::ByteBuf) -> serde_bytes::ByteBuf {
        bytes
    }

    /// `n` bytes, saying `replying` first.
    #[remote_method]
    pub fn make_saying(&self, n: u64) -> serde_bytes::ByteBuf {
        say("replying");
        serde_bytes::ByteBuf::from(vec![5; usize::try_from(n).unwrap_or(0)])
    }

    /// How long `bytes` is.
    #[remote_method]
    pub fn len(&self, bytes: Vec<u8>) -> usize {
        bytes.len()
    }

    /// The blob it was made with.
    #[remote_method]
    pub fn seed(&self) -> Vec<u8> {
        self.seed.clone()
    }

    /// `count` items of `n` bytes each, item `k` made with seed `k`.
    #[remote_method]
    pub fn items(
        &self,
        n: u64,
        count: u8,
    ) -> impl helio::stream::Stream<Item = Vec<u8>> + Send + 'static {
        let n = usize::try_from(n).unwrap_or(0);
        helio::stream::stream::iter((0..count).map(move |k| pattern(n, k)))
    }

    /// What this process holds for others to read: (values, bytes).
    #[remote_method]
    pub fn held(&self) -> (usize, u64) {
        let stats = helio::object_stats();
        (stats.held, stats.held_bytes)
    }
}

/// `bytes`, back (a task that asks for nothing: the queue group).
#[remote(num_cpus = 0)]
fn task_echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// `bytes`, back (a task that takes a CPU: the line).
#[remote]
fn task_echo_cpu(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

fn join(name: &str, hosts: bool) {
    let config = helio::Config::cluster(url()).node_name(name).host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register::<Blob>();
    helio::register_task(&task_echo);
    helio::register_task(&task_echo_cpu);
}

/// The host: a detached `Blob` named `blob`, and its node id said.
fn host() {
    join("host", true);
    let blob = Blob::new_actor()
        .options(
            ActorOptions::new()
                .name("blob")
                .lifetime(Lifetime::Detached),
        )
        .remote(vec![1]);
    blob.ready().get_timeout(WAIT).expect("the blob starts");
    say(format!(
        "ready {}",
        helio::current_node().expect("in the cluster")
    ));
    cluster_support::park();
}

/// The client's round trips of every kind, each size in `sizes`.
fn client(sizes: &[usize]) {
    join("client", false);
    let host: helio::NodeId = std::env::var("HOST_NODE")
        .expect("HOST_NODE")
        .parse()
        .expect("a node id");
    let blob = helio::get_actor::<Blob>("blob").expect("find the blob");
    let methods = blob.methods();
    for (k, &n) in sizes.iter().enumerate() {
        let seed = k as u8;
        let back = methods
            .echo()
            .remote(pattern(n, seed))
            .get_timeout(WAIT)
            .unwrap_or_else(|err| panic!("echo of {n} bytes: {err}"));
        intact(&format!("echo of {n} bytes"), &back, n, seed);
    }
    // The buffer of the last large value moved is kept for the next (each echo above wrote
    // into the one before it, intact).
    if sizes.iter().any(|&n| n >= 16 * MB) {
        let spare = helio::object_stats().spare_bytes;
        assert!(spare >= 16 * MB, "a spare buffer of {spare} bytes");
    }
    // Stream items of 2 MB, in order.
    let items: Vec<Vec<u8>> = methods
        .items()
        .remote(2 * MB as u64, 3)
        .blocking_iter()
        .map(|item| item.expect("a 2 MB item"))
        .collect();
    assert_eq!(items.len(), 3);
    for (k, item) in items.iter().enumerate() {
        intact(&format!("stream item {k}"), item, 2 * MB, k as u8);
    }
    // Task arguments and results of 8 MB, by the queue group and by the line.
    let back = task_echo
        .remote(pattern(8 * MB, 7))
        .get_timeout(WAIT)
        .expect("an 8 MB task");
    intact("task (queue group)", &back, 8 * MB, 7);
    let back = task_echo_cpu
        .remote(pattern(8 * MB, 8))
        .get_timeout(WAIT)
        .expect("an 8 MB task that takes a CPU");
    intact("task (line)", &back, 8 * MB, 8);
    // A constructor argument of 2 MB, on the host.
    let made = Blob::new_actor()
        .options(ActorOptions::new().placement(helio::Placement::Node(host)))
        .remote(pattern(2 * MB, 9));
    let seed = made
        .methods()
        .seed()
        .remote()
        .get_timeout(WAIT)
        .expect("made with 2 MB");
    intact("constructor argument", &seed, 2 * MB, 9);
    // Small values in bulk still go in batches cut to fit, a large one among them.
    let calls: Vec<_> = (0..300)
        .map(|i| {
            let n = if i == 150 { 3 * MB } else { 20 * KB };
            (n, methods.len().remote(vec![0; n]))
        })
        .collect();
    for (n, call) in calls {
        assert_eq!(call.get_timeout(WAIT).expect("a call in bulk"), n);
    }
    // Everything was read: neither side holds anything.
    let stats = helio::object_stats();
    assert_eq!(
        (stats.held, stats.held_bytes),
        (0, 0),
        "the client holds nothing"
    );
    let there = methods.held().remote().get_timeout(WAIT).expect("held");
    assert_eq!(there, (0, 0), "the host holds nothing");
    say("done");
}

/// Runs `test`'s host and client on `nats`.
fn run(test: &str, nats: &Nats) {
    let mut host = Proc::start(test, "host", &nats.url);
    let node = host.expect("ready");
    let mut client = Proc::start_env(test, "client", &nats.url, &[("HOST_NODE", &node)]);
    client.expect_within("done", Duration::from_secs(600));
    client.succeeds();
}

const SIZES: [usize; 4] = [256 * KB, 2 * MB, 16 * MB, 64 * MB];

#[test]
fn values_of_any_size_cross_processes() {
    match role().as_deref() {
        Some("host") => return host(),
        Some("client") => return client(&SIZES),
        _ => {}
    }
    run("values_of_any_size_cross_processes", &Nats::start());
}

#[test]
fn values_of_any_size_cross_a_server_with_a_64_kb_max_payload() {
    match role().as_deref() {
        Some("host") => return host(),
        Some("client") => return client(&SIZES),
        _ => {}
    }
    let config = std::env::temp_dir().join(format!("helio-nats-64k-{}.conf", std::process::id()));
    std::fs::write(&config, "max_payload: 65536\n").expect("write the server's config");
    let nats = Nats::start_with(&["-c", config.to_str().expect("a UTF-8 path")]);
    run(
        "values_of_any_size_cross_a_server_with_a_64_kb_max_payload",
        &nats,
    );
    let _ = std::fs::remove_file(config);
}

/// 512 MB there and back, as `serde_bytes` (a `Vec<u8>` goes as binary too, but serde
/// visits it one byte at a time: minutes in a debug build).
#[test]
fn a_512_mb_value_round_trips() {
    match role().as_deref() {
        Some("host") => return host(),
        Some("client") => {
            join("client", false);
            let blob = helio::get_actor::<Blob>("blob").expect("find the blob");
            let n = 512 * MB;
            let back = blob
                .methods()
                .echo_buf()
                .remote(serde_bytes::ByteBuf::from(pattern(n, 3)))
                .get_timeout(WAIT)
                .expect("512 MB there and back");
            intact("512 MB", &back, n, 3);
            say("done");
            return;
        }
        _ => {}
    }
    run("a_512_mb_value_round_trips", &Nats::start());
}

/// The process that holds a large reply is killed (SIGKILL) as it replies: the call resolves
/// to an error within the node timeout and a little, never a wait without end, whether the
/// reply was on its way (its fetch fails) or not (the node's death fails it).
#[test]
fn a_large_reply_whose_holder_dies_fails_its_call_in_time() {
    let test = "a_large_reply_whose_holder_dies_fails_its_call_in_time";
    match role().as_deref() {
        Some("host") => return host(),
        Some("client") => {
            join("client", false);
            let blob = helio::get_actor::<Blob>("blob").expect("find the blob");
            let call = blob.methods().make_saying().remote(256 * MB as u64);
            let started = std::time::Instant::now();
            // The default node timeout is 3 s; the detached actor may restart elsewhere only
            // on a host, and this cluster has none left.
            let outcome = call.get_timeout(Duration::from_secs(30));
            let took = started.elapsed();
            match outcome {
                Ok(bytes) => panic!("a reply of {} bytes from a killed host", bytes.len()),
                Err(helio::ActorError::GetTimeout { .. }) => panic!("the call hung for {took:?}"),
                Err(err) => say(format!("failed after {took:?}: {err}")),
            }
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut host = Proc::start(test, "host", &nats.url);
    let node = host.expect("ready");
    let mut client = Proc::start_env(test, "client", &nats.url, &[("HOST_NODE", &node)]);
    host.expect("replying");
    host.kill();
    let failed = client.expect("failed after");
    eprintln!("the call failed after {failed}");
    client.expect("done");
    client.succeeds();
}
