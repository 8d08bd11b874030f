//! Multi-process test support: a `nats-server` of our own, and child processes that re-run
//! this test binary in a role.
//!
//! Every wait is bounded and fails loudly; every process started here is killed on drop.

#![allow(dead_code)]

pub mod server;

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

/// One test at a time, for the tests that start a NATS cluster and kill its servers: on a
/// small machine the others' load would slow their elections past the bounds. Held by a
/// test's parent for its whole run.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A small seeded generator (xorshift64) for the chaos tests' choices, repeatable by seed.
pub struct XorShift(u64);

impl XorShift {
    /// The generator of the seed in `HELIO_CHAOS_SEED`, else of one taken from the clock;
    /// the seed is printed first, so that a failed run can be replayed.
    pub fn seeded() -> Self {
        let seed = std::env::var("HELIO_CHAOS_SEED")
            .ok()
            .and_then(|seed| seed.parse::<u64>().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.map_or(1, |since| since.as_nanos() as u64)
            });
        println!("chaos seed {seed} (HELIO_CHAOS_SEED={seed} runs it again)");
        XorShift(seed.max(1))
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The role this process was started in, if it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// The server url a child was given.
pub fn url() -> String {
    std::env::var(URL).unwrap_or_else(|_| panic!("{URL} is not set"))
}

/// A `nats-server` with JetStream on a free port, in a temp dir; killed on drop. Which binary:
/// see [`server`].
pub struct Nats {
    child: Child,
    pub url: String,
    dir: PathBuf,
    extra: Vec<String>,
}

impl Nats {
    /// Starts a server.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line arguments (`["--auth", "s3cret"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::try_start_with(extra).unwrap_or_else(|err| panic!("{err}"))
    }

    /// As [`start_with`](Nats::start_with); an error when the server exits at start (a port
    /// of `extra` taken meanwhile by another test's server, say).
    pub fn try_start_with(extra: &[&str]) -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "helio-nats-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir for nats-server");
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let child = Self::spawn(&dir, "-1", &extra);
        let mut nats = Nats {
            child,
            url: String::new(),
            dir,
            extra,
        };
        nats.url = nats.try_wait_for_port()?;
        Ok(nats)
    }

    fn spawn(dir: &std::path::Path, port: &str, extra: &[String]) -> Child {
        let binary = server::path();
        Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", port, "-js", "--store_dir"])
            .arg(dir.join("js"))
            .arg("--ports_file_dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start {} ({err}): the cluster tests need a NATS server that runs \
                     here; unset HELIO_NATS_SERVER or point it at one that does",
                    binary.display()
                )
            })
    }

    /// Waits for the running server's ports file, and returns its client url.
    fn wait_for_port(&mut self) -> String {
        self.try_wait_for_port()
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// As [`wait_for_port`](Nats::wait_for_port); an error when the server exits at start.
    fn try_wait_for_port(&mut self) -> Result<String, String> {
        let ports = self
            .dir
            .join(format!("nats-server_{}.ports", self.child.id()));
        let deadline = Instant::now() + BOUND;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ports)
                && let Some(start) = text.find("nats://").or_else(|| text.find("tls://"))
                && let Some(len) = text[start..].find('"')
            {
                return Ok(text[start..start + len].to_owned());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("nats-server exited at start: {status}"));
            }
            assert!(Instant::now() < deadline, "nats-server wrote no ports file");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL): every client loses it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again after [`kill`](Nats::kill): same port, same JetStream store.
    pub fn restart(&mut self) {
        let port = self
            .url
            .rsplit(':')
            .next()
            .expect("a port in the url")
            .to_owned();
        self.child = Self::spawn(&self.dir, &port, &self.extra);
        let url = self.wait_for_port();
        assert_eq!(url, self.url, "the server came back on another address");
    }
}

/// A NATS cluster of servers with JetStream, routed to each other on free ports, each in a
/// temp dir of its own; killed on drop. `url` names them all, comma-separated.
pub struct NatsCluster {
    pub servers: Vec<Nats>,
    pub url: String,
    /// Each server's monitoring port.
    monitors: Vec<u16>,
}

impl NatsCluster {
    /// Starts `n` servers (named `s0`, `s1`, ..) as one NATS cluster. Its route and
    /// monitoring ports are picked free, then bound by the servers: when another test's
    /// server takes one in between (a server exits at start), it starts again on new ports,
    /// up to three times.
    pub fn start(n: usize) -> Self {
        let mut failed = Vec::new();
        for _ in 0..3 {
            match Self::try_start(n) {
                Ok(cluster) => return cluster,
                Err(err) => failed.push(err),
            }
        }
        panic!("a NATS cluster of {n} did not start: {failed:?}")
    }

    fn try_start(n: usize) -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "helio-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let routes: Vec<String> = (0..n)
            .map(|_| format!("nats://127.0.0.1:{}", free_port()))
            .collect();
        let all = routes.join(",");
        let monitors: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let servers: Vec<Nats> = (0..n)
            .map(|i| {
                let server = format!("s{i}");
                let monitor = monitors[i].to_string();
                Nats::try_start_with(&[
                    "-n",
                    &server,
                    "-m",
                    &monitor,
                    "--cluster_name",
                    &name,
                    "--cluster",
                    &routes[i],
                    "--routes",
                    &all,
                ])
            })
            .collect::<Result<_, _>>()?;
        let url = servers
            .iter()
            .map(|server| server.url.clone())
            .collect::<Vec<_>>()
            .join(",");
        let cluster = NatsCluster {
            servers,
            url,
            monitors,
        };
        for i in 0..n {
            cluster.wait_healthy(i);
        }
        Ok(cluster)
    }

    /// Waits until server `i` says it is healthy (`/healthz`: its JetStream has a leader and
    /// its copies of the streams are current), failing loudly after `BOUND`.
    pub fn wait_healthy(&self, i: usize) {
        let deadline = Instant::now() + BOUND;
        loop {
            if healthy(self.monitors[i]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server s{i} was not healthy within {BOUND:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills server `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// Starts server `i` again (same ports and store), and waits until it is healthy.
    pub fn restart(&mut self, i: usize) {
        self.servers[i].restart();
        self.wait_healthy(i);
    }
}

/// Whether the server whose monitoring port is `port` answers `/healthz` with 200.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// A port no one listens on now (taken from the system, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A TCP relay to a server, for one process to connect through: [`cut`](Relay::cut) takes
/// the server away from that process alone, while every other process keeps it.
pub struct Relay {
    pub url: String,
    links: std::sync::Arc<std::sync::Mutex<Links>>,
}

struct Links {
    open: bool,
    streams: Vec<std::net::TcpStream>,
}

impl Relay {
    /// Relays `127.0.0.1:<a free port>` to the server at `url`.
    pub fn to(url: &str) -> Self {
        use std::net::{TcpListener, TcpStream};
        let target = url
            .rsplit("//")
            .next()
            .expect("a host and port in the url")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the relay");
        let port = listener.local_addr().expect("the relay's address").port();
        let links = std::sync::Arc::new(std::sync::Mutex::new(Links {
            open: true,
            streams: Vec::new(),
        }));
        let accepting = std::sync::Arc::clone(&links);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut links = accepting.lock().unwrap();
                if !links.open {
                    continue; // cut: the connection is dropped at once
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let pairs = [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ];
                for pair in pairs {
                    if let (Ok(mut from), Ok(mut to)) = pair {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
                links.streams.extend([client, server]);
            }
        });
        Relay {
            url: format!("nats://127.0.0.1:{port}"),
            links,
        }
    }

    /// Closes every relayed connection, and refuses new ones until [`mend`](Relay::mend).
    pub fn cut(&self) {
        let mut links = self.links.lock().unwrap();
        links.open = false;
        for stream in links.streams.drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Relays new connections again.
    pub fn mend(&self) {
        self.links.lock().unwrap().open = true;
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

    /// Sends `line` to the child, which reads it with [`next_line`].
    pub fn tell(&mut self, line: impl std::fmt::Display) {
        use std::io::Write;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .expect("the child's stdin is open");
        writeln!(stdin, "{line}").expect("write to the child");
        stdin.flush().expect("write to the child");
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

/// In a child: waits for the parent's next line ([`Proc::tell`]); `None` once the parent
/// closed stdin.
pub fn next_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim().to_owned()),
        _ => None,
    }
}

/// In a child: blocks until the parent kills it (bounded: exits after [`BOUND`] × 4).
pub fn park() {
    std::thread::sleep(BOUND * 4);
}
