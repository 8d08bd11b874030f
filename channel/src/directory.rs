//! Which channels each process hosts, for `helio status` (feature `cluster`).
//!
//! A channel's item type is known to its own processes only, so a tool that knows no item
//! type cannot call a channel's `stats`. Instead every process that registers a channel type
//! runs one [`ChannelDirectory`] actor, named after its node in [`DIRECTORY_NAMESPACE`], which
//! reports the counters of every named channel hosted there.

use std::{
    collections::BTreeMap,
    sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak},
};

use helio::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    actor::{Message, RayChannelActor},
    named::NAMESPACE,
    state::State,
    types::ChannelStats,
};

/// The namespace of the directory actors, one per process: `node-<node id>`.
pub const DIRECTORY_NAMESPACE: &str = "helio-channel-directory";

/// One named channel, as its host reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelReport {
    /// The channel's name.
    pub name: String,
    /// Its item type.
    pub item_type: String,
    /// Its counters.
    pub stats: ChannelStats,
}

/// The actor that reports the named channels of its process: see the module docs. Find them
/// with `helio::list_actors()` in [`DIRECTORY_NAMESPACE`].
///
/// ```no_run
/// use helio_channel::{ChannelDirectory, DIRECTORY_NAMESPACE};
///
/// for actor in helio::list_actors() {
///     if actor.namespace == DIRECTORY_NAMESPACE {
///         let directory = helio::get_actor_in::<ChannelDirectory>(DIRECTORY_NAMESPACE, &actor.name)?;
///         for channel in helio::get(directory.methods().channels().remote())? {
///             println!("{} queued {}", channel.name, channel.stats.queue_size);
///         }
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChannelDirectory;

#[actor(max_concurrency = 16)]
impl ChannelDirectory {
    /// The directory of this process.
    pub fn new() -> Self {
        ChannelDirectory
    }

    /// The named channels this process hosts, by name.
    #[remote_method]
    pub fn channels(&self) -> Vec<ChannelReport> {
        let mut hosted = hosted();
        hosted.retain(|_, (_, state)| state.strong_count() > 0);
        hosted
            .iter()
            .filter_map(|(name, (item_type, state))| {
                Some(ChannelReport {
                    name: name.clone(),
                    item_type: (*item_type).to_owned(),
                    stats: state.upgrade()?.report(),
                })
            })
            .collect()
    }
}

/// What the directory needs of a channel's state, whatever its item type.
pub(crate) trait Report: Send + Sync {
    fn report(&self) -> ChannelStats;
}

impl<T: Send + 'static> Report for State<T> {
    fn report(&self) -> ChannelStats {
        self.stats()
    }
}

type Hosted = BTreeMap<String, (&'static str, Weak<dyn Report>)>;

fn hosted() -> MutexGuard<'static, Hosted> {
    static HOSTED: LazyLock<Mutex<Hosted>> = LazyLock::new(Default::default);
    HOSTED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lists `state` in this process's directory, when the constructor running now is a named
/// channel's.
pub(crate) fn list<T: Message>(state: &Arc<State<T>>) {
    let Some(me) = helio::current_actor::<RayChannelActor<T>>() else {
        return;
    };
    let label_name = me.label().name();
    let Some(name) = label_name.and_then(|n| n.strip_prefix(NAMESPACE)?.strip_prefix('/')) else {
        return;
    };
    let state: Arc<dyn Report> = Arc::clone(state) as Arc<dyn Report>;
    hosted().insert(
        name.to_owned(),
        (std::any::type_name::<T>(), Arc::downgrade(&state)),
    );
    open_for_host();
}

/// Starts this process's directory, once it is in a cluster; does nothing before
/// `helio::init` joins one (a later call opens it).
pub(crate) fn open() {
    // Held for the life of the process: the directory lives as long as its process.
    static OPEN: Mutex<Option<Actor<ChannelDirectory>>> = Mutex::new(None);
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if open.is_some() {
        return;
    }
    helio::register::<ChannelDirectory>();
    let Some(node) = helio::current_node() else {
        return;
    };
    let options = ActorOptions::new()
        .name(format!("node-{node}"))
        .namespace(DIRECTORY_NAMESPACE)
        .get_if_exists(true);
    *open = Some(ChannelDirectory::new_actor().options(options).remote());
}

/// Opens the directory of a process that hosts a named channel, whichever way its item type
/// was registered (`helio_channel::register::<T>()`, or `helio::register` of the channel's
/// actor type). On a thread of its own: creating the directory claims its name in the
/// cluster, a wait that a constructor must not make.
fn open_for_host() {
    static ASKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if helio::current_node().is_none() || ASKED.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("helio-channel-directory".to_owned())
        .spawn(open);
    if let Err(err) = spawned {
        tracing::warn!(%err, "the channel directory did not open: `helio status` will not list this process's channels");
    }
}
