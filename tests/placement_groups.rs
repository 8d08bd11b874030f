//! Placement groups in one process: bundles reserved from the node all or nothing, tasks and
//! actors scheduled into a bundle, each strategy, waiting and failing, removal. The node has
//! 4 CPUs and 2 GPUs; the tests hold them, so they run one at a time. Every wait is bounded.

use std::{
    sync::{Arc, Mutex, MutexGuard, Once, mpsc},
    time::Duration,
};

use helio::prelude::*;
use helio::{
    ActorState, Bundle, DeathCause, PlacementGroupError, PlacementGroupState, PlacementStrategy,
};

const BOUND: Duration = Duration::from_secs(20);

fn node() -> MutexGuard<'static, ()> {
    static INIT: Once = Once::new();
    static ONE: Mutex<()> = Mutex::new(());
    INIT.call_once(|| {
        helio_runtime::init(helio_runtime::Config::new().num_cpus(4.0).num_gpus(2.0))
            .expect("init");
    });
    ONE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn free(name: &str) -> f64 {
    helio::available_resources()
        .into_iter()
        .find(|(n, _)| n == name)
        .map_or(0.0, |(_, amount)| amount)
}

fn cpu_gpu(cpus: f64, gpus: f64) -> Bundle {
    Bundle::new().num_cpus(cpus).num_gpus(gpus)
}

/// Where a task waits until the test lets it go.
#[derive(Clone)]
pub struct Gate(Arc<Mutex<mpsc::Receiver<()>>>);

fn gate() -> (Gate, mpsc::Sender<()>) {
    let (open, gate) = mpsc::channel();
    (Gate(Arc::new(Mutex::new(gate))), open)
}

/// Says the GPUs it holds, then waits at the gate.
#[remote(num_cpus = 1)]
fn holds(said: mpsc::Sender<Vec<u32>>, gate: Gate) -> Vec<u32> {
    let ids = helio::get_gpu_ids();
    let _ = said.send(ids.clone());
    let opened = gate
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .recv_timeout(BOUND);
    assert!(opened.is_ok(), "the test never opened the gate");
    ids
}

#[remote(num_cpus = 1)]
fn one() -> u32 {
    1
}

#[test]
fn a_group_reserves_its_bundles_and_tasks_run_on_them() {
    let _node = node();
    let pg = helio::placement_group(
        [cpu_gpu(1.0, 1.0), cpu_gpu(1.0, 1.0)],
        PlacementStrategy::Pack,
    )
    .expect("a group that fits");
    pg.wait(BOUND).expect("reserved");
    assert_eq!(pg.state(), PlacementGroupState::Created);
    assert_eq!(pg.ready().get_timeout(BOUND), Ok(()));
    // The node lends the bundles to the group: 2 CPUs and both GPUs are taken.
    assert_eq!((free("CPU"), free("GPU")), (2.0, 0.0));
    // Each bundle has its own GPU; a task in a bundle holds it.
    let (said, heard) = mpsc::channel();
    let (gate_a, open) = gate();
    let in_bundle = |i| {
        TaskOptions::new()
            .num_gpus(1.0)
            .placement_group(&pg, Some(i))
    };
    let a = holds
        .options(in_bundle(0))
        .remote(said.clone(), gate_a.clone());
    let b = holds
        .options(in_bundle(1))
        .remote(said.clone(), gate_a.clone());
    let mut ids = vec![
        heard.recv_timeout(BOUND).unwrap(),
        heard.recv_timeout(BOUND).unwrap(),
    ];
    ids.sort();
    assert_eq!(ids, [[0], [1]]);
    // Bundle 0's one CPU is taken: a second task in it waits for the first.
    let c = holds
        .options(in_bundle(0))
        .remote(said.clone(), gate_a.clone());
    assert!(heard.recv_timeout(Duration::from_millis(300)).is_err());
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    for r in [a, b, c] {
        r.get_timeout(BOUND).expect("a task in a bundle");
    }
    // Any bundle with room.
    let anywhere = TaskOptions::new().placement_group(&pg, None);
    assert_eq!(one.options(anywhere).remote().get_timeout(BOUND), Ok(1));
    // More than a bundle has fails at once, naming it.
    let too_big = TaskOptions::new()
        .num_cpus(2.0)
        .placement_group(&pg, Some(0));
    let err = one
        .options(too_big)
        .remote()
        .get_timeout(BOUND)
        .unwrap_err();
    assert!(
        matches!(&err, ActorError::Unschedulable { shortfall, .. } if shortfall.contains("needs 2 CPU")),
        "{err}"
    );
    // A bundle the group does not have.
    let past = TaskOptions::new().placement_group(&pg, Some(2));
    let err = one.options(past).remote().get_timeout(BOUND).unwrap_err();
    assert!(err.to_string().contains("no bundle 2"), "{err}");
    helio::remove_placement_group(&pg);
    assert_eq!(pg.state(), PlacementGroupState::Removed);
    assert_eq!((free("CPU"), free("GPU")), (4.0, 2.0));
}

#[test]
fn every_strategy_places_a_group_that_fits_one_node() {
    let _node = node();
    for strategy in [
        PlacementStrategy::Pack,
        PlacementStrategy::Spread,
        PlacementStrategy::StrictPack,
    ] {
        let pg =
            helio::placement_group([cpu_gpu(1.0, 0.0), cpu_gpu(2.0, 0.5)], strategy).expect("fits");
        pg.wait(BOUND)
            .unwrap_or_else(|err| panic!("{strategy}: {err}"));
        assert_eq!(pg.strategy(), strategy);
        helio::remove_placement_group(&pg);
    }
    // One bundle spreads over one node.
    let pg = helio::placement_group([cpu_gpu(1.0, 0.0)], PlacementStrategy::StrictSpread)
        .expect("one bundle");
    pg.wait(BOUND).expect("one bundle, one node");
    helio::remove_placement_group(&pg);
}

#[test]
fn a_group_that_can_never_be_placed_fails_at_once_naming_the_bundle() {
    let _node = node();
    let err = helio::placement_group(
        [cpu_gpu(2.0, 0.0), cpu_gpu(2.0, 0.0), cpu_gpu(1.0, 0.0)],
        PlacementStrategy::Pack,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PlacementGroupError::Unplaceable { bundle: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bundle 2"), "{err}");
    let err = helio::placement_group([cpu_gpu(0.0, 3.0)], PlacementStrategy::Pack).unwrap_err();
    assert!(
        err.to_string().contains("needs 3 GPU, the node has 2"),
        "{err}"
    );
    let err = helio::placement_group(
        [cpu_gpu(1.0, 0.0), cpu_gpu(1.0, 0.0)],
        PlacementStrategy::StrictSpread,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PlacementGroupError::Unplaceable { bundle: 1, .. }),
        "{err}"
    );
    let empty: [Bundle; 0] = [];
    assert!(matches!(
        helio::placement_group(empty, PlacementStrategy::Pack),
        Err(PlacementGroupError::Invalid(_))
    ));
    assert!(matches!(
        helio::placement_group([Bundle::new()], PlacementStrategy::Pack),
        Err(PlacementGroupError::Invalid(_))
    ));
    assert!(matches!(
        helio::placement_group([Bundle::new().num_cpus(-1.0)], PlacementStrategy::Pack),
        Err(PlacementGroupError::Invalid(_))
    ));
}

#[test]
fn a_group_that_does_not_fit_now_waits_then_is_placed_when_room_frees() {
    let _node = node();
    let first =
        helio::placement_group([cpu_gpu(3.0, 0.0)], PlacementStrategy::StrictPack).expect("fits");
    first.wait(BOUND).expect("reserved");
    let second = helio::placement_group(
        [cpu_gpu(1.0, 0.0), cpu_gpu(1.0, 0.0)],
        PlacementStrategy::Pack,
    )
    .expect("fits the node");
    let err = second.wait(Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(&err, PlacementGroupError::Timeout { bundle: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("bundle 1 needs 1 CPU, 0 free now"),
        "{err}"
    );
    assert_eq!(second.state(), PlacementGroupState::Pending);
    let ready = second.ready();
    helio::remove_placement_group(&first);
    assert_eq!(ready.get_timeout(BOUND), Ok(()));
    assert_eq!(second.state(), PlacementGroupState::Created);
    helio::remove_placement_group(&second);
}

/// Holds a CPU of its bundle while it lives.
pub struct Resident;

#[actor]
impl Resident {
    pub fn new() -> Self {
        Resident
    }

    #[remote_method]
    pub fn ping(&self) -> u32 {
        7
    }
}

#[test]
fn removing_a_group_kills_its_actors_fails_its_waiters_and_frees_its_resources() {
    let _node = node();
    let pg = helio::placement_group([cpu_gpu(1.0, 0.0)], PlacementStrategy::Pack).expect("fits");
    let in_bundle = ActorOptions::new()
        .num_cpus(1.0)
        .placement_group(&pg, Some(0));
    let resident = Resident::new_actor().options(in_bundle.clone()).remote();
    assert_eq!(resident.methods().ping().remote().get_timeout(BOUND), Ok(7));
    assert_eq!(free("CPU"), 3.0);
    // A second actor waits for the bundle's CPU, and a task too.
    let second = Resident::new_actor().options(in_bundle).remote();
    let waiting = one
        .options(TaskOptions::new().placement_group(&pg, Some(0)))
        .remote();
    helio::remove_placement_group(&pg);
    let err = resident
        .methods()
        .ping()
        .remote()
        .get_timeout(BOUND)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ActorError::ActorDied {
                cause: DeathCause::Killed,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(resident.state(), ActorState::Dead(DeathCause::Killed));
    assert!(second.methods().ping().remote().get_timeout(BOUND).is_err());
    let err = waiting.get_timeout(BOUND).unwrap_err();
    assert!(err.to_string().contains("was removed"), "{err}");
    assert_eq!(free("CPU"), 4.0);
    // A task for the removed group fails at once.
    let late = one
        .options(TaskOptions::new().placement_group(&pg, None))
        .remote()
        .get_timeout(BOUND);
    assert!(late.unwrap_err().to_string().contains("was removed"));
}
