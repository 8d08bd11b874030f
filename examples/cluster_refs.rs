//! A ref through three processes: this process puts a 16 MB value and passes a ref to it,
//! inside a struct, to a stage in a second process, which hands it on unread to a stage in a
//! third, which reads it. The value goes from its owner (here) straight to the reader; the
//! process in between reads none of it. It prints what each process read, and checks that the
//! owner shares nothing once the others dropped their refs.
//!
//! ```text
//! nats-server -js                                                                   # terminal 1
//! cargo run --features cluster --example cluster_refs -- --url nats://127.0.0.1:4222  # terminal 2
//! ```
//!
//! The program starts the two stages itself (this program again, as `stage <name>`), and
//! exits with code 1 if anything does not add up.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use helio::prelude::*;
use serde::{Deserialize, Serialize};

/// Work for a stage: a name, and a ref to its input (not the input itself).
#[derive(Serialize, Deserialize)]
pub struct Job {
    pub name: String,
    pub input: ObjectRef<Vec<u8>>,
}

/// A stage of the pipeline, one per process.
pub struct Stage;

#[actor]
impl Stage {
    pub fn new() -> Self {
        Stage
    }

    /// Hands `job` to the stage named `next`, unread, and returns its answer.
    #[remote_method]
    pub fn forward(&self, job: Job, next: String) -> Result<u64, String> {
        let next = helio::get_actor::<Stage>(&next).map_err(|err| err.to_string())?;
        next.methods()
            .digest()
            .remote(job)
            .get_timeout(Duration::from_secs(60))
            .map_err(|err| err.to_string())?
    }

    /// Reads the job's input (from its owner, wherever it is) and sums its bytes.
    #[remote_method]
    pub async fn digest(&self, job: Job) -> Result<u64, String> {
        let input = job.input.await.map_err(|err| err.to_string())?;
        Ok(input.iter().map(|&b| u64::from(b)).sum())
    }

    /// Bytes this process read through refs.
    #[remote_method]
    pub fn read_bytes(&self) -> u64 {
        helio::object_stats().read_bytes
    }
}

fn url() -> String {
    let mut args = std::env::args().skip_while(|arg| arg != "--url").skip(1);
    args.next()
        .or_else(|| std::env::var("HELIO_URL").ok())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

/// A stage's process: serves `Stage` under `name` until its stdin closes.
fn stage(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    helio::init(helio::Config::cluster(url()).node_name(name))?;
    helio::register::<Stage>();
    let options = ActorOptions::new().name(name).lifetime(Lifetime::Detached);
    let stage = Stage::new_actor().options(options).remote();
    stage.ready().get_timeout(Duration::from_secs(30))?;
    println!("ready");
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line)? > 0 {
        line.clear();
    }
    helio::shutdown();
    Ok(())
}

/// Starts the stage `name`, and waits until it serves.
fn start(name: &str) -> Result<Child, Box<dyn std::error::Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["stage", name, "--url", &url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (said, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = said.send(BufReader::new(stdout).lines().next());
    });
    match heard.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(Ok(line))) if line == "ready" => Ok(child),
        other => {
            let _ = child.kill();
            Err(format!("stage {name} did not start: {other:?}").into())
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("stage") {
        let name = args.next().ok_or("stage: a name")?;
        return stage(&name);
    }
    helio::init(helio::Config::cluster(url()).node_name("owner").host(false))?;
    helio::register::<Stage>();
    let stages = [start("stage-b")?, start("stage-c")?];

    let input: Vec<u8> = (0..16 << 20).map(|i| (i % 251) as u8).collect();
    let expected: u64 = input.iter().map(|&b| u64::from(b)).sum();
    let job = Job {
        name: "sum".into(),
        input: helio::put(input),
    };
    let b = helio::get_actor::<Stage>("stage-b")?;
    let c = helio::get_actor::<Stage>("stage-c")?;
    let started = Instant::now();
    let sum = b
        .methods()
        .forward()
        .remote(job, "stage-c".to_owned())
        .get_timeout(Duration::from_secs(60))??;
    let took = started.elapsed();
    let wait = Duration::from_secs(10);
    let read_b = b.methods().read_bytes().remote().get_timeout(wait)?;
    let read_c = c.methods().read_bytes().remote().get_timeout(wait)?;
    println!("owner -> stage-b -> stage-c: the sum of 16 MB is {sum} ({took:?})");
    println!("bytes read through refs: stage-b {read_b}, stage-c {read_c}");
    // Everyone dropped their refs: the owner shares nothing (the releases are on their way).
    let deadline = Instant::now() + wait;
    while helio::object_stats().shared > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let shared = helio::object_stats().shared;
    println!("values the owner still shares: {shared}");
    drop(stages); // their stdin closes: they leave
    helio::shutdown();
    if sum != expected || read_b != 0 || read_c < 16 << 20 || shared != 0 {
        return Err("the ref did not go from its owner straight to its reader".into());
    }
    Ok(())
}
