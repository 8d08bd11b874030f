//! DAGs: `.bind(..)`, `InputNode`, `execute` and `MultiOutputNode` (sunray's `test_dag.py` and
//! Ray's DAG docs, as they apply to Rust).

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::get;
use helio::prelude::*;

#[remote]
fn func(src: u64, inc: u64) -> u64 {
    src + inc
}

#[remote]
fn times_two(x: u64) -> u64 {
    x * 2
}

#[remote]
fn plus_one(x: u64) -> u64 {
    x + 1
}

#[remote]
async fn sum(x: u64, y: u64) -> u64 {
    x + y
}

#[test]
fn bound_tasks_chain_without_an_input() {
    // Ray's docs: `func.bind(1, inc=2)`, then nodes as arguments.
    let a: DagNode<u64> = func.bind(1, 2);
    assert_eq!(get(a.execute(())), Ok(3));
    let b: DagNode<u64> = func.bind(&a, 3);
    assert_eq!(get(b.execute(())), Ok(6));
    let c: DagNode<u64> = func.bind(&b, &a);
    assert_eq!(get(c.execute(())), Ok(9));
}

#[test]
fn the_input_node_stands_for_what_execute_is_given() {
    let input = InputNode::<u64>::new();
    let a = times_two.bind(&input);
    let b = plus_one.bind(&input);
    let dag = sum.bind(&a, &b);
    assert_eq!(get(dag.execute(2)), Ok(7));
    assert_eq!(get(dag.execute(3)), Ok(10));
}

/// Ray's `dag.execute(ref)`: a ref as the input, which every input node waits for; an input
/// that fails fails the DAG with its error.
#[test]
fn execute_takes_a_ref_as_its_input() {
    let input = InputNode::<u64>::new();
    let a = times_two.bind(&input);
    let b = plus_one.bind(&input);
    let dag = sum.bind(&a, &b);
    assert_eq!(get(dag.execute(plus_one.remote(1))), Ok(7));
    let both = MultiOutputNode::new((a, b));
    let (doubled, inc) = both.execute(helio::put(3));
    assert_eq!((get(doubled), get(inc)), (Ok(6), Ok(4)));
    let failed: ObjectRef<u64> = ObjectRef::ready(Err(ActorError::AlreadyConsumed));
    assert_eq!(get(dag.execute(failed)), Err(ActorError::AlreadyConsumed));
}

static SHARED_RUNS: AtomicU32 = AtomicU32::new(0);

#[remote]
fn counted(x: u64) -> u64 {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_node_used_twice_runs_once_per_execute() {
    let input = InputNode::<u64>::new();
    let shared = counted.bind(input);
    let dag = sum.bind(times_two.bind(&shared), plus_one.bind(&shared));
    assert_eq!(get(dag.execute(5)), Ok(16));
    assert_eq!(SHARED_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(get(dag.execute(1)), Ok(4));
    assert_eq!(SHARED_RUNS.load(Ordering::SeqCst), 2);
}

#[test]
fn multiple_outputs_share_their_nodes() {
    let input = InputNode::<u64>::new();
    let doubled = times_two.bind(&input);
    let both = MultiOutputNode::new((doubled.clone(), plus_one.bind(&doubled)));
    let (a, b) = both.execute(4);
    assert_eq!((get(a), get(b)), (Ok(8), Ok(9)));
}

#[remote]
fn greet(name: String) -> String {
    format!("hello, {name}")
}

#[test]
fn refs_and_str_are_bound_values() {
    let dag: DagNode<String> = greet.bind("dag");
    assert_eq!(get(dag.execute(())).unwrap(), "hello, dag");
    let six = helio::put(6);
    let dag: DagNode<u64> = plus_one.bind(six);
    assert_eq!(get(dag.execute(())), Ok(7));
    assert_eq!(get(dag.execute(())), Ok(7));
}

#[remote]
fn boom(x: u64) -> u64 {
    panic!("boom {x}")
}

#[test]
fn a_failed_node_fails_the_nodes_that_use_it() {
    let input = InputNode::<u64>::new();
    let dag = plus_one.bind(boom.bind(&input));
    match get(dag.execute(1)) {
        Err(ActorError::TaskPanicked { message, .. }) => assert_eq!(message, "boom 1"),
        other => panic!("{other:?}"),
    }
}

pub struct Counter {
    value: u64,
}

#[actor]
impl Counter {
    pub fn new(start: u64) -> Self {
        Counter { value: start }
    }

    #[remote_method]
    pub fn inc(&mut self, by: u64) -> u64 {
        self.value += by;
        self.value
    }
}

#[test]
fn an_existing_actor_bound_in_a_dag_keeps_its_state_across_executes() {
    // sunray's `test_reuse_ray_actor_in_dag`.
    let counter = Counter::new_actor().remote(0);
    let input = InputNode::<u64>::new();
    let dag = counter.methods().inc().bind(&input);
    assert_eq!(get(dag.execute(1)), Ok(1));
    assert_eq!(get(dag.execute(2)), Ok(3));
    assert_eq!(get(counter.methods().inc().remote(0)), Ok(3));
}

#[test]
fn an_actor_bound_in_a_dag_is_created_on_each_execute() {
    let input = InputNode::<u64>::new();
    let counter = Counter::new_actor().bind(10);
    let inc = counter.method(|c| c.methods().inc().into_inner());
    // Both calls reach the same actor within one run.
    let dag = sum.bind(inc.bind(&input), inc.bind(1));
    // 11 and 12, in either order: one actor, two calls.
    assert_eq!(get(dag.execute(1)), Ok(23));
    // A new actor each run: the same result again, not 13 + 14.
    assert_eq!(get(dag.execute(1)), Ok(23));
    // Its constructor's arguments may be nodes too.
    let made = Counter::new_actor().bind(times_two.bind(&input));
    let dag = made.method(|c| c.methods().inc().into_inner()).bind(0);
    assert_eq!(get(dag.execute(21)), Ok(42));
}

/// sunray's `test_dag.py` actor: a total, with sync and async, `&self` and `&mut self` methods.
pub struct Tally {
    total: u64,
}

#[actor]
impl Tally {
    pub fn new(start: u64) -> Self {
        Tally { total: start }
    }

    #[remote_method]
    pub fn add(&mut self, x: u64) -> u64 {
        self.total += x;
        self.total
    }

    #[remote_method]
    pub fn get(&self) -> u64 {
        self.total
    }

    #[remote_method]
    pub async fn add_later(&mut self, x: u64) -> u64 {
        tokio::task::yield_now().await;
        self.total += x;
        self.total
    }

    #[remote_method]
    pub async fn scaled(&self, by: u64) -> u64 {
        self.total * by
    }
}

#[test]
fn a_dag_node_binds_its_actors_methods_as_the_handle_names_them() {
    // sunray: `a = Actor.new_actor().bind(10); dag = a.methods.add.bind(2)`.
    let a = Tally::new_actor().bind(10);
    let dag: DagNode<u64> = a.methods().add().bind(2);
    assert_eq!(get(dag.execute(())), Ok(12));
    // A new actor each run: 12 again, not 14.
    assert_eq!(get(dag.execute(())), Ok(12));
    // A method without arguments, and one whose argument is another method's node: both
    // reach the one actor of the run (Ray's `a.get.bind()` after `a.inc.bind(..)`).
    let total = a.methods().get().bind();
    assert_eq!(get(total.execute(())), Ok(10));
    let added = a.methods().add().bind(a.methods().get().bind());
    assert_eq!(get(added.execute(())), Ok(20));
}

#[test]
fn a_dag_node_method_binds_the_input_and_other_nodes() {
    let input = InputNode::<u64>::new();
    let a = Tally::new_actor().bind(10);
    // Bound to the input, then to a task's node; the result feeds a task.
    let added: DagNode<u64, u64> = a.methods().add().bind(&input);
    let dag = plus_one.bind(&added);
    assert_eq!(get(dag.execute(1)), Ok(12));
    assert_eq!(get(dag.execute(5)), Ok(16));
    let dag = a.methods().add().bind(times_two.bind(&input));
    assert_eq!(get(dag.execute(3)), Ok(16));
    // Ray's `combine.bind(a1.get.bind(), a2.inc.bind(6))`: two actors, one per node.
    let b = Tally::new_actor().bind(&input);
    let dag = func.bind(a.methods().get().bind(), b.methods().add().bind(6));
    assert_eq!(get(dag.execute(1)), Ok(17));
    // The constructor's argument is a node too; the closure form still works.
    let made = Tally::new_actor().bind(times_two.bind(&input));
    let dag = made.method(|c| c.methods().add().into_inner()).bind(0);
    assert_eq!(get(dag.execute(21)), Ok(42));
}

#[test]
fn a_dag_node_binds_async_methods() {
    let input = InputNode::<u64>::new();
    let a = Tally::new_actor().bind(10);
    // `async fn(&mut self)`, then `async fn(&self)` on its result: one actor per run.
    let added = a.methods().add_later().bind(&input);
    let dag = a.methods().scaled().bind(&added);
    // 10 + 2 = 12, then 12 * 12.
    assert_eq!(get(dag.execute(2)), Ok(144));
    assert_eq!(get(dag.execute(2)), Ok(144));
    // Per-call options, as on the handle's methods.
    let dag = a
        .methods()
        .add_later()
        .options(CallOptions::new().max_task_retries(1))
        .bind(&input);
    assert_eq!(get(dag.execute(5)), Ok(15));
}
