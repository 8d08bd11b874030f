//! Coalescing: many small messages to one destination travel as one NATS message.
//!
//! Under load the writer finds many messages queued at once. Those for one actor's subject
//! (calls, credits, cancels), or for one process's inbox (replies, stream frames), are sent as
//! one *batch*: a message with the `Helio-Batch` header whose payload holds each message's
//! subject, reply subject, headers and payload. The receiver splits it and handles each as if
//! it had come alone, in order. A batch of calls carries the reply subject of its first call,
//! so that "no responders" still reaches the caller, which then fails the whole batch.
//!
//! Entry layout, all lengths big-endian: `u16` subject length, subject, `u16` reply length
//! (0: none), reply, `u16` header count, per header `u16` name length, name, `u16` value
//! length, value, then `u32` payload length and payload.

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::{BufMut, Bytes, BytesMut};

use super::wire::{CODEC, CODEC_ID};
use crate::seam::WireError;

/// Header: the message is a batch of this many messages.
pub(crate) const BATCH: &str = "Helio-Batch";

/// The destination a message is coalesced by: its subject, or for an inbox subject
/// (`helio.<cluster>.inbox.<node>.<id>`) the inbox itself.
pub(crate) fn route(subject: &str) -> &str {
    super::subjects::inbox_of(subject).unwrap_or(subject)
}

/// The subject a batch for `route` is sent to.
pub(crate) fn batch_subject(route: &str, first: &str) -> String {
    if route == first {
        route.to_owned()
    } else {
        format!("{route}.batch")
    }
}

fn put_str(out: &mut BytesMut, s: &str) -> Result<(), WireError> {
    let len = u16::try_from(s.len()).map_err(|_| WireError(format!("a {}-byte name", s.len())))?;
    out.put_u16(len);
    out.put_slice(s.as_bytes());
    Ok(())
}

/// Encodes `messages` (for one route) as one batch message to `subject`.
pub(crate) fn encode(
    subject: String,
    messages: &[OutboundMessage],
) -> Result<OutboundMessage, WireError> {
    let size: usize = messages.iter().map(|m| m.payload.len() + 128).sum();
    let mut out = BytesMut::with_capacity(size);
    for message in messages {
        put_str(&mut out, &message.subject)?;
        put_str(&mut out, message.reply.as_deref().unwrap_or(""))?;
        let headers: Vec<(&str, &str)> = message
            .headers
            .iter()
            .flat_map(|headers| headers.iter())
            .flat_map(|(name, values)| values.iter().map(move |v| (name.as_ref(), v.as_str())))
            .collect();
        let count =
            u16::try_from(headers.len()).map_err(|_| WireError("too many headers".to_owned()))?;
        out.put_u16(count);
        for (name, value) in headers {
            put_str(&mut out, name)?;
            put_str(&mut out, value)?;
        }
        let len = u32::try_from(message.payload.len())
            .map_err(|_| WireError("a payload over 4 GiB".to_owned()))?;
        out.put_u32(len);
        out.put_slice(&message.payload);
    }
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(BATCH, messages.len().to_string().as_str());
    // The first call's reply subject: "no responders" for the batch comes back there.
    let reply = messages.iter().find_map(|m| m.reply.clone());
    Ok(OutboundMessage {
        subject: subject.into(),
        reply,
        payload: out.freeze(),
        headers: Some(headers),
    })
}

/// A reader over a batch's payload.
struct Reader {
    bytes: Bytes,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<Bytes, WireError> {
        if self.bytes.len() < n {
            return Err(WireError("a truncated batch".to_owned()));
        }
        Ok(self.bytes.split_to(n))
    }

    fn u16(&mut self) -> Result<usize, WireError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u32(&mut self) -> Result<usize, WireError> {
        let b = self.take(4)?;
        usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .map_err(|_| WireError("a payload too large for this platform".to_owned()))
    }

    fn str(&mut self) -> Result<String, WireError> {
        let n = self.u16()?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError("a name that is not UTF-8".into()))
    }
}

/// Splits a batch into its messages; `Err` for a malformed batch (nothing of it is used).
pub(crate) fn decode(payload: Bytes) -> Result<Vec<Message>, WireError> {
    let mut reader = Reader { bytes: payload };
    let mut messages = Vec::new();
    while !reader.bytes.is_empty() {
        let subject = reader.str()?;
        let reply = reader.str()?;
        let count = reader.u16()?;
        let mut headers = HeaderMap::new();
        for _ in 0..count {
            let name = reader.str()?;
            let value = reader.str()?;
            headers.append(name.as_str(), value.as_str());
        }
        let len = reader.u32()?;
        let payload = reader.take(len)?;
        messages.push(Message {
            subject: subject.into(),
            reply: (!reply.is_empty()).then(|| reply.into()),
            length: payload.len(),
            payload,
            headers: Some(headers),
            status: None,
            description: None,
        });
    }
    Ok(messages)
}

/// The messages `message` carries: itself, or a batch's messages. A malformed batch is
/// dropped with a warning (its calls' callers see no reply, as for a lost message).
pub(crate) fn split(message: Message) -> Vec<Message> {
    if super::wire::header(&message, BATCH).is_none() {
        return vec![message];
    }
    match decode(message.payload) {
        Ok(messages) => messages,
        Err(err) => {
            tracing::warn!(%err, "a malformed batch from the wire");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn message(subject: &str, reply: Option<&str>, payload: &[u8]) -> OutboundMessage {
        let mut headers = HeaderMap::new();
        headers.insert("Helio-Method", "add");
        OutboundMessage {
            subject: subject.to_owned().into(),
            reply: reply.map(|r| r.to_owned().into()),
            payload: Bytes::copy_from_slice(payload),
            headers: Some(headers),
        }
    }

    #[test]
    fn a_batch_round_trips() {
        let messages = [
            message("helio.c.actor.n.1", Some("helio.c.inbox.m.7"), b"abc"),
            message("helio.c.actor.n.1", None, b""),
        ];
        let batch = encode("helio.c.actor.n.1".into(), &messages).unwrap();
        assert_eq!(batch.reply.as_deref(), Some("helio.c.inbox.m.7"));
        let back = decode(batch.payload).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].reply.as_deref(), Some("helio.c.inbox.m.7"));
        assert_eq!(&back[0].payload[..], b"abc");
        assert_eq!(back[1].reply, None);
        let method = back[1].headers.as_ref().and_then(|h| h.get("Helio-Method"));
        assert_eq!(method.map(|v| v.as_str()), Some("add"));
    }

    #[test]
    fn routes_group_inboxes_by_process() {
        assert_eq!(route("helio.c.inbox.n1.17"), "helio.c.inbox.n1");
        assert_eq!(route("helio.c.actor.n1.17"), "helio.c.actor.n1.17");
        assert_eq!(route("helio.inbox.actor.n1.17"), "helio.inbox.actor.n1.17");
        assert_eq!(
            batch_subject("helio.c.inbox.n1", "helio.c.inbox.n1.17"),
            "helio.c.inbox.n1.batch"
        );
    }

    proptest! {
        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn arbitrary_batches_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(Bytes::from(bytes));
        }

        /// Whatever goes in comes out, in order.
        #[test]
        fn batches_keep_every_message(payloads in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 1..20)) {
            let messages: Vec<_> = payloads
                .iter()
                .enumerate()
                .map(|(i, p)| message("helio.c.actor.n.1", Some(&format!("helio.c.inbox.m.{i}")), p))
                .collect();
            let batch = encode("helio.c.actor.n.1".into(), &messages).unwrap();
            let back = decode(batch.payload).unwrap();
            prop_assert_eq!(back.len(), payloads.len());
            for (i, (m, p)) in back.iter().zip(&payloads).enumerate() {
                prop_assert_eq!(&m.payload[..], &p[..]);
                let reply = format!("helio.c.inbox.m.{i}");
                prop_assert_eq!(m.reply.as_deref(), Some(reply.as_str()));
            }
        }
    }
}
