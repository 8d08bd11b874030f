//! The server's limit on one message, and what the writer does with a message over it:
//! nothing is ever only logged.
//!
//! A NATS server refuses a message whose headers and payload together exceed its
//! `max_payload` (1 MB by default; the writer reads it from the server's INFO, never assumes
//! it). Before it publishes, the writer measures each message ([`size`]). One over the limit
//! goes without its payload, which this process holds for the reader to fetch
//! (`objects.rs`). Only one whose headers alone are over the limit is refused ([`over`]):
//! - a reply or a stream frame (it has a status header) goes as an error in its place, so
//!   that the caller on the other side learns why, instead of waiting forever;
//! - a request of this process (its reply subject is one of this process's calls) fails that
//!   call here, at once;
//! - anything else (a control message: never this large) is dropped, with an error logged.
//!
//! Batches (`batch.rs`) are cut so that each stays within the limit ([`chunks`]).

use async_nats::{HeaderMap, message::OutboundMessage};
use bytes::Bytes;

use super::wire::{self, Failure, STATUS};

/// What a batch adds to the messages it holds, at most: its own headers.
const BATCH_HEADERS: usize = 256;

/// What one message in a batch adds to its payload and headers: its subject, reply subject
/// and the lengths (`batch.rs`).
fn batch_entry(message: &OutboundMessage) -> usize {
    2 + message.subject.len() + 2 + message.reply.as_ref().map_or(0, |r| r.len()) + 2 + 4
}

/// How many bytes of a message count against `max_payload`: its payload and its headers as
/// they go on the wire (`NATS/1.0`, then `name: value` lines).
pub(crate) fn size(message: &OutboundMessage) -> usize {
    message.payload.len() + headers_size(message.headers.as_ref())
}

fn headers_size(headers: Option<&HeaderMap>) -> usize {
    // As the client counts them: no headers, or none in the map, count nothing.
    let Some(headers) = headers.filter(|headers| !headers.is_empty()) else {
        return 0;
    };
    let lines: usize = headers
        .iter()
        .flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values
                .iter()
                .map(move |v| name.len() + v.as_str().len() + 4)
        })
        .sum();
    // "NATS/1.0\r\n" and the blank line that ends the headers.
    12 + lines
}

/// What becomes of a message over the limit.
pub(crate) enum Over {
    /// Send this instead (an error in place of a reply or frame).
    Send(OutboundMessage),
    /// Fail this process's call `id` with this error message.
    Fail(u64, String),
    /// Drop it, logging why.
    Drop(String),
}

/// Decides what becomes of `message`, which is `size` bytes against a limit of `limit`;
/// `own_call` names this process's call a reply subject belongs to.
pub(crate) fn over(
    message: OutboundMessage,
    size: usize,
    limit: usize,
    own_call: impl Fn(&str) -> Option<u64>,
) -> Over {
    let why = format!(
        "a message of {size} bytes whose headers alone are over the NATS server's \
         max_payload of {limit} bytes (an actor or method name that long cannot cross \
         processes; raise `max_payload` in the server's configuration)"
    );
    let status = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(STATUS))
        .map(|status| status.as_str().to_owned());
    if status.is_some() {
        // A reply or a stream frame: its caller gets the error instead.
        let mut headers = message.headers.clone().unwrap_or_default();
        headers.insert(STATUS, "err");
        let payload = match wire::encode(&Failure::Wire(why.clone())) {
            Ok(payload) => payload,
            Err(err) => return Over::Drop(format!("{why}; its error does not encode: {err}")),
        };
        return Over::Send(OutboundMessage {
            subject: message.subject,
            reply: None,
            payload: Bytes::from(payload),
            headers: Some(headers),
        });
    }
    match message.reply.as_deref().and_then(own_call) {
        Some(id) => Over::Fail(id, why),
        None => Over::Drop(format!("{why} (to {})", message.subject)),
    }
}

/// Cuts `messages` (for one destination, in order) into runs that each fit in one batch of at
/// most `limit` bytes; a run of one message goes as it is.
pub(crate) fn chunks(messages: Vec<OutboundMessage>, limit: usize) -> Vec<Vec<OutboundMessage>> {
    let room = limit.saturating_sub(BATCH_HEADERS);
    let mut runs: Vec<Vec<OutboundMessage>> = Vec::new();
    let mut used = 0;
    for message in messages {
        let cost = size(&message) + batch_entry(&message);
        match runs.last_mut() {
            Some(run) if used + cost <= room => {
                used += cost;
                run.push(message);
            }
            _ => {
                used = cost;
                runs.push(vec![message]);
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(
        subject: &str,
        reply: Option<&str>,
        status: Option<&str>,
        len: usize,
    ) -> OutboundMessage {
        let mut headers = HeaderMap::new();
        if let Some(status) = status {
            headers.insert(STATUS, status);
        }
        OutboundMessage {
            subject: subject.to_owned().into(),
            reply: reply.map(|r| r.to_owned().into()),
            payload: Bytes::from(vec![7u8; len]),
            headers: Some(headers),
        }
    }

    #[test]
    fn a_reply_over_the_limit_goes_as_an_error_that_says_why() {
        let big = message("helio.c.inbox.a.1", None, Some("ok"), 2000);
        let size = size(&big);
        assert!(size > 2000);
        let Over::Send(sent) = over(big, size, 1000, |_| None) else {
            panic!("a reply becomes an error reply");
        };
        assert_eq!(sent.subject.as_str(), "helio.c.inbox.a.1");
        let headers = sent.headers.expect("headers");
        assert_eq!(headers.get(STATUS).map(|s| s.as_str()), Some("err"));
        match wire::decode::<Failure>(&sent.payload) {
            Ok(Failure::Wire(why)) => assert!(why.contains("max_payload of 1000"), "{why}"),
            _ => panic!("a wire failure"),
        }
    }

    #[test]
    fn a_request_over_the_limit_fails_its_call_here_and_anything_else_is_dropped() {
        let call = message("helio.c.actor.b.1", Some("helio.c.inbox.a.42"), None, 2000);
        let own = |reply: &str| reply.strip_prefix("helio.c.inbox.a.")?.parse().ok();
        match over(call, 2050, 1000, own) {
            Over::Fail(42, why) => assert!(why.contains("2050 bytes"), "{why}"),
            _ => panic!("the call fails here"),
        }
        let control = message("helio.c.actor.b.1", None, None, 2000);
        assert!(matches!(over(control, 2050, 1000, own), Over::Drop(_)));
    }

    #[test]
    fn batches_are_cut_to_fit_and_keep_their_order() {
        let messages: Vec<_> = (0..10)
            .map(|i| message(&format!("s.{i}"), None, None, 300))
            .collect();
        let runs = chunks(messages, 1000);
        assert!(runs.len() > 1);
        let order: Vec<String> = runs
            .iter()
            .flatten()
            .map(|m| m.subject.to_string())
            .collect();
        assert_eq!(order, (0..10).map(|i| format!("s.{i}")).collect::<Vec<_>>());
        for run in &runs {
            let total: usize = run.iter().map(|m| size(m) + batch_entry(m)).sum();
            assert!(run.len() == 1 || total <= 1000 - BATCH_HEADERS, "{total}");
        }
    }
}
