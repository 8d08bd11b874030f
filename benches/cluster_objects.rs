//! Large values between two processes against raw async-nats moving the same bytes in the
//! same chunk size, on one local `nats-server` (default `max_payload`, 1 MB), in the same run.
//!
//! `cargo bench --features cluster --bench cluster_objects`
//!
//! The bench starts its own server and a host process (this binary again, in the `host` role)
//! that serves a helio actor and a raw NATS responder. For 64 MB (7 rounds) and 512 MB (5) it
//! prints MB/s, the median ratio, and
//! the ratio to raw (the object plane's goal: at least 0.7x), both ways:
//! - *result*: the host returns the value (`bytes::Bytes`, made once) to a call of this
//!   process;
//!   raw: this process pulls the same bytes from the raw responder in chunks of the size helio
//!   uses (`max_payload` less 512 bytes), 8 MB asked ahead, as helio's fetch does;
//! - *argument*: this process passes the value (`serde_bytes::ByteBuf`, made before the clock
//!   starts) to a method of the host; raw: the host pulls it
//!   the same way from a raw responder in this process.
//!
//! It also prints the peak resident memory of each process while one 512 MB value moves
//! each way (Linux: `VmHWM`, reset before each), and one `Vec<u8>` figure, whose bytes serde
//! visits one at a time.

#[path = "../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_support::{Nats, Proc, role, say, url};
use futures::StreamExt;
use helio::{__private::async_nats, prelude::*};
use serde_bytes::ByteBuf;

const MB: usize = 1 << 20;
const WAIT: Duration = Duration::from_secs(300);

/// Holds 512 MB, made once, to give out.
pub struct Store {
    held: Bytes,
}

#[actor]
impl Store {
    pub fn new() -> Self {
        Store {
            held: Bytes::from(vec![7; 512 * MB]),
        }
    }

    /// The first `n` bytes it holds (`Bytes`: no copy before it is encoded).
    #[remote_method]
    pub fn give(&self, n: u64) -> Bytes {
        self.held
            .slice(..usize::try_from(n).unwrap_or(0).min(self.held.len()))
    }

    /// `n` bytes as a `Vec<u8>`.
    #[remote_method]
    pub fn give_vec(&self, n: u64) -> Vec<u8> {
        vec![7; usize::try_from(n).unwrap_or(0)]
    }

    /// How long `bytes` is.
    #[remote_method]
    pub fn take(&self, bytes: ByteBuf) -> u64 {
        bytes.len() as u64
    }

    /// Pulls `n` bytes from the raw responder of the bench process (the raw argument).
    #[remote_method]
    pub async fn pull_raw(&self, n: u64) -> u64 {
        let client = async_nats::connect(url()).await.expect("raw connect");
        pull(&client, "raw.bench", n).await
    }

    /// Resets this process's peak resident memory.
    #[remote_method]
    pub fn reset_peak(&self) {
        reset_peak();
    }

    /// This process's peak resident memory since the last reset, in MB.
    #[remote_method]
    pub fn peak(&self) -> u64 {
        peak_mb()
    }
}

/// The chunk helio uses under the server's `max_payload`.
fn chunk_for(max_payload: usize) -> u64 {
    (max_payload.saturating_sub(512)).max(1024) as u64
}

/// Pulls `n` bytes from the raw responder on `subject`: requests of one chunk each, 8 MB
/// asked ahead, the answers in order on one subscription, copied into one buffer.
async fn pull(client: &async_nats::Client, subject: &str, n: u64) -> u64 {
    let chunk = chunk_for(client.server_info().max_payload);
    let window = ((8 * MB) as u64 / chunk).max(2) * chunk;
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await.expect("subscribe");
    let mut bytes = Vec::with_capacity(n as usize);
    let mut asked = 0u64;
    while (bytes.len() as u64) < n {
        while asked < n && asked - (bytes.len() as u64) < window {
            let len = chunk.min(n - asked);
            let ask = format!("{asked} {len}");
            client
                .publish_with_reply(subject.to_owned(), inbox.clone(), ask.into())
                .await
                .expect("ask");
            asked += len;
        }
        let answer = answers.next().await.expect("an answer");
        bytes.extend_from_slice(&answer.payload);
    }
    bytes.len() as u64
}

/// Answers each `"<offset> <len>"` on `subject` with that range of `held`.
async fn serve_raw(client: async_nats::Client, subject: &str, held: Bytes) {
    let mut asks = client.subscribe(subject.to_owned()).await.expect("raw sub");
    client.flush().await.expect("flush");
    while let Some(ask) = asks.next().await {
        let Some(reply) = ask.reply else { continue };
        let text = String::from_utf8_lossy(&ask.payload);
        let mut parts = text.split(' ').map(|p| p.parse::<usize>().unwrap_or(0));
        let (offset, len) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        let end = (offset + len).min(held.len());
        let _ = client
            .publish(reply, held.slice(offset.min(end)..end))
            .await;
    }
}

/// The median of `ratios`.
fn median(ratios: &mut [f64]) -> f64 {
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn host() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    helio::init(helio::Config::cluster(url()).runtime(rt.handle().clone())).expect("join");
    helio::register::<Store>();
    let store = Store::new_actor()
        .options(
            ActorOptions::new()
                .name("store")
                .lifetime(Lifetime::Detached),
        )
        .remote();
    store.ready().get_timeout(WAIT).expect("store starts");
    rt.block_on(async {
        let client = async_nats::connect(url()).await.expect("raw connect");
        let held = Bytes::from(vec![7u8; 512 * MB]);
        let serving = serve_raw(client, "raw.host", held);
        say("ready");
        serving.await;
    });
}

fn mb_per_s(n: usize, elapsed: Duration) -> f64 {
    n as f64 / MB as f64 / elapsed.as_secs_f64()
}

fn main() {
    if role().as_deref() == Some("host") {
        return host();
    }
    let nats = Nats::start();
    let mut host = Proc::start("host", "host", &nats.url);
    host.expect("ready");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = helio::Config::cluster(nats.url.clone())
        .host(false)
        .runtime(rt.handle().clone());
    helio::init(config).expect("join");
    helio::register::<Store>();
    let store = helio::get_actor::<Store>("store").expect("find the store");
    let methods = store.methods();
    let raw = rt
        .block_on(async_nats::connect(nats.url.clone()))
        .expect("raw connect");
    // This process's raw responder, for the raw argument.
    let mine = Bytes::from(vec![7u8; 512 * MB]);
    rt.spawn(serve_raw(raw.clone(), "raw.bench", mine));
    rt.block_on(raw.flush()).expect("flush");
    println!(
        "chunks of {} bytes (max_payload {})",
        chunk_for(raw.server_info().max_payload),
        raw.server_info().max_payload
    );

    for (n, rounds) in [(64 * MB, 7), (512 * MB, 5)] {
        let (mut results, mut arguments) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            // The result way.
            let start = Instant::now();
            let got = methods
                .give()
                .remote(n as u64)
                .get_timeout(WAIT)
                .expect("give");
            let helio_result = mb_per_s(got.len(), start.elapsed());
            drop(got);
            let start = Instant::now();
            let got = rt.block_on(pull(&raw, "raw.host", n as u64));
            let raw_result = mb_per_s(got as usize, start.elapsed());
            // The argument way.
            let value = ByteBuf::from(vec![7u8; n]);
            let start = Instant::now();
            let took = methods
                .take()
                .remote(value)
                .get_timeout(WAIT)
                .expect("take");
            let helio_argument = mb_per_s(took as usize, start.elapsed());
            let start = Instant::now();
            let took = methods
                .pull_raw()
                .remote(n as u64)
                .get_timeout(WAIT)
                .expect("pull_raw");
            let raw_argument = mb_per_s(took as usize, start.elapsed());
            println!(
                "round {round}, {} MB: result helio {helio_result:.0} MB/s, raw \
                 {raw_result:.0} MB/s ({:.2}x); argument helio {helio_argument:.0} MB/s, raw \
                 {raw_argument:.0} MB/s ({:.2}x)",
                n / MB,
                helio_result / raw_result,
                helio_argument / raw_argument,
            );
            results.push(helio_result / raw_result);
            arguments.push(helio_argument / raw_argument);
        }
        println!(
            "{} MB, median of {rounds} rounds: result {:.2}x raw, argument {:.2}x raw",
            n / MB,
            median(&mut results),
            median(&mut arguments)
        );
    }

    // Peak memory while one 512 MB value moves each way.
    let n = 512 * MB;
    let peaks = |what: &str, run: &dyn Fn()| {
        reset_peak();
        methods
            .reset_peak()
            .remote()
            .get_timeout(WAIT)
            .expect("reset");
        let before = peak_mb();
        run();
        let there = methods.peak().remote().get_timeout(WAIT).expect("peak");
        println!(
            "peak resident memory, 512 MB as {what}: this process {} MB (from {before} MB \
             held before), the host {there} MB (it holds 512 MB for the raw bench)",
            peak_mb()
        );
    };
    peaks("a result", &|| {
        let got = methods
            .give()
            .remote(n as u64)
            .get_timeout(WAIT)
            .expect("give");
        assert_eq!(got.len(), n);
    });
    peaks("an argument", &|| {
        let value = ByteBuf::from(vec![7u8; n]);
        let took = methods
            .take()
            .remote(value)
            .get_timeout(WAIT)
            .expect("take");
        assert_eq!(took as usize, n);
    });

    // A `Vec<u8>`: binary too, but serde visits it one byte at a time.
    let n = 64 * MB;
    let start = Instant::now();
    let got = methods
        .give_vec()
        .remote(n as u64)
        .get_timeout(WAIT)
        .expect("give_vec");
    println!(
        "64 MB as a Vec<u8> result: {:.0} MB/s",
        mb_per_s(got.len(), start.elapsed())
    );
    drop(host);
}
