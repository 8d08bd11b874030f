//! The values the channel actor's methods return.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    fmt,
    sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError},
    time::SystemTime,
};

use serde::{Deserialize, Serialize};

/// What a channel operation came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done.
    Ok,
    /// No room (or not in time).
    Full,
    /// No item (or not in time).
    Empty,
    /// The channel is closed for this operation.
    Closed,
    /// The validator rejected an item.
    TypeError,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Full => "full",
            Status::Empty => "empty",
            Status::Closed => "closed",
            Status::TypeError => "type_error",
        })
    }
}

/// The result of a single get: `value` is `Some` exactly when `status` is `Ok`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SingleResult<T> {
    /// What the get came to.
    pub status: Status,
    /// The item.
    pub value: Option<T>,
}

/// The result of a batch get: `items` is non-empty exactly when `status` is `Ok`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult<T> {
    /// What the get came to.
    pub status: Status,
    /// The items, in channel order.
    pub items: Vec<T>,
}

/// A registered receiver, with its statistics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderInfo {
    /// The receiver's id.
    pub reader_id: String,
    /// Where the receiver runs.
    pub node_id: String,
    /// When it registered.
    pub registered_at: SystemTime,
    /// When it last got items.
    pub last_seen_at: SystemTime,
    /// How many items it got.
    pub total_received: u64,
}

/// A snapshot of the channel's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Registered senders.
    pub senders: usize,
    /// Registered receivers.
    pub receivers: usize,
    /// Items waiting.
    pub queue_size: usize,
    /// The capacity; `None` when unbounded.
    pub capacity: Option<usize>,
    /// Whether the last sender has deregistered.
    pub senders_closed: bool,
    /// Whether the last receiver has deregistered.
    pub receivers_closed: bool,
    /// When the channel was created.
    pub created_at: SystemTime,
    /// The most items ever waiting at once.
    pub high_watermark: usize,
    /// Items put in, in all.
    pub total_sent: u64,
    /// Items taken out, in all.
    pub total_received: u64,
}

/// A check every item must pass to enter the channel, standing in for a runtime type or
/// constraint check. Cloneable; `None` in the constructor accepts every item.
///
/// # Across processes
/// A closure cannot cross processes, and a channel's constructor arguments do whenever the
/// channel is created on, or restarted on, another node. So a validator that may travel is
/// made by name with [`Validator::named`], which also registers the check in this process:
/// make it the same way in every process that may host the channel, and a host finds the
/// check by name. Sending a [`Validator::new`] to another process fails (the actor's creation
/// reports it), and so does a name the host never registered for the item type.
///
/// ```
/// use helio_channel::Validator;
///
/// let even = Validator::named("even", |n: &u64| n.is_multiple_of(2));
/// assert!(even.accepts(&2) && !even.accepts(&3));
/// assert_eq!(even.name(), Some("even"));
/// ```
pub struct Validator<T> {
    check: Arc<dyn Fn(&T) -> bool + Send + Sync>,
    name: Option<Arc<str>>,
}

impl<T> Validator<T> {
    /// A validator accepting the items for which `check` returns `true`. It works in this
    /// process only; see [`named`](Self::named) for one that crosses processes.
    pub fn new(check: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        Validator {
            check: Arc::new(check),
            name: None,
        }
    }

    /// Whether `item` may enter the channel. A check that panics rejects the item: the put
    /// is `TypeError`, and the channel carries on.
    pub fn accepts(&self, item: &T) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.check)(item)))
            .unwrap_or(false)
    }

    /// The name it crosses processes by; `None` for [`new`](Self::new)'s.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<T: 'static> Validator<T> {
    /// A validator named `name`, accepting the items for which `check` returns `true`, and
    /// registered under that name (for items of type `T`) in this process, replacing any
    /// earlier one. It crosses processes as its name.
    pub fn named(name: &str, check: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        let validator = Validator {
            check: Arc::new(check),
            name: Some(Arc::from(name)),
        };
        let erased: Arc<dyn Any + Send + Sync> = Arc::new(validator.clone());
        validators().insert((TypeId::of::<T>(), name.to_owned()), erased);
        validator
    }

    /// The validator registered in this process as `name` for items of type `T`.
    fn registered(name: &str) -> Option<Self> {
        let erased = validators()
            .get(&(TypeId::of::<T>(), name.to_owned()))
            .cloned()?;
        erased.downcast_ref::<Validator<T>>().cloned()
    }
}

type Validators = HashMap<(TypeId, String), Arc<dyn Any + Send + Sync>>;

/// The named validators of this process, by item type and name.
fn validators() -> MutexGuard<'static, Validators> {
    static VALIDATORS: LazyLock<Mutex<Validators>> = LazyLock::new(Default::default);
    VALIDATORS.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Clone for Validator<T> {
    fn clone(&self) -> Self {
        Validator {
            check: Arc::clone(&self.check),
            name: self.name.clone(),
        }
    }
}

impl<T> fmt::Debug for Validator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "Validator({name:?})"),
            None => f.write_str("Validator(..)"),
        }
    }
}

impl<T> Serialize for Validator<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.name {
            Some(name) => serializer.serialize_str(name),
            None => Err(serde::ser::Error::custom(
                "a channel validator made with `Validator::new` cannot cross processes: make \
                 it with `Validator::named(name, check)` in every process that may host the \
                 channel",
            )),
        }
    }
}

impl<'de, T: 'static> Deserialize<'de> for Validator<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Validator::registered(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "no channel validator named `{name}` for items of type `{}` in this process: \
                 make it with `Validator::named(\"{name}\", ..)` here too",
                std::any::type_name::<T>()
            ))
        })
    }
}
