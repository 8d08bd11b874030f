//! The wire codec, and handles as serde values (feature `serde`, which cluster mode turns on).
//!
//! [`MsgPack`] encodes arguments, results and records as MessagePack with struct fields as
//! maps, so records stay readable and extensible. `Actor<A>` is `Serialize + Deserialize`
//! when `A` can be registered (every argument and result serde): it travels as an address,
//! which the cluster installed at the [seam](crate::seam) makes and reads. Passing a handle of
//! another actor type is a compile error naming the type that is not serde.

use std::fmt;

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, DeserializeOwned, SeqAccess, Visitor},
    ser,
};

use crate::{
    Actor,
    remote::{Codec, Remotable, WireError},
    seam::hooks::{self as seam, Class, NOT_IN_A_CLUSTER},
};

/// MessagePack with struct fields as maps.
#[doc(hidden)]
pub struct MsgPack;

impl<T: Serialize + DeserializeOwned> Codec<T> for MsgPack {
    fn encode(value: &T) -> Result<Vec<u8>, WireError> {
        rmp_serde::to_vec_named(value).map_err(|err| WireError(err.to_string()))
    }

    fn decode(bytes: &[u8]) -> Result<T, WireError> {
        rmp_serde::from_slice(bytes).map_err(|err| WireError(err.to_string()))
    }
}

/// Only an actor type that can be registered (serde arguments and results) has handles that
/// cross processes: passing another one is a compile error naming the type that is not serde.
impl<A: Remotable<MsgPack>> Serialize for Actor<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let cluster = seam::cluster().ok_or_else(|| ser::Error::custom(NOT_IN_A_CLUSTER))?;
        let address = cluster
            .address(Class::of::<A>(), self)
            .map_err(ser::Error::custom)?;
        serializer.serialize_bytes(&address)
    }
}

impl<'de, A: Remotable<MsgPack>> Deserialize<'de> for Actor<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let address = deserializer.deserialize_bytes(Address)?;
        let cluster = seam::cluster().ok_or_else(|| de::Error::custom(NOT_IN_A_CLUSTER))?;
        let actor = cluster
            .attach(Class::of::<A>(), &address)
            .map_err(de::Error::custom)?;
        seam::unbox(actor).map_err(de::Error::custom)
    }
}

/// Reads an address: bytes, or a sequence of them (formats without a bytes type).
struct Address;

impl<'de> Visitor<'de> for Address {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the address of a helio actor")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<u8>, S::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}
