//! `ObjectRef`s that cross processes: a ref travels as the address of its value, inside a
//! struct or a `Vec`; the process that reads it reads the value from its owner, never through
//! the processes in between; the owner keeps the value while any process holds a ref to it,
//! and frees it after the last is dropped; a ref whose owner died resolves to `OwnerDied`.
//! Processes on a server of our own; every wait bounded.

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{Nats, Proc, role, say, url};
use helio::prelude::*;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(30);
const MB: usize = 1 << 20;

/// A value to read, with a ref to its bytes.
#[derive(Serialize, Deserialize)]
pub struct Parcel {
    pub label: String,
    pub data: ObjectRef<Vec<u8>>,
}

/// Passes parcels on, reads them, or keeps one.
pub struct Relay {
    kept: Option<Parcel>,
}

#[actor]
impl Relay {
    pub fn new() -> Self {
        Relay { kept: None }
    }

    /// Hands `parcel` to the relay named `to` to read, without reading it.
    #[remote_method]
    pub fn pass(&self, parcel: Parcel, to: String) -> Result<u64, String> {
        let next = helio::get_actor::<Relay>(&to).map_err(|err| err.to_string())?;
        next.methods()
            .read()
            .remote(parcel)
            .get_timeout(WAIT)
            .map_err(|err| err.to_string())?
    }

    /// The length and the sum of the bytes of `parcel`.
    #[remote_method]
    pub async fn read(&self, parcel: Parcel) -> Result<u64, String> {
        let bytes = parcel.data.await.map_err(|err| format!("{err:?}"))?;
        Ok(bytes.iter().map(|b| u64::from(*b)).sum::<u64>() + bytes.len() as u64)
    }

    /// Reads a few of `refs` and drops them all; how many it read.
    #[remote_method]
    pub async fn read_some(&self, refs: Vec<ObjectRef<u64>>) -> Result<u64, String> {
        let mut read = 0;
        for (i, r) in refs.into_iter().enumerate() {
            if i % 100 == 0 {
                let value = r.await.map_err(|err| format!("{err:?}"))?;
                if value != i as u64 {
                    return Err(format!("ref {i} read {value}"));
                }
                read += 1;
            }
        }
        Ok(read)
    }

    /// Passes `refs` to the relay named `to`.
    #[remote_method]
    pub fn pass_all(&self, refs: Vec<ObjectRef<u64>>, to: String) -> Result<u64, String> {
        let next = helio::get_actor::<Relay>(&to).map_err(|err| err.to_string())?;
        next.methods()
            .read_some()
            .remote(refs)
            .get_timeout(WAIT)
            .map_err(|err| err.to_string())?
    }

    /// Keeps `parcel`, unread.
    #[remote_method]
    pub fn keep(&mut self, parcel: Parcel) {
        self.kept = Some(parcel);
    }

    /// Reads the parcel kept: its length, or the error as `Debug` says it.
    #[remote_method]
    pub async fn read_kept(&mut self) -> Result<u64, String> {
        let parcel = self.kept.take().ok_or("nothing kept")?;
        let bytes = parcel.data.await.map_err(|err| format!("{err:?}"))?;
        Ok(bytes.len() as u64)
    }

    /// Calls `sum` on the relay named `to` with the ref in `parcel` as a bare argument (the
    /// method takes the bytes; the ref crosses as a ref), `windows` likewise, and the task
    /// `sum_on_gpu` (which only `c` can run): the sum, the sum of the stream's items, and the
    /// task's sum.
    #[remote_method]
    pub fn pass_bare(&self, parcel: Parcel, to: String) -> Result<(u64, u64, u64), String> {
        let next = helio::get_actor::<Relay>(&to).map_err(|err| err.to_string())?;
        let data = parcel.data;
        let stream = next.methods().windows().remote(data.clone(), 1 << 20);
        let task = sum_on_gpu.remote(data.clone());
        let sum = next.methods().sum().remote(data).get_timeout(WAIT);
        let sum = sum.map_err(|err| format!("{err:?}"))?;
        let mut items = 0;
        for item in stream.blocking_iter() {
            items += item.map_err(|err| format!("{err:?}"))?;
        }
        let task = task.get_timeout(WAIT).map_err(|err| format!("{err:?}"))?;
        Ok((sum, items, task))
    }

    /// Calls `sum` on the relay named `to` with the ref kept, bare: the call's error as `Debug`
    /// says it.
    #[remote_method]
    pub fn pass_kept_bare(&mut self, to: String) -> Result<u64, String> {
        let parcel = self.kept.take().ok_or("nothing kept")?;
        let next = helio::get_actor::<Relay>(&to).map_err(|err| err.to_string())?;
        let sum = next.methods().sum().remote(parcel.data).get_timeout(WAIT);
        sum.map_err(|err| format!("{err:?}"))
    }

    /// The length and the sum of `bytes`.
    #[remote_method]
    pub fn sum(&self, bytes: Vec<u8>) -> u64 {
        bytes.iter().map(|b| u64::from(*b)).sum::<u64>() + bytes.len() as u64
    }

    /// The length and the sum of each window of `size` bytes of `bytes`.
    #[remote_method(stream_buffer = 4)]
    pub fn windows(
        &self,
        bytes: Vec<u8>,
        size: usize,
    ) -> impl helio::stream::Stream<Item = u64> + Send + 'static {
        let sums: Vec<u64> = bytes
            .chunks(size.max(1))
            .map(|w| w.iter().map(|b| u64::from(*b)).sum::<u64>() + w.len() as u64)
            .collect();
        helio::stream::stream::iter(sums)
    }

    /// What this process shares, and the bytes it read through refs.
    #[remote_method]
    pub fn stats(&self) -> (usize, u64) {
        let stats = helio::object_stats();
        (stats.shared, stats.read_bytes)
    }
}

/// The length and the sum of `bytes`, on a GPU: only `c` has one, so it runs there.
#[remote(num_gpus = 1)]
fn sum_on_gpu(bytes: Vec<u8>) -> u64 {
    bytes.iter().map(|b| u64::from(*b)).sum::<u64>() + bytes.len() as u64
}

/// Joins as `name`; `c` with a GPU.
fn join(name: &str, hosts: bool) {
    let gpus = if name == "c" { 1.0 } else { 0.0 };
    let config = helio::Config::cluster(url())
        .node_name(name)
        .num_gpus(gpus)
        .host(hosts);
    helio::init(config).expect("join the cluster");
    helio::register::<Relay>();
    helio::register_task(&sum_on_gpu);
}

/// A host of a relay named `name`.
fn relay(name: &str) {
    join(name, true);
    let relay = Relay::new_actor()
        .options(ActorOptions::new().name(name).lifetime(Lifetime::Detached))
        .remote();
    relay.ready().get_timeout(WAIT).expect("the relay starts");
    say("ready");
    cluster_support::park();
}

/// Waits for what this process shares to fall to nothing, failing loudly after `WAIT`.
#[track_caller]
fn until_nothing_shared() {
    let deadline = Instant::now() + WAIT;
    loop {
        let shared = helio::object_stats().shared;
        if shared == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{shared} values are still shared after {WAIT:?}: a borrower was not counted out"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `test` with relays `c` and `b`, then the owner `a`, which says `done`.
fn through_three(test: &str) {
    let nats = Nats::start();
    let mut c = Proc::start(test, "c", &nats.url);
    c.expect("ready");
    let mut b = Proc::start(test, "b", &nats.url);
    b.expect("ready");
    let mut a = Proc::start(test, "a", &nats.url);
    a.expect("done");
    a.succeeds();
}

/// Runs `test` with the relays named in `relays` and the owner `a`, which says `kept` once a
/// relay keeps its ref; `a` is then killed, and `d` reads through the relays and says `done`.
fn read_after_the_owner_is_killed(test: &str, relays: &[&str]) {
    let nats = Nats::start();
    let mut started = Vec::new();
    for relay in relays {
        let mut relay = Proc::start(test, relay, &nats.url);
        relay.expect("ready");
        started.push(relay);
    }
    let mut a = Proc::start(test, "a", &nats.url);
    a.expect("kept");
    a.kill();
    let mut d = Proc::start(test, "d", &nats.url);
    d.expect("done");
    d.succeeds();
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_ref_goes_from_its_owner_to_its_reader_never_through_the_process_between() {
    let test = "a_ref_goes_from_its_owner_to_its_reader_never_through_the_process_between";
    match role().as_deref() {
        Some("b") => return relay("b"),
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let b = helio::get_actor::<Relay>("b").expect("find b");
            let c = helio::get_actor::<Relay>("c").expect("find c");
            let data = bytes(2 * MB);
            let expected = data.iter().map(|b| u64::from(*b)).sum::<u64>() + data.len() as u64;
            let parcel = Parcel {
                label: "two megabytes".into(),
                data: helio::put(data),
            };
            let read = b
                .methods()
                .pass()
                .remote(parcel, "c".to_owned())
                .get_timeout(WAIT)
                .expect("b passes it")
                .expect("c reads it");
            assert_eq!(read, expected, "c read the value intact");
            let (_, b_read) = b.methods().stats().remote().get_timeout(WAIT).expect("b");
            let (_, c_read) = c.methods().stats().remote().get_timeout(WAIT).expect("c");
            assert_eq!(b_read, 0, "b passed the ref on and read none of its bytes");
            assert!(
                c_read >= 2 * MB as u64,
                "c read the value from its owner: {c_read}"
            );
            // Everyone dropped their refs: the owner frees the value.
            until_nothing_shared();
            say("done");
            return;
        }
        _ => {}
    }
    through_three(test);
}

/// A ref passed bare as the argument of a call (the method takes its value) crosses as a ref
/// when its owner is another process: the callee reads it from the owner, and the caller in
/// between reads none of it. The same for a streaming call and a task.
#[test]
fn a_bare_ref_argument_crosses_by_reference() {
    let test = "a_bare_ref_argument_crosses_by_reference";
    match role().as_deref() {
        Some("b") => return relay("b"),
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let b = helio::get_actor::<Relay>("b").expect("find b");
            let c = helio::get_actor::<Relay>("c").expect("find c");
            let data = bytes(4 * MB);
            let expected = data.iter().map(|b| u64::from(*b)).sum::<u64>() + data.len() as u64;
            let parcel = Parcel {
                label: "four megabytes".into(),
                data: helio::put(data),
            };
            let (sum, windows, task) = b
                .methods()
                .pass_bare()
                .remote(parcel, "c".to_owned())
                .get_timeout(WAIT)
                .expect("b passes it")
                .expect("c reads it");
            assert_eq!(sum, expected, "c read the value intact");
            assert_eq!(windows, expected, "c streamed over the value intact");
            assert_eq!(task, expected, "the task on c read the value intact");
            let (_, b_read) = b.methods().stats().remote().get_timeout(WAIT).expect("b");
            let (_, c_read) = c.methods().stats().remote().get_timeout(WAIT).expect("c");
            assert_eq!(
                b_read, 0,
                "b passed the ref as an argument and read none of it"
            );
            assert!(
                c_read >= 3 * 4 * MB as u64,
                "c read the value from its owner, once per call and for the task: {c_read}"
            );
            until_nothing_shared();
            say("done");
            return;
        }
        _ => {}
    }
    through_three(test);
}

/// A bare ref argument whose owner was killed fails the call with `OwnerDied`, in time.
#[test]
fn a_bare_ref_argument_whose_owner_was_killed_fails_its_call_with_owner_died() {
    let test = "a_bare_ref_argument_whose_owner_was_killed_fails_its_call_with_owner_died";
    match role().as_deref() {
        Some("b") => return relay("b"),
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let b = helio::get_actor::<Relay>("b").expect("find b");
            let parcel = Parcel {
                label: "lost".into(),
                data: helio::put(bytes(1000)),
            };
            b.methods()
                .keep()
                .remote(parcel)
                .get_timeout(WAIT)
                .expect("b keeps it");
            say("kept");
            return cluster_support::park();
        }
        Some("d") => {
            join("d", false);
            let b = helio::get_actor::<Relay>("b").expect("find b");
            let sum = b
                .methods()
                .pass_kept_bare()
                .remote("c".to_owned())
                .get_timeout(WAIT)
                .expect("b answers");
            match sum {
                Err(err) if err.contains("OwnerDied") => {}
                other => panic!("expected OwnerDied, got {other:?}"),
            }
            say("done");
            return;
        }
        _ => {}
    }
    read_after_the_owner_is_killed(test, &["c", "b"]);
}

#[test]
fn a_thousand_refs_passed_around_three_processes_leave_their_owner_holding_nothing() {
    let test = "a_thousand_refs_passed_around_three_processes_leave_their_owner_holding_nothing";
    match role().as_deref() {
        Some("b") => return relay("b"),
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let b = helio::get_actor::<Relay>("b").expect("find b");
            let refs: Vec<ObjectRef<u64>> = (0..1000).map(helio::put).collect();
            let kept = refs.clone();
            let read = b
                .methods()
                .pass_all()
                .remote(refs, "c".to_owned())
                .get_timeout(WAIT)
                .expect("b passes them")
                .expect("c reads some");
            assert_eq!(read, 10);
            // b and c dropped theirs: a shares nothing, and its own refs still read.
            until_nothing_shared();
            for (i, r) in kept.into_iter().enumerate().step_by(97) {
                assert_eq!(r.get_timeout(WAIT).expect("its own ref"), i as u64);
            }
            say("done");
            return;
        }
        _ => {}
    }
    through_three(test);
}

#[test]
fn a_ref_whose_owner_was_killed_resolves_to_owner_died_in_time() {
    let test = "a_ref_whose_owner_was_killed_resolves_to_owner_died_in_time";
    match role().as_deref() {
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let c = helio::get_actor::<Relay>("c").expect("find c");
            let parcel = Parcel {
                label: "lost".into(),
                data: helio::put(bytes(1000)),
            };
            c.methods()
                .keep()
                .remote(parcel)
                .get_timeout(WAIT)
                .expect("c keeps it");
            say("kept");
            return cluster_support::park();
        }
        Some("d") => {
            join("d", false);
            let c = helio::get_actor::<Relay>("c").expect("find c");
            let started = Instant::now();
            let read = c
                .methods()
                .read_kept()
                .remote()
                .get_timeout(WAIT)
                .expect("c answers");
            let took = started.elapsed();
            match read {
                Err(err) if err.contains("OwnerDied") => {}
                other => panic!("expected OwnerDied, got {other:?}"),
            }
            // The node timeout (3 s) and 2 s more, at most.
            assert!(took < Duration::from_secs(5), "took {took:?}");
            say("done");
            return;
        }
        _ => {}
    }
    read_after_the_owner_is_killed(test, &["c"]);
}

#[test]
fn a_durable_value_outlives_its_owner_until_deleted() {
    let test = "a_durable_value_outlives_its_owner_until_deleted";
    match role().as_deref() {
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let c = helio::get_actor::<Relay>("c").expect("find c");
            // Deleted before anyone read it: reading it fails, and says why.
            let gone = helio::put_durable(vec![1_u8, 2, 3]).expect("stored");
            helio::delete_durable(&gone).expect("deleted");
            let err = gone.get_timeout(WAIT).expect_err("deleted");
            assert!(err.to_string().contains("cannot be read"), "{err}");
            let parcel = Parcel {
                label: "kept".into(),
                data: helio::put_durable(bytes(3 * MB)).expect("stored"),
            };
            c.methods()
                .keep()
                .remote(parcel)
                .get_timeout(WAIT)
                .expect("c keeps it");
            say("kept");
            return cluster_support::park();
        }
        Some("d") => {
            join("d", false);
            let c = helio::get_actor::<Relay>("c").expect("find c");
            let read = c
                .methods()
                .read_kept()
                .remote()
                .get_timeout(WAIT)
                .expect("c answers");
            assert_eq!(
                read,
                Ok(3 * MB as u64),
                "read from the store, its owner dead"
            );
            say("done");
            return;
        }
        _ => {}
    }
    read_after_the_owner_is_killed(test, &["c"]);
}

#[test]
fn a_borrower_killed_is_counted_out_once_found_dead() {
    let test = "a_borrower_killed_is_counted_out_once_found_dead";
    match role().as_deref() {
        Some("c") => return relay("c"),
        Some("a") => {
            join("a", false);
            let c = helio::get_actor::<Relay>("c").expect("find c");
            let parcel = Parcel {
                label: "held".into(),
                data: helio::put(bytes(1000)),
            };
            c.methods()
                .keep()
                .remote(parcel)
                .get_timeout(WAIT)
                .expect("c keeps it");
            assert_eq!(helio::object_stats().shared, 1, "c holds a ref");
            say("kept");
            // The parent kills c: its ref is counted out once c is found dead.
            until_nothing_shared();
            say("done");
            return;
        }
        _ => {}
    }
    let nats = Nats::start();
    let mut c = Proc::start(test, "c", &nats.url);
    c.expect("ready");
    let mut a = Proc::start(test, "a", &nats.url);
    a.expect("kept");
    c.kill();
    a.expect("done");
    a.succeeds();
}
