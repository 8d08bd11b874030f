//! What flows from a stream's producer to its consumer: [`Item`]s, and for a stream fed from
//! another process, the [`Feed`] that pushes them and what the consumer reports back
//! ([`Took`]).

use std::{any::Any, sync::Arc};

use futures::task::AtomicWaker;
use tokio::sync::mpsc;

use crate::ActorError;

/// What the pump sends: an item, the error that ends the stream, or its end.
pub enum Item<X> {
    /// The next item.
    Next(X),
    /// The error that ends the stream.
    Failed(ActorError),
    /// The end.
    End,
}

/// What a stream fed from another process reports to its feeder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Took {
    /// The consumer took an item.
    Item,
    /// The consumer dropped the stream before its end.
    Dropped,
}

/// The feeding end of a stream whose items come from another process.
pub(crate) struct Feed<X> {
    pub(crate) tx: mpsc::Sender<Item<X>>,
    pub(crate) ready: Arc<AtomicWaker>,
}

impl<X> Feed<X> {
    /// Queues an item without waiting; `Err` when the stream is full (the feeder broke its
    /// credit) or the consumer is gone.
    pub(crate) fn push(&self, item: Item<X>) -> Result<(), ()> {
        let pushed = self.tx.try_send(item).map_err(drop);
        self.ready.wake();
        pushed
    }

    /// Whether the consumer dropped the stream.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<X: Send + 'static> AnyFeed for Feed<X> {
    fn push(&self, item: Item<Box<dyn Any + Send>>) -> Result<(), ()> {
        let item = match item {
            Item::Next(value) => match value.downcast::<X>() {
                Ok(value) => Item::Next(*value),
                Err(_) => Item::Failed(ActorError::Wire {
                    message: "internal: a stream item of another type".to_owned(),
                }),
            },
            Item::Failed(err) => Item::Failed(err),
            Item::End => Item::End,
        };
        Feed::push(self, item)
    }

    fn is_closed(&self) -> bool {
        Feed::is_closed(self)
    }
}

/// The feeding end of a stream, erased: items arrive boxed and are checked to be the
/// stream's item type.
pub trait AnyFeed: Send + Sync {
    /// Queues an item without waiting; `Err` when the stream is full (the feeder broke its
    /// credit) or the consumer is gone. An item of another type ends the stream with an error.
    #[allow(clippy::result_unit_err)]
    fn push(&self, item: Item<Box<dyn Any + Send>>) -> Result<(), ()>;

    /// Whether the consumer dropped the stream.
    fn is_closed(&self) -> bool;
}
