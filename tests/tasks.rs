//! Tasks: `#[remote]` fns, in one process (sunray's `test_remote.py`, as it applies to Rust),
//! with the node's CPU limit, retries and cancel.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use common::get;
use helio::prelude::*;
use tokio::sync::Semaphore;

/// The node's CPUs: helio's default is the core count.
fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, usize::from) as f64
}

#[remote]
fn double(x: u64) -> u64 {
    2 * x
}

/// Adds, asynchronously.
#[remote]
async fn add(a: u64, b: u64) -> u64 {
    tokio::task::yield_now().await;
    a + b
}

#[remote]
fn greet(name: String) -> String {
    format!("hello, {name}")
}

#[remote]
fn nothing() {}

#[remote]
fn pair(x: u64) -> (u64, String) {
    (x, x.to_string())
}

#[test]
fn a_sync_and_an_async_task_return_their_results() {
    assert_eq!(get(double.remote(21)), Ok(42));
    assert_eq!(get(add.remote(1, 2)), Ok(3));
    assert_eq!(get(nothing.remote()), Ok(()));
    assert_eq!(get(greet.remote("ray")).unwrap(), "hello, ray");
    assert_eq!(
        get(greet.remote(String::from("sun"))).unwrap(),
        "hello, sun"
    );
    assert!(
        double.name().ends_with("tasks::double"),
        "{}",
        double.name()
    );
}

#[test]
fn refs_are_arguments_and_tasks_chain() {
    let four = double.remote(2);
    let six = add.remote(four, 2);
    let twelve = double.remote(six);
    assert_eq!(get(twelve), Ok(12));
    // An argument that failed fails the task with its error, without running it.
    let failed = boom.remote(1);
    assert!(matches!(
        get(double.remote(failed)),
        Err(ActorError::TaskPanicked { .. })
    ));
}

#[test]
fn a_tuple_result_unpacks_into_refs() {
    let (n, s) = pair.remote(7).unpack();
    assert_eq!(get(n), Ok(7));
    assert_eq!(get(s).unwrap(), "7");
}

#[test]
fn tasks_await_from_async_code() {
    let got = common::block_on(async { add.remote(20, 22).await });
    assert_eq!(got, Ok(42));
}

#[test]
fn call_local_runs_the_plain_fn_without_a_task() {
    assert_eq!(double.call_local(21), 42);
    assert_eq!(greet.call_local("ray".to_owned()), "hello, ray");
    nothing.call_local();
    // An async fn's gives its future, `'static`: it may be spawned.
    let future = add.call_local(1, 2);
    assert_eq!(common::block_on(future), 3);
}

#[remote]
fn boom(x: u64) -> u64 {
    panic!("boom {x}")
}

#[test]
fn a_panic_resolves_to_task_panicked_naming_the_task() {
    match get(boom.remote(3)) {
        Err(err @ ActorError::TaskPanicked { .. }) => {
            let ActorError::TaskPanicked { actor, message, .. } = &err else {
                unreachable!()
            };
            assert!(actor.is_task());
            assert_eq!(message, "boom 3");
            let text = err.to_string();
            assert!(
                text.starts_with("task `") && text.ends_with("tasks::boom` panicked: boom 3"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A name from the options shows in errors.
    let named = boom.options(TaskOptions::new().name("resize"));
    let err = get(named.remote(1)).unwrap_err();
    assert!(err.to_string().contains("(named \"resize\")"), "{err}");
}

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

/// Panics on its first two runs.
#[remote(retry_on_panic = true, max_retries = 2)]
fn flaky(x: u64) -> u64 {
    if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) < 2 {
        panic!("not yet");
    }
    x
}

static FRAGILE_RUNS: AtomicU32 = AtomicU32::new(0);

/// Always panics.
#[remote]
fn fragile() -> u64 {
    FRAGILE_RUNS.fetch_add(1, Ordering::SeqCst);
    panic!("always")
}

#[test]
fn a_panic_is_retried_only_when_asked_and_within_max_retries() {
    assert_eq!(get(flaky.remote(5)), Ok(5));
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst), 3);
    // By default a panic is final: one run only.
    assert!(matches!(
        get(fragile.remote()),
        Err(ActorError::TaskPanicked { .. })
    ));
    assert_eq!(FRAGILE_RUNS.load(Ordering::SeqCst), 1);
    // Asked for, retried `max_retries` times and then final.
    let retried = fragile.options(TaskOptions::new().retry_on_panic(true).max_retries(2));
    assert!(matches!(
        get(retried.remote()),
        Err(ActorError::TaskPanicked { .. })
    ));
    assert_eq!(FRAGILE_RUNS.load(Ordering::SeqCst), 4);
}

/// Waits until `gate` has a permit, then says it ran.
#[remote]
async fn gated(gate: Arc<Semaphore>, ran: Arc<AtomicBool>) -> u32 {
    ran.store(true, Ordering::SeqCst);
    gate.acquire().await.expect("open").forget();
    7
}

/// Serializes the tests that fill the node's CPUs.
static WHOLE_NODE: Mutex<()> = Mutex::new(());

#[test]
fn at_most_the_nodes_cpus_of_tasks_run_at_once_and_zero_cpus_never_wait() {
    let _node = WHOLE_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let all = TaskOptions::new().num_cpus(cores());
    let (gate_a, ran_a) = (
        Arc::new(Semaphore::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (gate_b, ran_b) = (
        Arc::new(Semaphore::new(1)),
        Arc::new(AtomicBool::new(false)),
    );
    let a = gated
        .options(all.clone())
        .remote(gate_a.clone(), ran_a.clone());
    // `a` holds every CPU once it runs.
    let started = std::time::Instant::now();
    while !ran_a.load(Ordering::SeqCst) {
        assert!(
            started.elapsed() < common::BOUND,
            "the first task never ran"
        );
        std::thread::yield_now();
    }
    let b = gated.options(all).remote(gate_b, ran_b.clone());
    // A task with no CPUs runs meanwhile.
    let free = double.options(TaskOptions::new().num_cpus(0.0)).remote(4);
    assert_eq!(get(free), Ok(8));
    // `b` waits for `a`'s CPUs: it has not started a while later.
    let (ready, _) = helio::wait_blocking(
        std::slice::from_ref(&b),
        1,
        Some(Duration::from_millis(300)),
    );
    assert!(
        ready.is_empty() && !ran_b.load(Ordering::SeqCst),
        "b ran beside a"
    );
    gate_a.add_permits(1);
    assert_eq!(get(a), Ok(7));
    assert_eq!(get(b), Ok(7));
    assert!(ran_b.load(Ordering::SeqCst));
}

/// Sums `double` of `0..n`, each as a subtask it waits for with `helio::get`.
#[remote]
fn fan_out(n: u64) -> u64 {
    (0..n)
        .map(|i| helio::get(double.remote(i)).expect("a subtask"))
        .sum()
}

#[test]
fn a_sync_task_blocked_in_get_lends_its_cpus_to_its_subtasks() {
    let _node = WHOLE_NODE.lock().unwrap_or_else(|e| e.into_inner());
    // The parent holds every CPU; its subtasks need one each.
    let parent = fan_out.options(TaskOptions::new().num_cpus(cores()));
    assert_eq!(get(parent.remote(4)), Ok(12));
}

#[test]
fn a_demand_no_node_can_meet_fails_at_once_naming_the_resource() {
    let too_many = double.options(TaskOptions::new().num_cpus(cores() + 1.0));
    match get(too_many.remote(1)) {
        Err(err @ ActorError::Unschedulable { .. }) => {
            let text = err.to_string();
            assert!(text.contains("can never run: it needs"), "{text}");
            assert!(text.contains("CPU"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let ssd = double.options(TaskOptions::new().resource("ssd", 1.0));
    let err = get(ssd.remote(1)).unwrap_err();
    assert!(
        err.to_string().contains("needs 1 ssd, the node has none"),
        "{err}"
    );
    let gpu = double.options(TaskOptions::new().num_gpus(1.0));
    assert!(matches!(
        get(gpu.remote(1)),
        Err(ActorError::Unschedulable { .. })
    ));
}

#[test]
fn invalid_options_fail_the_task_with_a_clear_message() {
    let negative = double.options(TaskOptions::new().num_cpus(-1.0));
    let err = get(negative.remote(1)).unwrap_err();
    assert!(
        matches!(
            &err,
            ActorError::ActorDied {
                cause: DeathCause::InvalidOptions(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("was never started"), "{err}");
    let retries = flaky.options(TaskOptions::new().max_retries(-2));
    let err = get(retries.remote(1)).unwrap_err();
    assert!(err.to_string().contains("max_retries"), "{err}");
}

#[test]
fn a_running_async_task_and_a_queued_one_are_cancelled() {
    let _node = WHOLE_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let (gate, ran) = (
        Arc::new(Semaphore::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let running = gated
        .options(TaskOptions::new().num_cpus(cores()))
        .remote(gate.clone(), ran.clone());
    let started = std::time::Instant::now();
    while !ran.load(Ordering::SeqCst) {
        assert!(started.elapsed() < common::BOUND, "the task never ran");
        std::thread::yield_now();
    }
    // Queued behind it: cancelled before it runs.
    let queued_ran = Arc::new(AtomicBool::new(false));
    let queued = gated
        .options(TaskOptions::new().num_cpus(cores()))
        .remote(Arc::new(Semaphore::new(1)), queued_ran.clone());
    assert!(queued.cancel());
    assert!(matches!(get(queued), Err(ActorError::Cancelled { .. })));
    // Running: dropped at its await point.
    assert!(running.cancel());
    assert!(matches!(get(running), Err(ActorError::Cancelled { .. })));
    // Its CPUs are free again: a task that needs them all runs.
    assert_eq!(
        get(double
            .options(TaskOptions::new().num_cpus(cores()))
            .remote(1)),
        Ok(2)
    );
    assert!(!queued_ran.load(Ordering::SeqCst), "a cancelled task ran");
}

pub struct Holder;

#[actor]
impl Holder {
    pub fn new() -> Self {
        Holder
    }

    #[remote_method]
    pub fn ping(&self) -> u8 {
        1
    }
}

#[test]
fn an_actor_asking_for_what_the_node_lacks_dies_at_once() {
    let gpu = Holder::new_actor()
        .options(ActorOptions::new().num_gpus(1.0))
        .remote();
    match get(gpu.methods().ping().remote()) {
        Err(err @ ActorError::ActorDied { .. }) => {
            assert!(
                matches!(
                    &err,
                    ActorError::ActorDied {
                        cause: DeathCause::Unschedulable(_),
                        ..
                    }
                ),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains("needs 1 GPU, the node has none"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_actor_holds_its_cpus_while_it_lives_and_a_second_waits_for_them() {
    let _node = WHOLE_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let all = ActorOptions::new().num_cpus(cores());
    let first = Holder::new_actor().options(all.clone()).remote();
    assert_eq!(get(first.methods().ping().remote()), Ok(1));
    // While it lives, a task needing a CPU and a second such actor wait.
    let task = double.remote(1);
    let second = Holder::new_actor().options(all.clone()).remote();
    let pinged = second.methods().ping().remote();
    let waits = |r: &ObjectRef<u8>| {
        helio::wait_blocking(std::slice::from_ref(r), 1, Some(Duration::from_millis(300)))
            .0
            .is_empty()
    };
    assert!(waits(&pinged), "a second actor started beside the first");
    let (ready, _) = helio::wait_blocking(
        std::slice::from_ref(&task),
        1,
        Some(Duration::from_millis(300)),
    );
    assert!(
        ready.is_empty(),
        "a task ran beside an actor holding every CPU"
    );
    helio::kill(&first, true);
    assert_eq!(get(pinged), Ok(1));
    // Now the second holds them: the task waits for it too.
    helio::kill(&second, true);
    assert_eq!(get(task), Ok(2));
    // A third gives up after its `resource_timeout`.
    let third = Holder::new_actor().options(all.clone()).remote();
    assert_eq!(get(third.methods().ping().remote()), Ok(1));
    let impatient = Holder::new_actor()
        .options(all.resource_timeout(Duration::from_millis(100)))
        .remote();
    let err = get(impatient.methods().ping().remote()).unwrap_err();
    assert!(err.to_string().contains("resource_timeout"), "{err}");
    helio::kill(&third, true);
}

/// Waits until `gate` opens (a permit per task), and says so.
#[remote]
async fn meet(gate: Arc<Semaphore>, arrived: Arc<AtomicU32>) -> u32 {
    arrived.fetch_add(1, Ordering::SeqCst);
    gate.acquire().await.expect("open").forget();
    1
}

#[test]
fn get_all_starts_every_task_of_a_lazy_iterator_before_it_waits() {
    // Each task waits until all have arrived: taken one at a time, the first would wait forever.
    let arrived = Arc::new(AtomicU32::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let opener = std::thread::spawn({
        let (arrived, gate) = (arrived.clone(), gate.clone());
        move || {
            // Opens the gate once all three arrived, or after the bound (and says so).
            let started = std::time::Instant::now();
            while arrived.load(Ordering::SeqCst) < 3 && started.elapsed() < common::BOUND {
                std::thread::yield_now();
            }
            let all = arrived.load(Ordering::SeqCst) == 3;
            gate.add_permits(3);
            all
        }
    });
    let free = meet.options(TaskOptions::new().num_cpus(0.0));
    let got = helio::get_all((0..3).map(|_| free.remote(gate.clone(), arrived.clone())));
    assert_eq!(got, Ok(vec![1, 1, 1]));
    assert!(
        opener.join().expect("the opener"),
        "get_all waited for the first task before starting the next"
    );
}

/// Yields `1..=n`.
#[remote]
fn count_to(n: u64) -> impl helio::stream::Stream<Item = u64> + Send + 'static {
    helio::stream::stream::iter(1..=n)
}

/// Yields `n` copies of `word`, after an await.
#[remote]
async fn repeat(word: String, n: usize) -> helio::stream::BoxStream<'static, String> {
    tokio::task::yield_now().await;
    use helio::stream::StreamExt;
    helio::stream::stream::iter(std::iter::repeat_n(word, n)).boxed()
}

/// Yields 1, then panics.
#[remote]
fn breaks() -> impl helio::stream::Stream<Item = u64> + Send + 'static {
    use helio::stream::StreamExt;
    helio::stream::stream::iter([1, 2]).map(|x| if x == 2 { panic!("broke at {x}") } else { x })
}

#[test]
fn a_streaming_task_gives_its_items_as_they_come() {
    let items: Vec<u64> = count_to
        .remote(3)
        .blocking_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(items, [1, 2, 3]);
    let words: Vec<String> = repeat
        .remote("hi", 2)
        .blocking_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(words, ["hi", "hi"]);
    // From async code, with an argument that is a ref.
    let collected = common::block_on(async {
        use helio::stream::StreamExt;
        count_to.remote(double.remote(2)).collect::<Vec<_>>().await
    });
    assert_eq!(collected.len(), 4);
    // A panic after the first item ends the stream with `TaskPanicked`.
    let mut broken = breaks.remote().blocking_iter();
    assert_eq!(broken.next(), Some(Ok(1)));
    match broken.next() {
        Some(Err(ActorError::TaskPanicked { message, .. })) => assert_eq!(message, "broke at 2"),
        other => panic!("{other:?}"),
    }
    assert_eq!(broken.next(), None);
}

#[test]
fn a_task_waits_for_its_resources_at_most_its_resource_timeout() {
    let _node = WHOLE_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let (gate, ran) = (
        Arc::new(Semaphore::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let holder = gated
        .options(TaskOptions::new().num_cpus(cores()))
        .remote(gate.clone(), ran.clone());
    let started = std::time::Instant::now();
    while !ran.load(Ordering::SeqCst) {
        assert!(started.elapsed() < common::BOUND, "the holder never ran");
        std::thread::yield_now();
    }
    let impatient = double.options(
        TaskOptions::new()
            .num_cpus(1.0)
            .resource_timeout(Duration::from_millis(100)),
    );
    match get(impatient.remote(1)) {
        Err(ActorError::ActorUnavailable { message, .. }) => {
            assert!(message.contains("resource_timeout"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    gate.add_permits(1);
    assert_eq!(get(holder), Ok(7));
}

/// Counts down `depth` levels, each a sync subtask its parent waits for in `helio::get`.
#[remote(num_cpus = 0)]
fn chain(depth: u32) -> u32 {
    match depth {
        0 => 0,
        // Inside its body, `chain` is the fn itself; the handle is `crate::chain`.
        _ => helio::get(crate::chain.remote(depth - 1)).expect("a subtask") + 1,
    }
}

#[test]
fn a_chain_of_sync_tasks_deeper_than_the_workers_finishes() {
    // Each level blocks a thread in `get` until the level below it returns: far more levels
    // than the runtime has workers.
    assert_eq!(get(chain.remote(24)), Ok(24));
}

/// Every party of `meeting` arrives and waits (at most 20 s) until all have; whether they
/// all did in time.
#[remote(num_cpus = 0)]
fn rendezvous(meeting: Arc<(Mutex<usize>, std::sync::Condvar)>, parties: usize) -> bool {
    let (arrived, all_here) = &*meeting;
    let mut arrived = arrived.lock().unwrap_or_else(|e| e.into_inner());
    *arrived += 1;
    all_here.notify_all();
    let (arrived, waited) = all_here
        .wait_timeout_while(arrived, Duration::from_secs(20), |arrived| {
            *arrived < parties
        })
        .unwrap_or_else(|e| e.into_inner());
    drop(arrived);
    !waited.timed_out()
}

#[test]
fn sync_tasks_blocked_outside_helio_still_run_side_by_side() {
    // Each blocks on a plain condvar until all have started: they all must run at once,
    // far more of them than the runtime has workers.
    const PARTIES: usize = 12;
    let meeting = Arc::new((Mutex::new(0), std::sync::Condvar::new()));
    let parties: Vec<_> = (0..PARTIES)
        .map(|_| rendezvous.remote(meeting.clone(), PARTIES))
        .collect();
    for party in parties {
        assert_eq!(
            get(party),
            Ok(true),
            "a party waited for the others in vain"
        );
    }
}
