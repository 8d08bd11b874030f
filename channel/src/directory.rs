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

use crate::{named::NAMESPACE, seam::Hosted, types::ChannelStats};

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
                    stats: state.upgrade()?.stats(),
                })
            })
            .collect()
    }
}

type Listed = BTreeMap<String, (&'static str, Weak<dyn Hosted>)>;

fn hosted() -> MutexGuard<'static, Listed> {
    static HOSTED: LazyLock<Mutex<Listed>> = LazyLock::new(Default::default);
    HOSTED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lists `state` in this process's directory, when the constructor running now is a named
/// channel's (`name` is its actor's): a hook of the cluster part's seam (see `cluster.rs`).
pub(crate) fn on_start(state: &Arc<dyn Hosted>, name: Option<&str>) {
    let Some(name) = name.and_then(|n| n.strip_prefix(NAMESPACE)?.strip_prefix('/')) else {
        return;
    };
    hosted().insert(name.to_owned(), (state.item_type(), Arc::downgrade(state)));
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
