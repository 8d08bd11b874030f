//! What a subscription brings, in order, each message whole: a batch is split, and a message
//! whose payload its sender holds (`objects.rs`) is fetched (`fetch.rs`) before it and the
//! messages after it are handed on.
//!
//! Every reader of calls, replies, tasks and spawn requests takes its messages through an
//! [`Intake`]. Fetches run side by side while the subscription is still read (it is never
//! left to fill up); what comes after a message being fetched waits for it, so that order is
//! kept (calls from one handle, items of a stream). A fetch that fails answers for its
//! message: a request gets the error as its reply, a reply or stream frame becomes the error.

use std::{
    collections::VecDeque,
    sync::{Arc, Weak},
    task::{Context, Poll},
};

use async_nats::Message;
use bytes::Bytes;
use futures::{
    Stream, StreamExt,
    future::{BoxFuture, poll_fn},
    stream::FuturesOrdered,
};

use super::{
    Cluster, batch, fetch,
    objects::Spilled,
    wire::{self, Failure, STATUS},
};

/// A subscription's messages, in order, each whole.
pub(crate) struct Intake {
    cluster: Weak<Cluster>,
    /// Messages ready, before anything being fetched.
    ready: VecDeque<Message>,
    /// From the first message being fetched on, in order (`None`: it failed and answered).
    waiting: FuturesOrdered<BoxFuture<'static, Option<Message>>>,
    /// The subscription ended.
    ended: bool,
}

impl Intake {
    /// An intake for a subscription of `cluster`'s.
    pub(crate) fn new(cluster: Weak<Cluster>) -> Self {
        Intake {
            cluster,
            ready: VecDeque::new(),
            waiting: FuturesOrdered::new(),
            ended: false,
        }
    }

    /// Takes one message as it came off the subscription.
    pub(crate) fn push(&mut self, message: Message) {
        for message in batch::split(message) {
            let spilled = Spilled::of(&message);
            match spilled {
                None if self.waiting.is_empty() => self.ready.push_back(message),
                None => self
                    .waiting
                    .push_back(Box::pin(async move { Some(message) })),
                Some(spilled) => {
                    let Some(cluster) = self.cluster.upgrade() else {
                        return;
                    };
                    self.waiting
                        .push_back(Box::pin(whole(cluster, message, spilled)));
                }
            }
        }
    }

    /// The next whole message, reading `sub` meanwhile; `None` once `sub` ended and every
    /// message it brought was handed on.
    pub(crate) fn poll_next<S>(
        &mut self,
        cx: &mut Context<'_>,
        sub: &mut S,
    ) -> Poll<Option<Message>>
    where
        S: Stream<Item = Message> + Unpin,
    {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Poll::Ready(Some(message));
            }
            while let Poll::Ready(Some(fetched)) = self.waiting.poll_next_unpin(cx) {
                if let Some(message) = fetched {
                    return Poll::Ready(Some(message));
                }
            }
            if self.ended {
                return if self.waiting.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
            match sub.poll_next_unpin(cx) {
                Poll::Ready(Some(message)) => self.push(message),
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The next whole message (see [`poll_next`](Intake::poll_next)).
    pub(crate) async fn next<S>(&mut self, sub: &mut S) -> Option<Message>
    where
        S: Stream<Item = Message> + Unpin,
    {
        poll_fn(|cx| self.poll_next(cx, sub)).await
    }
}

/// `message` with its payload fetched, or `None` when the fetch failed and was answered.
async fn whole(
    cluster: Arc<Cluster>,
    mut message: Message,
    spilled: Result<Spilled, String>,
) -> Option<Message> {
    let fetched = match spilled {
        Ok(spilled) => fetch::fetch(&cluster, spilled).await.map_err(|why| {
            format!(
                "a value of {} bytes could not be fetched: {why}",
                spilled.len
            )
        }),
        Err(why) => Err(why),
    };
    match fetched {
        Ok(payload) => {
            message.length = payload.len();
            message.payload = payload;
            Some(message)
        }
        Err(why) => {
            tracing::warn!(%why, subject = %message.subject, "a message could not be read whole");
            failed(&cluster, message, why)
        }
    }
}

/// Answers for a message whose payload could not be fetched: a request gets the error as its
/// reply; a reply or stream frame becomes the error.
fn failed(cluster: &Cluster, mut message: Message, why: String) -> Option<Message> {
    if let Some(reply) = message.reply.take() {
        cluster.reply(reply, Err(Failure::Wire(why)));
        return None;
    }
    wire::header(&message, STATUS)?;
    let mut headers = message.headers.unwrap_or_default();
    headers.insert(STATUS, "err");
    let payload = Bytes::from(wire::encode(&Failure::Wire(why)).unwrap_or_default());
    Some(Message {
        length: payload.len(),
        payload,
        headers: Some(headers),
        ..message
    })
}
