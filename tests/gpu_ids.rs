//! `helio::get_gpu_ids()`: which GPUs a task or actor holds, on a node of two GPUs. Every
//! test holds the node's GPUs, so they run one at a time; every wait is bounded.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, Once, mpsc},
    time::Duration,
};

use helio::prelude::*;

const BOUND: Duration = Duration::from_secs(20);

/// This process is a node with two GPUs; one test at a time holds them.
fn node() -> MutexGuard<'static, ()> {
    static INIT: Once = Once::new();
    static ONE: Mutex<()> = Mutex::new(());
    INIT.call_once(|| {
        helio_runtime::init(helio_runtime::Config::new().num_cpus(8.0).num_gpus(2.0))
            .expect("init");
    });
    ONE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a holder waits until the test lets it go.
#[derive(Clone)]
pub struct Gate(Arc<Mutex<mpsc::Receiver<()>>>);

impl Gate {
    fn new() -> (Gate, mpsc::Sender<()>) {
        let (open, gate) = mpsc::channel();
        (Gate(Arc::new(Mutex::new(gate))), open)
    }

    /// Waits for one opening, at most `BOUND`.
    fn pass(&self) {
        let opened = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv_timeout(BOUND);
        assert!(opened.is_ok(), "the test never opened the gate");
    }
}

/// Says which GPUs it holds, then waits at the gate.
#[remote(num_gpus = 1, num_cpus = 0)]
fn one_gpu(said: mpsc::Sender<Vec<u32>>, gate: Gate) -> Vec<u32> {
    let ids = helio::get_gpu_ids();
    let _ = said.send(ids.clone());
    gate.pass();
    ids
}

/// As `one_gpu`, with half a GPU.
#[remote(num_gpus = 0.5, num_cpus = 0)]
fn half_gpu(said: mpsc::Sender<Vec<u32>>, gate: Gate) -> Vec<u32> {
    let ids = helio::get_gpu_ids();
    let _ = said.send(ids.clone());
    gate.pass();
    ids
}

#[test]
fn two_whole_gpu_tasks_see_different_ids_and_a_third_waits_for_one() {
    let _node = node();
    let (said, heard) = mpsc::channel();
    let (gate, open) = Gate::new();
    let a = one_gpu.remote(said.clone(), gate.clone());
    let b = one_gpu.remote(said.clone(), gate.clone());
    let mut ids = vec![
        heard.recv_timeout(BOUND).expect("a first holder"),
        heard.recv_timeout(BOUND).expect("a second holder"),
    ];
    ids.sort();
    assert_eq!(ids, [[0], [1]]);
    // Both GPUs are held: the third waits (it must not start while they are).
    let c = one_gpu.remote(said, gate);
    assert!(heard.recv_timeout(Duration::from_millis(300)).is_err());
    open.send(()).expect("let one go");
    let freed = heard.recv_timeout(BOUND).expect("the third starts");
    open.send(()).expect("let the next go");
    open.send(()).expect("let the last go");
    let done: Vec<Vec<u32>> = [a, b, c]
        .into_iter()
        .map(|r| r.get_timeout(BOUND).expect("a GPU task"))
        .collect();
    assert_eq!(done[2], freed);
    // The one let go first handed its GPU to the third.
    assert!(done[..2].contains(&freed));
    assert!(helio::get_gpu_ids().is_empty(), "outside tasks and actors");
}

#[test]
fn four_half_gpu_tasks_share_the_two_gpus_two_by_two() {
    let _node = node();
    let (said, heard) = mpsc::channel();
    let (gate, open) = Gate::new();
    let refs: Vec<_> = (0..4)
        .map(|_| half_gpu.remote(said.clone(), gate.clone()))
        .collect();
    let mut shares: BTreeMap<u32, usize> = BTreeMap::new();
    for _ in 0..4 {
        let ids = heard.recv_timeout(BOUND).expect("all four run at once");
        assert_eq!(ids.len(), 1, "half a GPU is on one GPU: {ids:?}");
        *shares.entry(ids[0]).or_default() += 1;
    }
    assert_eq!(shares, BTreeMap::from([(0, 2), (1, 2)]));
    for _ in 0..4 {
        open.send(()).expect("let one go");
    }
    for r in refs {
        r.get_timeout(BOUND).expect("a half-GPU task");
    }
}

/// Holds a GPU while it lives.
pub struct Trainer;

#[actor(num_gpus = 1, num_cpus = 0)]
impl Trainer {
    pub fn new() -> Self {
        Trainer
    }

    /// The GPUs it holds, as `get_gpu_ids` and `runtime_context` say.
    #[remote_method]
    pub fn gpus(&self) -> (Vec<u32>, Vec<u32>) {
        let context = helio::runtime_context().actor.expect("in an actor");
        (helio::get_gpu_ids(), context.gpu_ids)
    }

    /// As `gpus`, from an async method.
    #[remote_method]
    pub async fn gpus_async(&self) -> Vec<u32> {
        helio::get_gpu_ids()
    }
}

#[test]
fn an_actor_holds_its_gpu_while_it_lives_and_gives_it_back_when_killed() {
    let _node = node();
    let first = Trainer::new_actor().remote();
    let second = Trainer::new_actor().remote();
    let (one, same) = first.methods().gpus().remote().get_timeout(BOUND).unwrap();
    assert_eq!(one, same);
    let two = second.methods().gpus_async().remote().get_timeout(BOUND);
    let two = two.unwrap();
    let mut both = vec![one.clone(), two];
    both.sort();
    assert_eq!(both, [[0], [1]]);
    // A task now waits for a GPU; the killed actor's goes to it.
    let (said, heard) = mpsc::channel();
    let (gate, open) = Gate::new();
    let task = one_gpu.remote(said, gate);
    helio::kill(&first, true);
    assert_eq!(heard.recv_timeout(BOUND).expect("the task gets a GPU"), one);
    open.send(()).expect("let it go");
    assert_eq!(task.get_timeout(BOUND), Ok(one));
    helio::kill(&second, true);
}
