//! The README's multi-process quickstart: nodes of a helio cluster, and a client of them.
//!
//! ```text
//! nats-server -js                                                   # terminal 1
//! cargo run --features cluster --example cluster_node -- worker-1   # terminal 2
//! cargo run --features cluster --example cluster_node -- worker-2   # terminal 3
//! cargo run --features cluster --example cluster_node -- client     # terminal 4
//! cargo run -p helio-cli -- status                                  # and look
//! ```
//!
//! A worker joins the cluster under its name and hosts a detached named actor,
//! `greeter-<name>`, until it is stopped (or for `--for SECS`). The client finds each
//! worker's greeter by name (waiting up to 30 s for it to appear), calls it, and prints the
//! answers. The client is this same program because an actor type is known across processes
//! by its Rust type name: programs share actor types through a library crate, and an example
//! has none of its own.
//!
//! Options: `--url URL` (default `$HELIO_URL`, else `nats://127.0.0.1:4222`); for a client,
//! the workers to call (default `worker-1 worker-2`).

use std::time::{Duration, Instant};

use helio::prelude::*;

/// Greets whoever calls, and counts the calls.
pub struct Greeter {
    node: String,
    calls: u64,
}

#[actor(max_restarts = 2)]
impl Greeter {
    /// A greeter on the node named `node`.
    pub fn new(node: String) -> Self {
        Greeter { node, calls: 0 }
    }

    /// A greeting for `who`.
    #[remote_method]
    pub fn greet(&mut self, who: String) -> String {
        self.calls += 1;
        format!(
            "hello {who}, from {} (pid {}), call #{}",
            self.node,
            std::process::id(),
            self.calls
        )
    }
}

/// The command line.
struct Args {
    role: String,
    url: String,
    run_for: Option<Duration>,
    rest: Vec<String>,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let role = args.next().ok_or(
        "usage: cluster_node (<worker name> [--for SECS] | client [workers..]) [--url URL]",
    )?;
    let mut parsed = Args {
        role,
        url: std::env::var("HELIO_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
        run_for: None,
        rest: Vec::new(),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => parsed.url = args.next().ok_or("--url needs a value")?,
            "--for" => {
                let secs = args.next().ok_or("--for needs a number of seconds")?;
                let secs: u64 = secs
                    .parse()
                    .map_err(|_| format!("--for {secs}: not a number"))?;
                parsed.run_for = Some(Duration::from_secs(secs));
            }
            _ => parsed.rest.push(arg),
        }
    }
    Ok(parsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    helio::init(helio::Config::cluster(&args.url).node_name(&args.role))?;
    // Every process that hosts, creates or calls a type registers it.
    helio::register::<Greeter>();
    if args.role == "client" {
        client(&args)
    } else {
        worker(&args)
    }
}

fn worker(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("greeter-{}", args.role);
    let greeter = Greeter::new_actor()
        .options(ActorOptions::new().name(&name).lifetime(Lifetime::Detached))
        .remote(args.role.clone());
    helio::get(greeter.ready())?;
    println!("{}: hosting {name} on {}", args.role, args.url);
    match args.run_for {
        Some(duration) => std::thread::sleep(duration),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    helio::shutdown();
    Ok(())
}

fn client(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let workers = if args.rest.is_empty() {
        vec!["worker-1".to_owned(), "worker-2".to_owned()]
    } else {
        args.rest.clone()
    };
    for worker in &workers {
        let greeter = find(&format!("greeter-{worker}"))?;
        let answer = helio::get(greeter.methods().greet().remote("client"))?;
        println!("{answer}");
    }
    for node in helio::nodes() {
        println!(
            "node {} ({}, pid {}): {}",
            node.name,
            node.state,
            node.pid,
            node.actors.join(", ")
        );
    }
    helio::shutdown();
    Ok(())
}

/// The greeter `name`, waiting up to 30 s for its worker to start.
fn find(name: &str) -> Result<Actor<Greeter>, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match helio::get_actor::<Greeter>(name) {
            Ok(greeter) => return Ok(greeter),
            Err(helio::LookupError::NotFound { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => return Err(format!("{name}: {err}").into()),
        }
    }
}
