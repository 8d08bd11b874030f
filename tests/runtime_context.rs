//! `helio::runtime_context()`: in a sync and an async task, in an actor's method and
//! constructor, after a restart, and outside both; and `cluster_resources()` /
//! `available_resources()` of this node.

use std::time::Duration;

use helio::prelude::*;

const BOUND: Duration = Duration::from_secs(20);

#[remote(num_cpus = 0.5)]
fn sync_context() -> helio::RuntimeContext {
    helio::runtime_context()
}

#[remote(num_cpus = 0)]
async fn async_context() -> helio::RuntimeContext {
    tokio::task::yield_now().await;
    helio::runtime_context()
}

pub struct Probe {
    /// What the constructor saw.
    at_start: Option<helio::ActorContext>,
}

#[actor(max_restarts = 1)]
impl Probe {
    pub fn new() -> Self {
        Probe {
            at_start: helio::runtime_context().actor,
        }
    }

    #[remote_method]
    pub fn context(&self) -> helio::RuntimeContext {
        helio::runtime_context()
    }

    #[remote_method]
    pub fn at_start(&self) -> Option<helio::ActorContext> {
        self.at_start.clone()
    }

    #[remote_method]
    pub fn crash(&self) {
        panic!("on purpose");
    }
}

/// The node of every test here (the first test to run starts it).
fn node() {
    let config = helio::Config::new()
        .resource("disk", 4.0)
        .resource("gauge", 3.0);
    // Another test of this binary may have started it already, with the same config.
    let _ = helio::init(config);
}

#[test]
fn a_task_sees_its_name_and_resources() {
    node();
    let context = sync_context
        .options(TaskOptions::new().num_cpus(0.5).resource("disk", 2.0))
        .remote()
        .get_timeout(BOUND)
        .expect("the sync task");
    let task = context.task.expect("in a task");
    assert!(task.name.ends_with("sync_context"), "{}", task.name);
    assert_eq!(
        task.resources,
        [("CPU".to_owned(), 0.5), ("disk".to_owned(), 2.0)]
    );
    assert_eq!(context.actor, None);
    let context = async_context
        .options(TaskOptions::new().name("renamed"))
        .remote()
        .get_timeout(BOUND)
        .expect("the async task");
    let task = context.task.expect("in a task");
    assert_eq!(task.name, "renamed");
    assert!(task.resources.is_empty(), "{:?}", task.resources);
}

#[test]
fn an_actor_sees_itself_and_its_restarts() {
    node();
    let probe = Probe::new_actor()
        .options(
            ActorOptions::new()
                .name("probe")
                .namespace("tests")
                .num_cpus(0.25),
        )
        .remote();
    let context = probe
        .methods()
        .context()
        .remote()
        .get_timeout(BOUND)
        .expect("a call");
    let actor = context.actor.expect("in an actor");
    assert_eq!(actor.id, probe.id());
    assert!(actor.type_name.ends_with("Probe"), "{}", actor.type_name);
    assert_eq!(actor.name, Some(("tests".to_owned(), "probe".to_owned())));
    assert_eq!(actor.resources, [("CPU".to_owned(), 0.25)]);
    assert!(!actor.was_reconstructed());
    assert_eq!(context.task, None);
    let at_start = probe.methods().at_start().remote().get_timeout(BOUND);
    assert_eq!(at_start.expect("a call").map(|a| a.id), Some(probe.id()));
    // After a crash, the restarted instance knows it.
    assert!(probe.methods().crash().remote().get_timeout(BOUND).is_err());
    let context = probe
        .methods()
        .context()
        .remote()
        .get_timeout(BOUND)
        .expect("a call after the restart");
    let actor = context.actor.expect("in an actor");
    assert_eq!(actor.restarts, 1);
    assert!(actor.was_reconstructed());
}

#[test]
fn outside_a_task_or_actor_the_context_says_so() {
    let context = helio::runtime_context();
    assert_eq!(context.actor, None);
    assert_eq!(context.task, None);
    assert_eq!(context.node, None, "not in cluster mode");
}

pub struct Holder;

#[actor]
impl Holder {
    pub fn new() -> Self {
        Holder
    }
}

/// The node's totals, and what is free while an actor holds part of a resource.
#[test]
fn cluster_and_available_resources_of_this_node() {
    node();
    let total = helio::cluster_resources();
    assert_eq!(total.get("gauge"), Some(&3.0));
    assert_eq!(total.get("disk"), Some(&4.0));
    assert!(
        total.get("CPU").is_some_and(|cpus| *cpus >= 1.0),
        "{total:?}"
    );
    assert_eq!(helio::available_resources().get("gauge"), Some(&3.0));
    let holder = Holder::new_actor()
        .options(ActorOptions::new().resource("gauge", 2.0))
        .remote();
    holder
        .ready()
        .get_timeout(BOUND)
        .expect("the holder starts");
    assert_eq!(helio::available_resources().get("gauge"), Some(&1.0));
    helio::kill(&holder, true);
    // Given back once the actor is dead: bounded, never a fixed sleep.
    let since = std::time::Instant::now();
    while helio::available_resources().get("gauge") != Some(&3.0) {
        assert!(
            since.elapsed() < BOUND,
            "the holder's gauge never came back"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(helio::cluster_resources().get("gauge"), Some(&3.0));
}
