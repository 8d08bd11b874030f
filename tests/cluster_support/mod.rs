//! Multi-process test support: a `nats-server` of our own, and child processes that re-run
//! this test binary in a role.
//!
//! Every wait is bounded and fails loudly; every process started here is killed on drop.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

/// How long any single wait may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(30);

/// The environment variable that names a child's role.
pub const ROLE: &str = "HELIO_TEST_ROLE";
/// The environment variable that carries the server's url to a child.
pub const URL: &str = "HELIO_TEST_NATS_URL";

/// The role this process was started in, if it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// The server url a child was given.
pub fn url() -> String {
    std::env::var(URL).unwrap_or_else(|_| panic!("{URL} is not set"))
}

/// A `nats-server` with JetStream on a free port, in a temp dir; killed on drop.
pub struct Nats {
    child: Child,
    pub url: String,
    dir: PathBuf,
}

fn binary() -> String {
    std::env::var("HELIO_NATS_SERVER").unwrap_or_else(|_| "nats-server".to_owned())
}

impl Nats {
    /// Starts a server.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line arguments (`["--auth", "s3cret"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "helio-nats-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir for nats-server");
        let child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "--store_dir"])
            .arg(dir.join("js"))
            .arg("--ports_file_dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start `{}` ({err}): the cluster tests need a NATS server. Install \
                     it with `apt-get install -y nats-server`, or point HELIO_NATS_SERVER at \
                     the binary",
                    binary()
                )
            });
        let ports = dir.join(format!("nats-server_{}.ports", child.id()));
        let mut nats = Nats {
            child,
            url: String::new(),
            dir,
        };
        let deadline = Instant::now() + BOUND;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ports)
                && let Some(start) = text.find("nats://").or_else(|| text.find("tls://"))
                && let Some(len) = text[start..].find('"')
            {
                nats.url = text[start..start + len].to_owned();
                return nats;
            }
            if let Ok(Some(status)) = nats.child.try_wait() {
                panic!("nats-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "nats-server wrote no ports file");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A child process running `test` of this binary in `role`; killed on drop.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    role: String,
    seen: Vec<String>,
}

impl Proc {
    /// Starts this test binary's `test` in `role`, with the server's url.
    pub fn start(test: &str, role: &str, url: &str) -> Self {
        Self::start_env(test, role, url, &[])
    }

    /// As [`start`](Proc::start), with extra environment variables.
    pub fn start_env(test: &str, role: &str, url: &str, env: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = Command::new(exe)
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(URL, url)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a child test process");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Proc {
            child,
            lines,
            role: role.to_owned(),
            seen: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line starting with `prefix` and returns the rest of it.
    #[track_caller]
    pub fn expect(&mut self, prefix: &str) -> String {
        self.expect_within(prefix, BOUND)
    }

    /// Kills the process, then returns every line it said (marker removed), in order,
    /// those [`expect`](Proc::expect) passed over included.
    pub fn kill_and_collect(&mut self) -> Vec<String> {
        self.kill();
        let deadline = Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{}: its output did not end within {BOUND:?}", self.role)
                }
            }
        }
        self.seen
            .drain(..)
            .filter_map(|line| line.find(MARK).map(|at| line[at + MARK.len()..].to_owned()))
            .collect()
    }

    /// As [`expect`](Proc::expect), waiting at most `bound`.
    #[track_caller]
    pub fn expect_within(&mut self, prefix: &str, bound: Duration) -> String {
        let deadline = Instant::now() + bound;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    // The test harness may print on the same line before the marker.
                    let said = line.find(MARK).map(|at| &line[at + MARK.len()..]);
                    if let Some(rest) = said.and_then(|said| said.strip_prefix(prefix)) {
                        return rest.trim().to_owned();
                    }
                    self.seen.push(line);
                }
                Err(_) => panic!(
                    "{}: no line starting with {prefix:?} within {bound:?}; saw {:?}",
                    self.role,
                    self.seen.iter().rev().take(20).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Waits for the process to exit, and fails unless it succeeded.
    #[track_caller]
    pub fn succeeds(mut self) {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                let rest: Vec<String> = self.lines.try_iter().collect();
                assert!(
                    status.success(),
                    "{} failed ({status}); output {:?} {rest:?}",
                    self.role,
                    self.seen
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {BOUND:?}",
                self.role
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes the child's stdin (a signal to a child blocked reading it).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Marks the lines a child says to its parent.
const MARK: &str = "@helio-test ";

/// In a child: prints a line for the parent (stdout is the channel back).
pub fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{MARK}{line}");
    let _ = out.flush();
}

/// In a child: waits for the parent's signal, the end of stdin ([`Proc::close_stdin`]).
pub fn wait_for_parent() {
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
}

/// In a child: blocks until the parent kills it (bounded: exits after [`BOUND`] × 4).
pub fn park() {
    std::thread::sleep(BOUND * 4);
}
