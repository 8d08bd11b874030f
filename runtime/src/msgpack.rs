//! The wire codec, and handles as serde values (feature `serde`, which cluster mode turns on).
//!
//! [`MsgPack`] encodes arguments, results and records as MessagePack with struct fields as
//! maps, so records stay readable and extensible. `Actor<A>` is `Serialize + Deserialize`
//! when `A` can be registered (every argument and result serde): it travels as an address,
//! which the cluster installed at the [seam](crate::seam) makes and reads. Passing a handle of
//! another actor type is a compile error naming the type that is not serde.

use std::{fmt, marker::PhantomData, sync::Arc};

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, DeserializeOwned, SeqAccess, VariantAccess, Visitor},
    ser,
};

use crate::{
    Actor, ActorError, ObjectRef,
    arg::Arg,
    remote::{Codec, CrossesProcesses, Remotable, WireError},
    seam::hooks::{
        self as seam, Class, EncodedValue, Export, Exported, NOT_IN_A_CLUSTER, REF_NOT_IN_A_CLUSTER,
    },
};

/// MessagePack with struct fields as maps, and bytes as bytes: a sequence of `u8` (a
/// `Vec<u8>`, a slice, a `VecDeque<u8>` ..) is written as MessagePack binary, one byte a
/// byte, not as an array of integers (up to two bytes each). `bytes::Bytes` and
/// `serde_bytes` types are binary anyway.
///
/// One kind of type does not read such binary back: one that inspects what comes before it
/// decides (`#[serde(untagged)]` enums, self-describing `Value` types) and holds a `Vec<u8>`.
/// Give that field `#[serde(with = "serde_bytes")]` (or make it a `serde_bytes::ByteBuf`).
#[doc(hidden)]
pub struct MsgPack;

std::thread_local! {
    /// The encoding under way on this thread (`Export::encoding`): `Some(0)` until a ref in
    /// it asks for its number, so that an encoding with no ref in it (nearly all) costs no
    /// shared counter.
    static ENCODING: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

fn next_encoding() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The number of the encoding under way on this thread (each ref serialized in it shares
/// it); a new one outside any.
fn this_encoding() -> u64 {
    match ENCODING.get() {
        Some(0) => {
            let number = next_encoding();
            ENCODING.set(Some(number));
            number
        }
        Some(number) => number,
        None => next_encoding(),
    }
}

/// Marks an encoding under way on this thread while it lives.
struct Encoding(Option<u64>);

impl Encoding {
    fn start() -> Self {
        Encoding(ENCODING.replace(Some(0)))
    }
}

impl Drop for Encoding {
    fn drop(&mut self) {
        ENCODING.set(self.0);
    }
}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> CrossesProcesses<MsgPack> for T {}

impl<T: Serialize + DeserializeOwned> Codec<T> for MsgPack {
    fn encode(value: &T) -> Result<Vec<u8>, WireError> {
        let _encoding = Encoding::start();
        // A value found to be large is encoded again off the async worker: the first try
        // gives up once its output passes `HEAVY` bytes.
        let mut out = Capped {
            bytes: Vec::new(),
            cap: Some(HEAVY),
            over: false,
        };
        match write(value, &mut out) {
            // Counted first, then written once into a buffer of its exact size: a buffer
            // grown by doubling would copy the value again at each step and touch about
            // three times its size in fresh pages, which cost more than the writing itself.
            Err(_) if out.over => heavy(|| {
                let mut size = Counted(0);
                write(value, &mut size)?;
                let bytes = match seam::cluster() {
                    Some(cluster) => cluster.buffer(size.0),
                    None => Vec::with_capacity(size.0),
                };
                let mut out = Capped {
                    bytes,
                    cap: None,
                    over: false,
                };
                write(value, &mut out).map(|()| out.bytes)
            }),
            result => result.map(|()| out.bytes),
        }
    }

    fn decode(bytes: &[u8]) -> Result<T, WireError> {
        decode(bytes)
    }
}

/// Decodes a `T`; a large one off the async worker.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let decode = || rmp_serde::from_slice(bytes).map_err(|err| WireError(err.to_string()));
    if bytes.len() > HEAVY {
        heavy(decode)
    } else {
        decode()
    }
}

/// Values larger than this (encoded) are encoded and decoded off the async worker: at a few
/// nanoseconds a byte, serde's `Vec<u8>` alone takes a worker for 100 ms per 64 MB, and a
/// worker busy that long stalls every task queued behind it (heartbeats included).
const HEAVY: usize = 1 << 20;

/// Runs `work`, on a worker of a multi-thread tokio runtime inside `block_in_place`, so that
/// the runtime hands that worker's other tasks to another thread meanwhile.
fn heavy<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Encodes `value` into `out`.
fn write<T: Serialize, W: std::io::Write>(value: &T, out: &mut W) -> Result<(), WireError> {
    let mut serializer = rmp_serde::Serializer::new(out)
        .with_struct_map()
        .with_bytes(rmp_serde::config::BytesMode::ForceIterables);
    value
        .serialize(&mut serializer)
        .map_err(|err| WireError(err.to_string()))
}

/// An output that only counts the bytes written to it.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An output that refuses to grow past `cap`, and says so (`over`).
struct Capped {
    bytes: Vec<u8>,
    cap: Option<usize>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(cap) = self.cap
            && self.bytes.len() + buf.len() > cap
        {
            self.over = true;
            return Err(std::io::Error::other(
                "a large value: encoded again off the worker",
            ));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

/// In cluster mode an `ObjectRef<T>` is `Serialize + Deserialize`: it travels as the address
/// of its value (its owner and the value's id there), never with the value. The process that
/// receives one reads the value from its owner when it first waits for it; one that passes
/// it on reads none of it. The owner keeps the value while any process holds a ref to it.
/// (`T: Clone`, because the owner keeps its own refs to the value readable meanwhile.)
impl<T> Serialize for ObjectRef<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = match self.borrowed_from() {
            Some(from) => Exported::Borrowed(from.to_vec()),
            None => {
                let kept = self.clone();
                let encode = Arc::new(move || {
                    let kept = kept.clone();
                    Box::pin(async move {
                        let value = kept.await?;
                        <MsgPack as Codec<T>>::encode(&value).map_err(|err| ActorError::Wire {
                            message: format!(
                                "the value of an ObjectRef could not be encoded: {err}"
                            ),
                        })
                    }) as EncodedValue
                });
                Exported::Owned {
                    identity: self.identity(),
                    encode,
                }
            }
        };
        serializer.serialize_bytes(&export::<S::Error>(value)?)
    }
}

/// The address of a ref's `value` for another process (a new crossing of it).
fn export<E: ser::Error>(value: Exported) -> Result<Vec<u8>, E> {
    let cluster = seam::cluster().ok_or_else(|| E::custom(REF_NOT_IN_A_CLUSTER))?;
    let export = Export {
        encoding: this_encoding(),
        value,
    };
    cluster.export_ref(export).map_err(E::custom)
}

/// The ref of the value at `address`, borrowed from its owner (or the store), and read
/// from there when first waited for.
fn borrow<T, E>(address: &[u8]) -> Result<ObjectRef<T>, E>
where
    T: DeserializeOwned + Send + 'static,
    E: de::Error,
{
    let cluster = seam::cluster().ok_or_else(|| E::custom(REF_NOT_IN_A_CLUSTER))?;
    let borrow = cluster.import_ref(address).map_err(E::custom)?;
    Ok(ObjectRef::borrowed(borrow, |bytes| {
        decode(bytes).map_err(|err| ActorError::Wire {
            message: format!("the value of an ObjectRef could not be decoded: {err}"),
        })
    }))
}

impl<'de, T> Deserialize<'de> for ObjectRef<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        borrow(&deserializer.deserialize_bytes(Address)?)
    }
}

/// An argument of a call to an actor in another process: its value (`{"v": value}`), or
/// the address of a value a third process owns (`{"r": address}`), which the callee reads
/// from that owner, so that the bytes never pass through the caller.
///
/// Only a ref borrowed from another process and not yet read here crosses as a ref
/// ([`PendingArgs::for_wire`](crate::arg::PendingArgs::for_wire)); any other reaching the
/// wire is refused, never waited for.
impl<T: Serialize + Send + 'static> Serialize for Arg<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Value(value) => serializer.serialize_newtype_variant("Arg", 0, "v", value),
            Arg::Ref(r) => {
                let Some(from) = r.borrowed_from() else {
                    return Err(ser::Error::custom(
                        "internal: a ref of this process crossed as an argument unread",
                    ));
                };
                let address = export::<S::Error>(Exported::Borrowed(from.to_vec()))?;
                serializer.serialize_newtype_variant("Arg", 1, "r", &Bytes(&address))
            }
        }
    }
}

impl<'de, T: DeserializeOwned + Send + 'static> Deserialize<'de> for Arg<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_enum("Arg", &["v", "r"], ArgVisitor(PhantomData))
    }
}

/// Serializes as bytes (an address).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Which form an [`Arg`] crossed in.
enum ArgForm {
    Value,
    Ref,
}

impl<'de> Deserialize<'de> for ArgForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(ArgFormVisitor)
    }
}

struct ArgFormVisitor;

impl Visitor<'_> for ArgFormVisitor {
    type Value = ArgForm;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`v` (a value) or `r` (a ref)")
    }

    fn visit_str<E: de::Error>(self, form: &str) -> Result<ArgForm, E> {
        match form {
            "v" => Ok(ArgForm::Value),
            "r" => Ok(ArgForm::Ref),
            other => Err(E::unknown_variant(other, &["v", "r"])),
        }
    }

    fn visit_u64<E: de::Error>(self, form: u64) -> Result<ArgForm, E> {
        match form {
            0 => Ok(ArgForm::Value),
            1 => Ok(ArgForm::Ref),
            _ => Err(E::invalid_value(de::Unexpected::Unsigned(form), &self)),
        }
    }
}

struct ArgVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned + Send + 'static> Visitor<'de> for ArgVisitor<T> {
    type Value = Arg<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an argument: a value or a ref")
    }

    fn visit_enum<E: de::EnumAccess<'de>>(self, data: E) -> Result<Arg<T>, E::Error> {
        match data.variant()? {
            (ArgForm::Value, value) => value.newtype_variant().map(Arg::Value),
            (ArgForm::Ref, value) => {
                let address = value.newtype_variant_seed(AddressSeed)?;
                borrow(&address).map(Arg::Ref)
            }
        }
    }
}

/// Reads an address inside another value.
struct AddressSeed;

impl<'de> de::DeserializeSeed<'de> for AddressSeed {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_bytes(Address)
    }
}

/// Reads an address: bytes, or a sequence of them (formats without a bytes type).
struct Address;

impl<'de> Visitor<'de> for Address {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the address of a helio actor or value")
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

#[cfg(test)]
mod tests {
    use std::{
        collections::{BTreeMap, VecDeque},
        fmt,
    };

    use serde::{Deserialize, Serialize};

    use super::MsgPack;
    use crate::remote::Codec;

    fn round_trip<T>(value: T) -> usize
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
        MsgPack: Codec<T>,
    {
        let bytes = <MsgPack as Codec<T>>::encode(&value).expect("it encodes");
        let back = <MsgPack as Codec<T>>::decode(&bytes).expect("it decodes");
        assert_eq!(back, value);
        bytes.len()
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Frame {
        pixels: Vec<u8>,
        sizes: Vec<u32>,
        tags: Vec<String>,
        pair: (u8, u8),
    }

    #[test]
    fn bytes_cross_as_bytes_one_byte_a_byte() {
        // Bytes over 127 would take two bytes each as integers.
        let megabyte = vec![0xFF_u8; 1 << 20];
        assert!(round_trip(megabyte) <= (1 << 20) + 8);
        let frame = Frame {
            pixels: vec![200; 1000],
            sizes: vec![1, 70_000],
            tags: Vec::new(),
            pair: (1, 2),
        };
        assert!(round_trip(frame) < 1100);
        assert!(round_trip((vec![255_u8; 100], 7_u64)) < 110);
        round_trip(VecDeque::from(vec![1_u8, 2, 3]));
        round_trip(BTreeMap::from([(1_u8, vec![2_u8])]));
        round_trip(vec![vec![1_u8; 3], Vec::new()]);
        round_trip(Some(vec![3_u8; 5]));
        round_trip(vec![1_u16, 2, 3]);
    }

    /// A value over `HEAVY` encodes and decodes the same on an async worker (off it, inside
    /// `block_in_place`), on a current-thread runtime and on a plain thread.
    #[test]
    fn large_values_round_trip_wherever_they_are_encoded() {
        let large = || (vec![7_u8; 3 << 20], String::from("tail"));
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a runtime");
        let n = multi.block_on(async move {
            tokio::spawn(async move { round_trip(large()) })
                .await
                .expect("the task")
        });
        assert!(n > 3 << 20);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert_eq!(current.block_on(async { round_trip(large()) }), n);
        assert_eq!(round_trip(large()), n);
    }
}
