//! The channel across processes: the channel in this process, the sender in a second and the
//! receiver in a third, on one local `nats-server`, against raw async-nats between the same
//! kind of processes in the same run.
//!
//! `cargo bench -p helio-channel --features cluster --bench channel_cluster`
//!
//! Shapes (items/s, end to end: from the go to the receiver's `Closed`):
//! - `natural`: `tx.send(i).await` in a loop and `rx.recv().await` in a loop. A send returns
//!   `Ok` once the channel has the item, so each costs one round trip to the channel's process;
//!   the receiver takes up to 64 items per call.
//! - `natural x16`: the same loop in 16 tasks of the sending process at once.
//! - `sink`: `stream.forward(tx)`, which sends batches of up to 1024 per call.
//! - `batch 1000`: `send_batch` of 1000 items, `recv_batch(1000)`.
//!
//! Baselines, between two processes on the same server:
//! - raw request/reply, one at a time: the cost of one acknowledged item (`natural`'s floor);
//! - raw publish/subscribe of single items, with no acknowledgement at all.

#[path = "../../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{Nats, Proc, role, say, url, wait_for_parent};
use futures::StreamExt;
use helio::__private::async_nats;
use helio_channel::{ChannelError, channel_named, get_channel};

const LONG: Duration = Duration::from_secs(300);
const IN_FLIGHT: u64 = 16;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn join(name: &str) {
    helio::init(helio::Config::cluster(url()).node_name(name)).expect("join the cluster");
    helio_channel::register::<u64>();
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A child: sends or receives `ITEMS` items on channel `CHANNEL` in shape `SHAPE`.
fn child(role: &str) {
    let (channel, shape) = (env("CHANNEL"), env("SHAPE"));
    let items: u64 = env("ITEMS").parse().expect("ITEMS");
    if shape.starts_with("raw") {
        return raw(role, &shape, items);
    }
    join(role);
    let (tx, rx) = get_channel::<u64>(&channel).expect("find the channel");
    let rt = runtime();
    if role == "sender" {
        drop(rx);
        tx.actor()
            .methods()
            .capacity()
            .remote()
            .get()
            .expect("registered");
        say("ready");
        wait_for_parent();
        rt.block_on(async {
            match shape.as_str() {
                "natural" => {
                    for i in 0..items {
                        tx.send(i).await.expect("send");
                    }
                }
                "natural x16" => {
                    let lane = |lane: u64| {
                        let tx = &tx;
                        async move {
                            for i in (lane..items).step_by(IN_FLIGHT as usize) {
                                tx.send(i).await.expect("send");
                            }
                        }
                    };
                    futures::future::join_all((0..IN_FLIGHT).map(lane)).await;
                }
                "sink" => {
                    let mut sink = tx.clone();
                    futures::stream::iter((0..items).map(Ok::<u64, ChannelError>))
                        .forward(&mut sink)
                        .await
                        .expect("forward");
                }
                "batch 1000" => {
                    for start in (0..items).step_by(1000) {
                        let batch: Vec<u64> = (start..(start + 1000).min(items)).collect();
                        tx.send_batch(batch).await.expect("send a batch");
                    }
                }
                other => panic!("unknown shape {other}"),
            }
        });
        drop(tx);
        say("sent");
    } else {
        drop(tx);
        rx.actor()
            .methods()
            .capacity()
            .remote()
            .get()
            .expect("registered");
        say("ready");
        let got = rt.block_on(async {
            let mut got = 0u64;
            loop {
                let taken = if shape == "batch 1000" {
                    rx.recv_batch(1000).await.map(|b| b.len() as u64)
                } else {
                    rx.recv().await.map(|_| 1)
                };
                match taken {
                    Ok(n) => got += n,
                    Err(ChannelError::Closed) => return got,
                    Err(other) => panic!("receive failed: {other}"),
                }
            }
        });
        say(format!("done {got}"));
    }
    helio::shutdown();
}

/// The raw async-nats baselines: `raw rr` (request/reply one at a time; the receiver
/// answers) and `raw pubsub` (publishes; the receiver counts, then answers the last).
fn raw(role: &str, shape: &str, items: u64) {
    let rt = runtime();
    rt.block_on(async {
        // A buffer for every item: async-nats drops what does not fit.
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(items as usize + 16)
            .connect(url())
            .await
            .expect("connect");
        let subject = "bench.raw";
        if role == "receiver" {
            let mut sub = client.subscribe(subject).await.expect("subscribe");
            client.flush().await.expect("flush");
            say("ready");
            let mut got = 0;
            while got < items {
                let Some(message) = sub.next().await else {
                    break;
                };
                if message.payload.is_empty() {
                    break; // the end: items that were lost on the way never come
                }
                got += 1;
                if let Some(reply) = message.reply {
                    client.publish(reply, message.payload).await.expect("reply");
                }
            }
            client.flush().await.expect("flush");
            say(format!("done {got}"));
        } else {
            say("ready");
            wait_for_parent();
            for i in 0..items {
                let payload = i.to_le_bytes().to_vec();
                if shape == "raw rr" {
                    client
                        .request(subject, payload.into())
                        .await
                        .expect("request");
                } else {
                    client
                        .publish(subject, payload.into())
                        .await
                        .expect("publish");
                }
            }
            client.flush().await.expect("flush");
            let end = client.publish(subject, Vec::new().into());
            end.await.expect("publish the end");
            client.flush().await.expect("flush");
            say("sent");
        }
    });
}

/// Runs one shape: returns items/s.
fn run(nats: &Nats, shape: &str, items: u64, round: usize) -> f64 {
    let channel = format!("bench-{round}-{}", shape.replace(' ', "-"));
    // The host's own ends keep the channel open until the others registered.
    let ends = (!shape.starts_with("raw")).then(|| channel_named::<u64>(&channel, 10_000));
    let vars = [
        ("CHANNEL", channel.as_str()),
        ("SHAPE", shape),
        ("ITEMS", &items.to_string()),
    ];
    let mut receiver = Proc::start_env("bench", "receiver", &nats.url, &vars);
    receiver.expect_within("ready", LONG);
    let mut sender = Proc::start_env("bench", "sender", &nats.url, &vars);
    sender.expect_within("ready", LONG);
    drop(ends);
    let start = Instant::now();
    sender.close_stdin();
    let got: u64 = receiver
        .expect_within("done", LONG)
        .parse()
        .expect("a count");
    let elapsed = start.elapsed();
    if shape.starts_with("raw") {
        // Core NATS drops what a slow subscriber cannot take: say so.
        if got < items {
            println!(
                "  ({shape}: {} of {items} items lost on the way)",
                items - got
            );
        }
    } else {
        assert_eq!(got, items, "{shape}: every item arrives");
    }
    sender.expect_within("sent", LONG);
    got as f64 / elapsed.as_secs_f64()
}

fn main() {
    if let Some(role) = role() {
        return child(&role);
    }
    let nats = Nats::start();
    helio::init(helio::Config::cluster(nats.url.clone()).node_name("channel-host"))
        .expect("join the cluster");
    helio_channel::register::<u64>();
    let shapes: [(&str, u64); 6] = [
        ("raw rr", 20_000),
        ("raw pubsub", 1_000_000),
        ("natural", 20_000),
        ("natural x16", 100_000),
        ("sink", 1_000_000),
        ("batch 1000", 2_000_000),
    ];
    println!("the channel across processes: host here, sender and receiver in two others");
    for round in 0..3 {
        let rates: Vec<f64> = shapes
            .iter()
            .map(|(shape, items)| run(&nats, shape, *items, round))
            .collect();
        let (rr, pubsub) = (rates[0], rates[1]);
        println!("round {round}:");
        for ((shape, _), rate) in shapes.iter().zip(&rates) {
            println!(
                "  {shape:<12} {rate:>12.0} items/s   {:>6.2} x raw rr   {:>6.3} x raw pubsub",
                rate / rr,
                rate / pubsub
            );
        }
    }
    println!(
        "goals: natural >= 100 000 items/s, batches of 1000 >= 1 000 000 items/s. Ray 2.60 on \
         this machine: 730 put+get round trips/s, 1 539 pipelined puts/s, 139 962 batched items/s"
    );
    helio::shutdown();
}
