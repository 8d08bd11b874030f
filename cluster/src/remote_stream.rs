//! Streaming calls to an actor in another process.
//!
//! The host sends `item` frames with sequence numbers, then one `end` or `err` frame, never
//! more than the caller's window beyond what it has consumed. The caller grants credit
//! (`__credit`) as its consumer takes items, cancels (`__cancel`) when the stream is dropped
//! early, and fails the stream on a gap in the sequence: items are never lost silently.

use std::{any::Any, sync::Arc};

use async_nats::{StatusCode, message::OutboundMessage};
use bytes::Bytes;

use super::{
    calls::Sink,
    client::Link,
    wire::{self, VERB_CANCEL, VERB_CREDIT, WINDOW},
};
use crate::{
    ActorError,
    seam::{ActorId, ActorLabel, AnyFeed, Args, Item, Opening, Origin, StreamCall, Stub, Took},
};

impl Link {
    /// Calls the streaming method of `call`; `open` makes the caller's stream, whose items
    /// arrive here, `call.window` at most in flight.
    pub(crate) fn open_stream(
        &self,
        call: StreamCall<'_>,
        open: &mut dyn FnMut(Opening) -> Box<dyn AnyFeed>,
    ) {
        let StreamCall {
            actor,
            method,
            overrides,
            args,
            window,
        } = call;
        let window = window.max(1) as u64;
        let id = self.cluster.calls.reserve();
        let call = self.cluster.subjects.inbox(id);
        let origin = Origin {
            actor: actor.clone(),
            id: ActorId::of(self.record().node.as_u64(), self.record().id),
            method,
        };
        let consumer = {
            let cluster = Arc::downgrade(&self.cluster);
            let subject = self.subject.clone();
            let call = call.clone();
            let every = (window / 2).max(1);
            let mut consumed = 0u64;
            Box::new(move |took: Took| {
                let Some(cluster) = cluster.upgrade() else {
                    return;
                };
                let (verb, payload) = match took {
                    Took::Item => {
                        consumed += 1;
                        if !consumed.is_multiple_of(every) {
                            return;
                        }
                        (VERB_CREDIT, wire::encode(&(call.clone(), consumed)))
                    }
                    Took::Dropped => {
                        cluster.calls.remove_stream(id);
                        (VERB_CANCEL, wire::encode(&call))
                    }
                };
                if let Ok(payload) = payload {
                    cluster.control(&subject, verb, payload);
                }
            }) as Box<dyn FnMut(Took) + Send + Sync>
        };
        // Room for the window's items and the final frame.
        let feed = open(Opening {
            capacity: window as usize + 1,
            origin,
            consumer,
        });
        let Some(stub) = self.stubs.get(method).copied() else {
            let _ = feed.push(Item::Failed(ActorError::Wire {
                message: format!("`{method}` of actor {actor} is not a remote method here"),
            }));
            return;
        };
        let sink = stream_sink(actor.clone(), method, stub, feed);
        let host = self.watched_host();
        let sent = self.cluster.epochs.stamp(host);
        self.cluster.calls.insert_stream(id, host, sent, sink);
        if self.cluster.refuse_if_cut_off(id) {
            return;
        }
        let send = {
            let cluster = Arc::clone(&self.cluster);
            let subject = self.subject.clone();
            let mut headers = self.call_headers(method, &overrides);
            headers.insert(WINDOW, window.to_string().as_str());
            let actor = actor.clone();
            move |values: Result<Box<dyn Any + Send>, ActorError>| {
                let payload = values.and_then(|values| {
                    (stub.encode)(values).map_err(|err| ActorError::Wire {
                        message: format!("the arguments of `{method}` could not be encoded: {err}"),
                    })
                });
                match payload {
                    Ok(payload) => cluster.publish(OutboundMessage {
                        subject,
                        reply: Some(cluster.subjects.inbox(id).into()),
                        payload: Bytes::from(payload),
                        headers: Some(headers),
                    }),
                    Err(err) => {
                        tracing::debug!(%actor, %err, "stream not started");
                        cluster.calls.fail_stream(id, err);
                    }
                }
            }
        };
        match args {
            Args::Ready(values) => send(Ok(values)),
            Args::Pending(pending) => {
                let handle = self.cluster.handle.clone();
                handle.spawn(async move { send(pending.await) });
            }
        }
    }
}

/// Turns a stream's frames into its items, checking their sequence.
fn stream_sink(
    actor: ActorLabel,
    method: &'static str,
    stub: Stub,
    feed: Box<dyn AnyFeed>,
) -> Sink {
    let mut expected = 0u64;
    Box::new(move |message| {
        let fail = |err: ActorError| {
            let _ = feed.push(Item::Failed(err));
            true
        };
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            return fail(ActorError::ActorUnavailable {
                actor: actor.clone(),
                method,
                message: super::calls::NOT_SERVED.to_owned(),
            });
        }
        let header = |name: &str| wire::header(message, name);
        match header(wire::STATUS) {
            Some("item") => {
                let seq = header(wire::SEQ).and_then(|s| s.parse::<u64>().ok());
                if seq != Some(expected) {
                    return fail(ActorError::Wire {
                        message: format!(
                            "stream `{method}` of actor {actor} lost items: expected item \
                             {expected}, got {seq:?}"
                        ),
                    });
                }
                expected += 1;
                let item = (stub.decode)(&message.payload);
                match item {
                    Ok(item) => match feed.push(Item::Next(item)) {
                        Ok(()) => false,
                        Err(()) if feed.is_closed() => true,
                        Err(()) => fail(ActorError::Wire {
                            message: format!(
                                "stream `{method}` of actor {actor}: the host sent beyond its \
                                 credit"
                            ),
                        }),
                    },
                    Err(err) => fail(ActorError::Wire {
                        message: format!("an item of `{method}` could not be decoded: {err}"),
                    }),
                }
            }
            Some("end") => {
                let _ = feed.push(Item::End);
                true
            }
            status => match wire::read_reply(status, &message.payload, &actor, method) {
                Err(err) => fail(err),
                Ok(()) => fail(ActorError::Wire {
                    message: "a stream frame without a status".to_owned(),
                }),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use async_nats::HeaderMap;
    use futures::StreamExt;

    use super::*;
    use crate::seam::Codec;

    fn frame(status: &str, seq: u64, payload: Vec<u8>) -> async_nats::Message {
        let mut headers = HeaderMap::new();
        headers.insert(wire::STATUS, status);
        headers.insert(wire::SEQ, seq.to_string().as_str());
        async_nats::Message {
            subject: "helio.c.inbox.n.1".into(),
            reply: None,
            length: payload.len(),
            payload: Bytes::from(payload),
            headers: Some(headers),
            status: None,
            description: None,
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn item(n: u64) -> Vec<u8> {
        <crate::MsgPack as Codec<u64>>::encode(&n).unwrap()
    }

    fn sink() -> (helio_runtime::ObjectRefStream<u64>, Sink) {
        let (stream, feed) = crate::seam::fed_stream(8, None, Box::new(|_| {}));
        let stub = Stub {
            encode: crate::seam::encode_args::<crate::MsgPack, (u64,)>,
            decode: |bytes| Ok(Box::new(<crate::MsgPack as Codec<u64>>::decode(bytes)?)),
        };
        let sink = stream_sink(ActorLabel::new("Counter", None), "count", stub, feed);
        (stream, sink)
    }

    #[test]
    fn a_gap_in_a_stream_fails_it_instead_of_losing_items() {
        let (stream, mut sink) = sink();
        assert!(!sink(&frame("item", 0, item(10))));
        // Item 1 never came.
        assert!(sink(&frame("item", 2, item(12))));
        let items: Vec<_> = block_on(pin!(stream).collect());
        assert_eq!(items[0], Ok(10));
        assert!(
            matches!(&items[1], Err(ActorError::Wire { message }) if message.contains("lost items")),
            "{items:?}"
        );
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn a_stream_ends_with_its_end_frame() {
        let (stream, mut sink) = sink();
        assert!(!sink(&frame("item", 0, item(1))));
        assert!(!sink(&frame("item", 1, item(2))));
        assert!(sink(&frame("end", 2, Vec::new())));
        let items: Vec<_> = block_on(pin!(stream).collect());
        assert_eq!(items, [Ok(1), Ok(2)]);
    }
}
