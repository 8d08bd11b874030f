//! A task farm over several processes: worker nodes with 2 CPUs each, and a client-only
//! driver that submits many tasks at once and waits for them all, the most common Ray
//! program. It prints each run's makespan against the ideal (all work spread evenly over every
//! CPU) and how many tasks each worker ran.
//!
//! ```text
//! nats-server -js                                                                # terminal 1
//! cargo run --release --features cluster --example cluster_task_farm -- \
//!     --url nats://127.0.0.1:4222 --workers 2 --tasks 1000 --ms 40 --runs 5      # terminal 2
//! ```
//!
//! The farm starts its workers itself (this program again, as `worker`), waits until each has
//! joined, then runs the driver in this process. Options:
//! - `--workers N` (default 2), each with `--cpus C` CPUs (default 2);
//! - `--tasks T` of `--ms M` milliseconds each (default 1000 of 40), each asking for one CPU;
//!   `--mixed SEED`: durations from 10 to 200 ms instead, drawn from the seed;
//! - `--runs R` (default 1): the runs, one after another, on the same workers;
//! - `--late`: one more worker joins once a quarter of the tasks of a run are done; it
//!   should take its fair share of the tasks that start after it joined (the ratio is then
//!   against the ideal without it).
//!
//! Each task sleeps, so the figures show where tasks run, not how fast a CPU is: a 2-core
//! machine measures a farm of 8 CPUs. The program fails (exit code 1) when a task is lost or
//! fails; the makespan is reported, never judged.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime},
};

use helio::prelude::*;

/// One task: sleeps `ms`, then says which process ran it, and when it started.
#[remote]
fn work(ms: u64) -> (u32, SystemTime) {
    let started = SystemTime::now();
    std::thread::sleep(Duration::from_millis(ms));
    (std::process::id(), started)
}

/// The command line.
struct Args {
    url: String,
    workers: usize,
    cpus: f64,
    tasks: usize,
    ms: u64,
    mixed: Option<u64>,
    runs: usize,
    late: bool,
    worker: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: std::env::var("HELIO_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
        workers: 2,
        cpus: 2.0,
        tasks: 1000,
        ms: 40,
        mixed: None,
        runs: 1,
        late: false,
        worker: None,
    };
    fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
        let value = value.ok_or(format!("{flag} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => parsed.url = args.next().ok_or("--url needs a value")?,
            "--workers" => parsed.workers = number("--workers", args.next())?,
            "--cpus" => parsed.cpus = number("--cpus", args.next())?,
            "--tasks" => parsed.tasks = number("--tasks", args.next())?,
            "--ms" => parsed.ms = number("--ms", args.next())?,
            "--mixed" => parsed.mixed = Some(number("--mixed", args.next())?),
            "--runs" => parsed.runs = number("--runs", args.next())?,
            "--late" => parsed.late = true,
            "worker" => parsed.worker = Some(args.next().ok_or("worker needs a name")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    match &args.worker {
        Some(name) => worker(&args, name),
        None => farm(&args),
    }
}

/// A worker: joins, registers the task, says `ready`, and runs tasks until its input closes.
fn worker(args: &Args, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = helio::Config::cluster(&args.url)
        .node_name(name)
        .num_cpus(args.cpus);
    helio::init(config)?;
    helio::register_task(&work);
    println!("ready {}", std::process::id());
    // Until the farm closes our stdin (or dies).
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line)? > 0 {
        line.clear();
    }
    helio::shutdown();
    Ok(())
}

/// A worker process of the farm.
struct Worker {
    child: Child,
    pid: u32,
}

impl Worker {
    fn start(args: &Args, name: &str) -> Result<Worker, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["worker", name, "--url", &args.url, "--cpus"])
            .arg(args.cpus.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (said, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = said.send(lines.next());
        });
        let ready = heard.recv_timeout(Duration::from_secs(30));
        let pid = match ready {
            Ok(Some(Ok(line))) => line
                .strip_prefix("ready ")
                .and_then(|pid| pid.parse().ok())
                .ok_or(format!("worker {name} said {line:?}"))?,
            _ => {
                let _ = child.kill();
                return Err(format!("worker {name} did not start within 30 s").into());
            }
        };
        Ok(Worker { child, pid })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing stdin stops it; a kill makes sure.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Durations: all `ms`, or drawn from 10 to 200 ms with `seed`.
fn durations(args: &Args) -> Vec<u64> {
    let Some(seed) = args.mixed else {
        return vec![args.ms; args.tasks];
    };
    // A small LCG: the same seed, the same durations on every machine.
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..args.tasks)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            10 + (state >> 33) % 191
        })
        .collect()
}

fn farm(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut workers = Vec::new();
    for i in 1..=args.workers {
        workers.push(Worker::start(args, &format!("worker-{i}"))?);
    }
    // The driver hosts nothing: every task goes to a worker.
    helio::init(
        helio::Config::cluster(&args.url)
            .node_name("driver")
            .host(false),
    )?;
    helio::register_task(&work);
    let durations = durations(args);
    let total: u64 = durations.iter().sum();
    println!(
        "{} workers x {} CPUs, {} tasks ({}), {} run(s){}",
        args.workers,
        args.cpus,
        args.tasks,
        match args.mixed {
            Some(seed) => format!("10-200 ms, seed {seed}"),
            None => format!("{} ms each", args.ms),
        },
        args.runs,
        if args.late {
            ", one more worker joins halfway"
        } else {
            ""
        }
    );
    println!("run | makespan | ideal | ratio | tasks per worker");
    let mut failed = false;
    for run in 1..=args.runs {
        let mut late = None;
        let cpus = |n: usize| n as f64 * args.cpus;
        let start = Instant::now();
        let refs: Vec<_> = durations.iter().map(|ms| work.remote(*ms)).collect();
        let mut ran: HashMap<u32, usize> = HashMap::new();
        let mut started = Vec::with_capacity(args.tasks);
        for (i, task) in refs.into_iter().enumerate() {
            match task.get_timeout(Duration::from_secs(300)) {
                Ok((pid, at)) => {
                    *ran.entry(pid).or_default() += 1;
                    started.push((pid, at));
                }
                Err(err) => {
                    eprintln!("task {i} failed: {err}");
                    failed = true;
                }
            }
            if args.late && late.is_none() && i + 1 == args.tasks / 4 {
                let worker = Worker::start(args, &format!("late-{run}"))?;
                late = Some((worker, SystemTime::now()));
            }
        }
        let makespan = start.elapsed();
        // The ideal is that of the workers present from the start.
        let ideal = Duration::from_millis(total).div_f64(cpus(args.workers));
        let mut shares: Vec<String> = workers
            .iter()
            .map(|w| ran.get(&w.pid).copied().unwrap_or(0).to_string())
            .collect();
        if let Some((late, joined)) = &late {
            let after: Vec<u32> = started
                .iter()
                .filter(|(_, at)| at >= joined)
                .map(|(pid, _)| *pid)
                .collect();
            let took = after.iter().filter(|pid| **pid == late.pid).count();
            shares.push(format!(
                "late {} ({took} of the {} that started after it joined)",
                ran.get(&late.pid).copied().unwrap_or(0),
                after.len()
            ));
        }
        println!(
            "{run} | {:.2} s | {:.2} s | {:.3} | {}",
            makespan.as_secs_f64(),
            ideal.as_secs_f64(),
            makespan.as_secs_f64() / ideal.as_secs_f64(),
            shares.join(" / ")
        );
        let counted: usize = ran.values().sum();
        if counted != args.tasks && !failed {
            eprintln!("{counted} results for {} tasks", args.tasks);
            failed = true;
        }
    }
    helio::shutdown();
    drop(workers);
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
