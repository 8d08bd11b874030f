//! The wire: headers and the encoding of values and failures between processes (subjects are
//! built in `subjects.rs`).
//!
//! A call is one NATS message to its actor's subject, with the method and the type's
//! fingerprint in headers and the MessagePack-encoded argument tuple as payload; its reply
//! subject names the caller's inbox and the call's id. A reply carries `Helio-Status: ok` and
//! the encoded result, or `Helio-Status: err` and an encoded [`Failure`].
//!
//! A streaming call's reply is a sequence of frames to its reply subject: `item` frames with a
//! `Helio-Seq` number each, then one `end` or `err` frame. The host sends no more than the
//! caller's window (`Helio-Window`) beyond the items the caller has consumed, which the caller
//! reports with `__credit` messages; a gap in the sequence fails the stream, never silently. Everything read off
//! the wire is checked: bad input is an error for the caller and a warning on the host, never
//! a panic.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    ActorError, DeathCause, MsgPack,
    seam::ActorLabel,
    seam::{Codec, WireError},
};

/// The codec id every helio message carries in [`CODEC`].
pub(crate) const CODEC_ID: &str = "msgpack/1";
/// Header: the codec of the payload.
pub(crate) const CODEC: &str = "Helio-Codec";
/// Header: the method a call asks for (or a control verb starting with `__`).
pub(crate) const METHOD: &str = "Helio-Method";
/// Header: the fingerprint of the actor type the caller expects, in hex.
pub(crate) const FINGERPRINT: &str = "Helio-Type";
/// Header: `ok` or `err` on a reply.
pub(crate) const STATUS: &str = "Helio-Status";
/// Header: on a reply from an actor restarted away from the node that created it, the node
/// that answered (hex), so that its callers learn where it runs now.
pub(crate) const NODE: &str = "Helio-Node";

/// Header: on a streaming call, how many items the caller buffers (its credit window).
pub(crate) const WINDOW: &str = "Helio-Window";
/// Header: on a stream frame, the item's sequence number (from 0).
pub(crate) const SEQ: &str = "Helio-Seq";

/// Control verb: grants a stream more credit; the payload is `(call, items consumed)`.
pub(crate) const VERB_CREDIT: &str = "__credit";
/// Control verb: answers the actor's [`WireState`] and restarts.
pub(crate) const VERB_STATE: &str = "__state";
/// Header: a call's concurrency group, when the caller overrides it.
pub(crate) const GROUP: &str = "Helio-Group";
/// Header: a call's `max_task_retries`, when the caller overrides it.
pub(crate) const RETRIES: &str = "Helio-Retries";
/// Header: the caller may send this call again after an outage (it has retries left), so
/// the host keeps its reply for a copy (`answered.rs`).
pub(crate) const RESENDS: &str = "Helio-Resends";
/// Control verb: resolves once the actor's constructor has run.
pub(crate) const VERB_READY: &str = "__ready";
/// Control verb: cancels a call; the payload is that call's reply subject.
pub(crate) const VERB_CANCEL: &str = "__cancel";
/// Control verb: kills the actor; the payload is `no_restart` as a bool.
pub(crate) const VERB_KILL: &str = "__kill";

/// Encodes a wire value (records, failures) with [`MsgPack`].
pub(crate) fn encode<T: Serialize + DeserializeOwned>(value: &T) -> Result<Vec<u8>, WireError> {
    <MsgPack as Codec<T>>::encode(value)
}

/// Decodes a wire value (records, failures) with [`MsgPack`].
pub(crate) fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    <MsgPack as Codec<T>>::decode(bytes)
}

/// The value of header `name` of `message`.
pub(crate) fn header<'m>(message: &'m async_nats::Message, name: &str) -> Option<&'m str> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
}

/// Checks that a name can be one token of a subject: no dots, wildcards or whitespace.
pub(crate) fn check_token(what: &str, token: &str) -> Result<(), String> {
    let bad = token.is_empty()
        || token
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control());
    if bad {
        Err(format!(
            "{what} {token:?} must be non-empty, without dots, `*`, `>` or whitespace"
        ))
    } else {
        Ok(())
    }
}

/// A failed call as it crosses the wire; the caller rebuilds the [`ActorError`] with its own
/// label and method name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Failure {
    Died(Cause),
    Panicked(String),
    Cancelled,
    PendingLimit(u64),
    Unavailable(String),
    UnknownGroup {
        group: String,
        declared: String,
    },
    InitFailed(String),
    SelfDeadlock,
    Wire(String),
    Unschedulable(String),
    /// The owner of a value the call needed (a ref among its arguments) is gone.
    OwnerDied(String),
    /// An error this version does not know by name.
    Other(String),
}

/// An [`ActorState`](crate::ActorState) on the wire, with the restart count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum WireState {
    Pending,
    Alive,
    Restarting,
    Dead(Cause),
}

impl WireState {
    pub(crate) fn of(state: &crate::ActorState) -> Self {
        match state {
            crate::ActorState::Pending => WireState::Pending,
            crate::ActorState::Alive | crate::ActorState::Unreachable => WireState::Alive,
            crate::ActorState::Restarting => WireState::Restarting,
            crate::ActorState::Dead(cause) => WireState::Dead(Cause::of(cause)),
            // A state this version does not know of: not dead.
            _ => WireState::Alive,
        }
    }

    pub(crate) fn into_state(self) -> crate::ActorState {
        match self {
            WireState::Pending => crate::ActorState::Pending,
            WireState::Alive => crate::ActorState::Alive,
            WireState::Restarting => crate::ActorState::Restarting,
            WireState::Dead(cause) => crate::ActorState::Dead(cause.into_cause()),
        }
    }
}

/// A [`DeathCause`] on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Cause {
    InitFailed(String),
    Panicked(String),
    InvalidOptions(String),
    NameTaken { namespace: String, name: String },
    Killed,
    Shutdown,
    Internal(String),
    NodeDied(String),
    Fenced,
    Unschedulable(String),
}

impl Failure {
    /// The wire form of `err`.
    pub(crate) fn of(err: &ActorError) -> Self {
        match err {
            ActorError::ActorDied { cause, .. } => Failure::Died(Cause::of(cause)),
            ActorError::TaskPanicked { message, .. } => Failure::Panicked(message.clone()),
            ActorError::Cancelled { .. } => Failure::Cancelled,
            ActorError::PendingCallsLimitExceeded { limit, .. } => {
                Failure::PendingLimit(*limit as u64)
            }
            ActorError::ActorUnavailable { message, .. } => Failure::Unavailable(message.clone()),
            ActorError::UnknownConcurrencyGroup {
                group, declared, ..
            } => Failure::UnknownGroup {
                group: group.clone(),
                declared: declared.clone(),
            },
            ActorError::InitFailed { message, .. } => Failure::InitFailed(message.clone()),
            ActorError::SelfDeadlock { .. } => Failure::SelfDeadlock,
            ActorError::Wire { message } => Failure::Wire(message.clone()),
            ActorError::Unschedulable { shortfall, .. } => {
                Failure::Unschedulable(shortfall.clone())
            }
            ActorError::OwnerDied { owner } => Failure::OwnerDied(owner.clone()),
            other => Failure::Other(other.to_string()),
        }
    }

    /// The caller's error for a call of `method` on `actor`.
    pub(crate) fn into_error(self, actor: ActorLabel, method: &'static str) -> ActorError {
        match self {
            Failure::Died(cause) => ActorError::ActorDied {
                actor,
                method,
                cause: cause.into_cause(),
            },
            Failure::Panicked(message) => ActorError::TaskPanicked {
                actor,
                method,
                message,
            },
            Failure::Cancelled => ActorError::Cancelled { actor, method },
            Failure::PendingLimit(limit) => ActorError::PendingCallsLimitExceeded {
                actor,
                method,
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            Failure::Unavailable(message) => ActorError::ActorUnavailable {
                actor,
                method,
                message,
            },
            Failure::UnknownGroup { group, declared } => ActorError::UnknownConcurrencyGroup {
                actor,
                method,
                group,
                declared,
            },
            Failure::InitFailed(message) => ActorError::InitFailed { actor, message },
            Failure::SelfDeadlock => ActorError::SelfDeadlock { actor, method },
            Failure::Wire(message) => ActorError::Wire { message },
            Failure::Unschedulable(shortfall) => ActorError::Unschedulable {
                actor,
                method,
                shortfall,
            },
            Failure::OwnerDied(owner) => ActorError::OwnerDied { owner },
            Failure::Other(message) => ActorError::Wire {
                message: format!("the actor's host reported: {message}"),
            },
        }
    }
}

impl Cause {
    pub(crate) fn of(cause: &DeathCause) -> Self {
        match cause {
            DeathCause::InitFailed(m) => Cause::InitFailed(m.clone()),
            DeathCause::Panicked(m) => Cause::Panicked(m.clone()),
            DeathCause::InvalidOptions(m) => Cause::InvalidOptions(m.clone()),
            DeathCause::NameTaken { namespace, name } => Cause::NameTaken {
                namespace: namespace.clone(),
                name: name.clone(),
            },
            DeathCause::Killed => Cause::Killed,
            DeathCause::Shutdown => Cause::Shutdown,
            DeathCause::NodeDied(node) => Cause::NodeDied(node.clone()),
            DeathCause::Fenced => Cause::Fenced,
            DeathCause::Unschedulable(m) => Cause::Unschedulable(m.clone()),
            DeathCause::Internal(what) => Cause::Internal((*what).to_owned()),
            other => Cause::Internal(other.to_string()),
        }
    }

    pub(crate) fn into_cause(self) -> DeathCause {
        match self {
            Cause::InitFailed(m) => DeathCause::InitFailed(m),
            Cause::Panicked(m) => DeathCause::Panicked(m),
            Cause::InvalidOptions(m) => DeathCause::InvalidOptions(m),
            Cause::NameTaken { namespace, name } => DeathCause::NameTaken { namespace, name },
            Cause::Killed => DeathCause::Killed,
            Cause::Shutdown => DeathCause::Shutdown,
            Cause::NodeDied(node) => DeathCause::NodeDied(node),
            Cause::Fenced => DeathCause::Fenced,
            Cause::Unschedulable(m) => DeathCause::Unschedulable(m),
            Cause::Internal(what) => {
                tracing::warn!(%what, "an actor's host reported an internal error");
                DeathCause::Internal("on the actor's host (see its log)")
            }
        }
    }
}

/// A reply's payload decoded into the call's outcome: `Ok(bytes of the result)`, or the
/// caller's error. A reply that cannot be read is a [`ActorError::Wire`] error.
pub(crate) fn read_reply(
    status: Option<&str>,
    payload: &[u8],
    actor: &ActorLabel,
    method: &'static str,
) -> Result<(), ActorError> {
    match status {
        Some("ok") => Ok(()),
        Some("err") => match decode::<Failure>(payload) {
            Ok(failure) => Err(failure.into_error(actor.clone(), method)),
            Err(err) => Err(ActorError::Wire {
                message: format!("an undecodable error reply: {err}"),
            }),
        },
        other => Err(ActorError::Wire {
            message: format!("a reply with status {other:?} (expected \"ok\" or \"err\")"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn label() -> ActorLabel {
        ActorLabel::new("Counter", Some(("default", "c")))
    }

    #[test]
    fn failures_round_trip() {
        let errors = [
            ActorError::ActorDied {
                actor: label(),
                method: "add",
                cause: DeathCause::NameTaken {
                    namespace: "a".into(),
                    name: "b".into(),
                },
            },
            ActorError::TaskPanicked {
                actor: label(),
                method: "add",
                message: "boom".into(),
            },
            ActorError::Cancelled {
                actor: label(),
                method: "add",
            },
            ActorError::ActorDied {
                actor: label(),
                method: "add",
                cause: DeathCause::NodeDied("00000000000000ff".into()),
            },
        ];
        for err in errors {
            let bytes = encode(&Failure::of(&err)).unwrap();
            let back = read_reply(Some("err"), &bytes, &label(), "add").unwrap_err();
            assert_eq!(back, err);
        }
    }

    #[test]
    fn tokens_are_checked() {
        assert!(check_token("cluster name", "prod-1").is_ok());
        for bad in ["", "a.b", "a*", ">", "a b", "a\0"] {
            assert!(check_token("cluster name", bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        /// Arbitrary bytes never panic the decoders: they are values or errors.
        #[test]
        fn arbitrary_replies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                         status in proptest::option::of("ok|err|[a-z]{0,4}")) {
            let _ = read_reply(status.as_deref(), &bytes, &label(), "add");
            let _ = decode::<super::super::registry::ActorRecord>(&bytes);
            let _ = <MsgPack as Codec<(i64, String, Vec<u8>)>>::decode(&bytes);
        }
    }
}
