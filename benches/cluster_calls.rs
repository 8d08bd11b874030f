//! Cluster calls against raw async-nats request/reply, on one local `nats-server`, in the same
//! run and between the same two processes.
//!
//! `cargo bench --features cluster --bench cluster_calls [-- --embedded]`
//!
//! The bench starts its own server and a host process (this binary again, in the `host` role)
//! that serves both a helio actor and a raw NATS responder. It prints calls per second and the
//! ratios the cluster issue sets goals for:
//! - sequential round trips, helio / raw request-reply (goal ≥ 0.8);
//! - helio with 256 calls in flight / raw request-reply with 64 in flight (goal ≥ 1.0);
//! - cluster tasks (a registered `#[remote]` fn; the calling process is client-only, so every
//!   task runs on the host), sequential and 256 in flight, against the same raw figures (the
//!   scheduling issue's goals: at least 0.7x raw one at a time, 0.5x with 256 in flight);
//! - 256 KB `Vec<u8>` arguments, one call at a time, in MB/s against raw request/reply with
//!   the same bytes (bytes cross as MessagePack binary);
//! - tiny tasks that take a CPU each (the default `num_cpus = 1`), so they go only where a CPU
//!   is free (pulled, `line.rs`), from this one client over two worker processes of 2 CPUs:
//!   tasks per second one at a time and 256 in flight, beside the raw figures and Ray's
//!   published microbenchmark (single client, async tasks: 7.7-8.0 k/s).

#[path = "../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::{
    future::IntoFuture,
    time::{Duration, Instant},
};

use cluster_support::{Nats, Proc, role, say, url};
use futures::{StreamExt, stream::FuturesUnordered};
use helio::{__private::async_nats, prelude::*};

pub struct Echo;

#[actor]
impl Echo {
    pub fn new() -> Self {
        Echo
    }

    #[remote_method]
    pub fn echo(&self, x: u64) -> u64 {
        x
    }

    /// How long `bytes` is.
    #[remote_method]
    pub fn len(&self, bytes: Vec<u8>) -> u64 {
        bytes.len() as u64
    }
}

/// The task the host runs for the bench process.
#[remote(num_cpus = 0)]
fn echo_task(x: u64) -> u64 {
    x
}

/// A tiny task that takes a CPU while it runs (the default), run by the two workers.
#[remote]
fn tiny(x: u64) -> u64 {
    x
}

/// A worker of 2 CPUs that runs `tiny`.
fn worker() {
    let config = helio::Config::cluster(url()).num_cpus(2.0);
    helio::init(config).expect("join");
    helio::register_task(&tiny);
    say("ready");
    cluster_support::park();
}

const WAIT: Duration = Duration::from_secs(30);

fn host() {
    // The raw baseline's responder and helio's host share one runtime (see `main`).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = helio::Config::cluster(url());
    let config = if std::env::var("HELIO_BENCH_EMBEDDED").is_ok() {
        config
    } else {
        config.runtime(rt.handle().clone())
    };
    helio::init(config).expect("join");
    helio::register::<Echo>();
    helio::register_task(&echo_task);
    let echo = Echo::new_actor()
        .options(
            ActorOptions::new()
                .name("echo")
                .lifetime(Lifetime::Detached),
        )
        .remote();
    echo.ready().get_timeout(WAIT).expect("echo starts");
    rt.block_on(async {
        let client = async_nats::connect(url()).await.expect("raw connect");
        let mut sub = client.subscribe("raw.*").await.expect("raw subscribe");
        client.flush().await.expect("flush");
        say("ready");
        while let Some(message) = sub.next().await {
            let Some(reply) = message.reply else { continue };
            let answer = if message.subject.as_str() == "raw.len" {
                (message.payload.len() as u64).to_le_bytes().to_vec().into()
            } else {
                message.payload
            };
            let _ = client.publish(reply, answer).await;
        }
    });
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn main() {
    match role().as_deref() {
        Some("host") => return host(),
        Some("worker") => return worker(),
        _ => {}
    }
    // The callers, the raw client and helio's cluster tasks on one runtime in each process, as
    // a raw async-nats program has them (`--embedded`: helio's tasks on its own runtime).
    let embedded = std::env::args().any(|arg| arg == "--embedded");
    let nats = Nats::start();
    let env: &[(&str, &str)] = if embedded {
        &[("HELIO_BENCH_EMBEDDED", "1")]
    } else {
        &[]
    };
    let mut host = Proc::start_env("host", "host", &nats.url, env);
    host.expect("ready");
    let mut workers: Vec<Proc> = (0..2)
        .map(|_| Proc::start_env("worker", "worker", &nats.url, env))
        .collect();
    for worker in &mut workers {
        worker.expect("ready");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Client-only: every task goes to the host.
    let config = helio::Config::cluster(nats.url.clone()).host(false);
    let config = if embedded {
        config
    } else {
        config.runtime(rt.handle().clone())
    };
    helio::init(config).expect("join");
    helio::register::<Echo>();
    helio::register_task(&echo_task);
    helio::register_task(&tiny);
    let echo = helio::get_actor::<Echo>("echo").expect("find echo");
    println!(
        "helio's cluster tasks on {}",
        if embedded {
            "its embedded runtime"
        } else {
            "the callers' runtime"
        }
    );
    let raw = rt
        .block_on(async_nats::connect(nats.url.clone()))
        .expect("raw connect");

    let seq_n = 3000;
    let piped_n = 50_000;
    for round in 1..=3 {
        // Sequential round trips.
        let start = Instant::now();
        rt.block_on(async {
            for i in 0..seq_n as u64 {
                assert_eq!(echo.methods().echo().remote(i).await.unwrap(), i);
            }
        });
        let helio_seq = rate(seq_n, start.elapsed());
        let start = Instant::now();
        rt.block_on(async {
            for i in 0..seq_n as u64 {
                let reply = raw
                    .request("raw.echo", i.to_le_bytes().to_vec().into())
                    .await
                    .unwrap();
                assert_eq!(reply.payload.len(), 8);
            }
        });
        let raw_seq = rate(seq_n, start.elapsed());

        // Calls in flight: helio 256, raw request/reply 64.
        let start = Instant::now();
        rt.block_on(async {
            let method = echo.methods().echo();
            let mut inflight = FuturesUnordered::new();
            let mut sent = 0u64;
            let mut done = 0;
            while done < piped_n {
                while inflight.len() < 256 && (sent as usize) < piped_n {
                    inflight.push(method.remote(sent).into_future());
                    sent += 1;
                }
                inflight.next().await.unwrap().unwrap();
                done += 1;
            }
        });
        let helio_piped = rate(piped_n, start.elapsed());
        let start = Instant::now();
        rt.block_on(async {
            let mut inflight = FuturesUnordered::new();
            let mut sent = 0u64;
            let mut done = 0;
            while done < piped_n {
                while inflight.len() < 64 && (sent as usize) < piped_n {
                    inflight.push(raw.request("raw.echo", sent.to_le_bytes().to_vec().into()));
                    sent += 1;
                }
                inflight.next().await.unwrap().unwrap();
                done += 1;
            }
        });
        let raw_piped = rate(piped_n, start.elapsed());

        // Tasks, sequential and 256 in flight.
        let start = Instant::now();
        rt.block_on(async {
            for i in 0..seq_n as u64 {
                assert_eq!(echo_task.remote(i).await.unwrap(), i);
            }
        });
        let task_seq = rate(seq_n, start.elapsed());
        let start = Instant::now();
        rt.block_on(async {
            let mut inflight = FuturesUnordered::new();
            let mut sent = 0u64;
            let mut done = 0;
            while done < piped_n {
                while inflight.len() < 256 && (sent as usize) < piped_n {
                    inflight.push(echo_task.remote(sent).into_future());
                    sent += 1;
                }
                inflight.next().await.unwrap().unwrap();
                done += 1;
            }
        });
        let task_piped = rate(piped_n, start.elapsed());

        // 256 KB of bytes to the actor, one call at a time: helio, then raw with the same bytes.
        let blob = vec![0xAB_u8; 256 << 10];
        let blob_n = 200;
        let start = Instant::now();
        rt.block_on(async {
            let method = echo.methods().len();
            for _ in 0..blob_n {
                assert_eq!(method.remote(blob.clone()).await.unwrap(), 256 << 10);
            }
        });
        let helio_blob = rate(blob_n, start.elapsed()) * 0.25;
        let start = Instant::now();
        rt.block_on(async {
            for _ in 0..blob_n {
                let reply = raw.request("raw.len", blob.clone().into()).await.unwrap();
                assert_eq!(reply.payload.len(), 8);
            }
        });
        let raw_blob = rate(blob_n, start.elapsed()) * 0.25;

        // Tiny tasks of one CPU each over the two workers, sequential and 256 in flight.
        let start = Instant::now();
        rt.block_on(async {
            for i in 0..seq_n as u64 {
                assert_eq!(tiny.remote(i).await.unwrap(), i);
            }
        });
        let tiny_seq = rate(seq_n, start.elapsed());
        let tiny_n = piped_n / 5;
        let start = Instant::now();
        rt.block_on(async {
            let mut inflight = FuturesUnordered::new();
            let mut sent = 0u64;
            let mut done = 0;
            while done < tiny_n {
                while inflight.len() < 256 && (sent as usize) < tiny_n {
                    inflight.push(tiny.remote(sent).into_future());
                    sent += 1;
                }
                inflight.next().await.unwrap().unwrap();
                done += 1;
            }
        });
        let tiny_piped = rate(tiny_n, start.elapsed());
        println!(
            "round {round}: sequential helio {helio_seq:.0}/s raw {raw_seq:.0}/s ratio {:.2} | \
             in flight helio(256) {helio_piped:.0}/s raw(64) {raw_piped:.0}/s ratio {:.2}",
            helio_seq / raw_seq,
            helio_piped / raw_piped
        );
        println!(
            "round {round}: tasks sequential {task_seq:.0}/s ratio {:.2} | tasks in flight(256) \
             {task_piped:.0}/s ratio {:.2} (each against raw above)",
            task_seq / raw_seq,
            task_piped / raw_piped
        );
        println!(
            "round {round}: 256 KB Vec<u8> arguments one at a time: helio {helio_blob:.0} MB/s \
             raw {raw_blob:.0} MB/s ratio {:.2}",
            helio_blob / raw_blob
        );
        println!(
            "round {round}: tiny 1-CPU tasks over 2 workers of 2 CPUs: sequential {tiny_seq:.0}/s \
             ratio {:.2} | in flight(256) {tiny_piped:.0}/s ratio {:.2} (Ray, single client \
             async: 7.7-8.0 k/s)",
            tiny_seq / raw_seq,
            tiny_piped / raw_piped
        );
    }
    drop(workers);
    helio::shutdown();
}
