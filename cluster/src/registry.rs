//! The cluster's registry: a JetStream key-value bucket of named actors and nodes.
//!
//! Keys are `name.<namespace>.<name>` (both hex-encoded, so any name is a valid key),
//! `node.<node id>`, and `anon.<node id>.<actor id>`. A name is claimed with an atomic create,
//! so two processes racing for one name get one actor.
//!
//! A record with its [`Death`] filled in is a tombstone: who writes, reads and drops those is in
//! `deaths.rs`. The bucket's stream is created by hand: on nats-server 2.9, async-nats'
//! `create_key_value` fails on an account query that expects newer fields.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    kv::Store,
    stream::{self, DiscardPolicy, StorageType},
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{NodeId, node::NodeInfo};

/// How long one request to the registry may go unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a registry operation tries again while the server this process is connected to
/// knows no stream for the registry's subjects yet: the stream was just made (its subjects
/// reach the other servers of a NATS cluster a moment later), or moved after a server was
/// lost.
const SETTLE: Duration = Duration::from_secs(5);

/// Runs `op` again while it fails because no stream takes the registry's subjects yet, for
/// at most [`SETTLE`]; its last result. An `idempotent` operation (a read, or a put that
/// overwrites) is also tried again when it timed out: the stream may be moving its leader
/// or raising its replicas; a create or an update is not (it may have been applied).
async fn settled<T, E, F>(idempotent: bool, mut op: impl FnMut() -> F) -> Result<T, E>
where
    E: std::error::Error + 'static,
    F: std::future::Future<Output = Result<T, E>>,
{
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        match op().await {
            Err(err)
                if (no_stream_yet(&err) || idempotent && timed_out(&err))
                    && std::time::Instant::now() < deadline =>
            {
                tracing::debug!(%err, "the registry's stream is not reachable yet; trying again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Whether `err` (or what caused it) is a request or a publish that got no answer in time.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};
    caused_by(err, |err| {
        err.downcast_ref::<PublishError>()
            .is_some_and(|err| err.kind() == PublishErrorKind::TimedOut)
            || err
                .downcast_ref::<async_nats::RequestError>()
                .is_some_and(|err| err.kind() == async_nats::RequestErrorKind::TimedOut)
    })
}

/// Whether `err` (or what caused it) says that no stream answers the subject: a publish
/// found no stream, or a request (a direct read) found no responder.
fn no_stream_yet(err: &(dyn std::error::Error + 'static)) -> bool {
    use async_nats::jetstream::{
        context::{PublishError, PublishErrorKind},
        stream::{DirectGetError, DirectGetErrorKind},
    };
    caused_by(err, |err| {
        err.downcast_ref::<PublishError>()
            .is_some_and(|err| err.kind() == PublishErrorKind::StreamNotFound)
            || err
                .downcast_ref::<async_nats::RequestError>()
                .is_some_and(|err| err.kind() == async_nats::RequestErrorKind::NoResponders)
            || err.downcast_ref::<DirectGetError>().is_some_and(|err| {
                matches!(
                    err.kind(),
                    DirectGetErrorKind::ErrorResponse(status, _)
                        if status == async_nats::StatusCode::NO_RESPONDERS
                )
            })
    })
}

/// Whether `err` or any error in its chain of causes is one `is` picks.
fn caused_by(
    err: &(dyn std::error::Error + 'static),
    is: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if is(err) {
            return true;
        }
        cause = err.source();
    }
    false
}

/// What the registry keeps about a named actor (and what a serialized handle carries).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActorRecord {
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// With `node`, the actor's id for good: it names the actor's subject, which a node that
    /// restarts the actor serves in its turn.
    pub(crate) id: u64,
    pub(crate) node: NodeId,
    pub(crate) type_name: String,
    pub(crate) fingerprint: u64,
    pub(crate) max_pending_calls: Option<u64>,
    pub(crate) max_task_retries: i64,
    pub(crate) detached: bool,
    /// The node that runs it now, when another node restarted it (`node` otherwise).
    #[serde(default)]
    pub(crate) host: Option<NodeId>,
    /// How often it was restarted on another node.
    #[serde(default)]
    pub(crate) moves: u32,
    /// A detached actor's way back: what it takes to start it again on another node.
    #[serde(default)]
    pub(crate) revival: Option<Revival>,
    /// Set when the actor died for good: the record is then its tombstone.
    #[serde(default)]
    pub(crate) death: Option<Death>,
}

/// How and when an actor died for good.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Death {
    pub(crate) cause: super::wire::Cause,
    /// When, in milliseconds since the Unix epoch.
    pub(crate) at_ms: u64,
    /// Its restarts, all nodes together.
    pub(crate) restarts: u32,
}

impl ActorRecord {
    /// The node that runs the actor.
    pub(crate) fn host(&self) -> NodeId {
        self.host.unwrap_or(self.node)
    }

    /// Whether this record and `other` are the same actor (its id is node and local id).
    pub(crate) fn same_actor(&self, other: &ActorRecord) -> bool {
        self.node == other.node && self.id == other.id
    }

    /// Whether a node may restart the actor when its host dies: detached, with restarts left.
    pub(crate) fn can_move(&self) -> bool {
        self.death.is_none()
            && self.detached
            && self.revival.as_ref().is_some_and(|revival| {
                helio_runtime::seam::may_restart(revival.max_restarts, self.moves)
            })
    }
}

/// How to start a detached actor again on another node when its node dies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Revival {
    /// Its options as created (name, limits, lifetime).
    pub(crate) options: crate::ActorOptions,
    /// Its constructor's encoded arguments.
    pub(crate) args: Vec<u8>,
    /// Its `max_restarts` (-1: forever); each restart on another node counts.
    pub(crate) max_restarts: i64,
}

/// The registry bucket of one cluster.
#[derive(Clone)]
pub(crate) struct Registry {
    store: Store,
}

/// `name.<hex namespace>.<hex name>`.
pub(crate) fn name_key(namespace: &str, name: &str) -> String {
    format!("name.{}.{}", hex(namespace), hex(name))
}

fn node_key(node: NodeId) -> String {
    format!("node.{node}")
}

/// `anon.<node>.<id>`: the key of an anonymous actor's tombstone.
pub(crate) fn anonymous_key(node: NodeId, id: u64) -> String {
    format!("anon.{node}.{id}")
}

fn hex(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 * s.len() + 1);
    out.push('x'); // never an empty token
    for byte in s.bytes() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

impl Registry {
    /// Opens the bucket `helio-<cluster>`, creating its stream when it does not exist yet, kept
    /// by `replicas` servers (a stream made earlier with fewer is raised to that).
    pub(crate) async fn open(
        client: async_nats::Client,
        cluster: &str,
        replicas: usize,
    ) -> Result<Self, String> {
        let mut js = jetstream::new(client);
        // A request JetStream does not answer (its stream is electing a leader after a server
        // was lost) fails after this, so that its caller can try again within its own bound
        // instead of spending it all on one try.
        js.set_timeout(REQUEST_TIMEOUT);
        let bucket = format!("helio-{cluster}");
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: DiscardPolicy::New,
            storage: StorageType::File,
            num_replicas: replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        super::replicas::open_stream(&js, config, "the registry").await?;
        let store = js
            .get_key_value(&bucket)
            .await
            .map_err(|err| format!("could not open the registry bucket {bucket}: {err}"))?;
        Ok(Registry { store })
    }

    /// Claims `record`'s name; `Ok(None)` when another actor holds it already.
    pub(crate) async fn claim(&self, record: &ActorRecord) -> Result<Option<u64>, String> {
        let key = name_key(&record.namespace, &record.name);
        let value = super::wire::encode(record).map_err(|e| e.to_string())?;
        let (store, key, value) = (&self.store, key.as_str(), Bytes::from(value));
        match settled(false, move || store.create(key, value.clone())).await {
            Ok(revision) => Ok(Some(revision)),
            Err(err) if err.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists => {
                Ok(None)
            }
            Err(err) => Err(format!("could not claim the name: {err}")),
        }
    }

    /// The record of the actor named `(namespace, name)`, if any.
    pub(crate) async fn lookup(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ActorRecord>, String> {
        let found = self.lookup_entry(namespace, name).await?;
        Ok(found.map(|(record, _)| record))
    }

    /// The record of the actor named `(namespace, name)` and its revision, if any.
    pub(crate) async fn lookup_entry(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<(ActorRecord, u64)>, String> {
        self.read(&name_key(namespace, name)).await
    }

    /// The record under `key` and its revision, if there is one (not freed).
    pub(crate) async fn read(&self, key: &str) -> Result<Option<(ActorRecord, u64)>, String> {
        let store = &self.store;
        let entry = settled(true, move || store.entry(key))
            .await
            .map_err(|err| format!("could not read {key}: {err}"))?;
        let Some(entry) =
            entry.filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put)
        else {
            return Ok(None);
        };
        let record = super::wire::decode(&entry.value)
            .map_err(|err| format!("a corrupt record under {key}: {err}"))?;
        Ok(Some((record, entry.revision)))
    }

    /// Writes `record` under `key`, whatever was there.
    pub(crate) async fn put_record(&self, key: &str, record: &ActorRecord) -> Result<(), String> {
        let value = Bytes::from(super::wire::encode(record).map_err(|e| e.to_string())?);
        let store = &self.store;
        settled(true, move || store.put(key, value.clone()))
            .await
            .map(drop)
            .map_err(|err| format!("could not write {key}: {err}"))
    }

    /// Writes `value` under `key`, whatever was there (a placement group's record).
    pub(crate) async fn put_value<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), String> {
        let value = Bytes::from(super::wire::encode(value).map_err(|e| e.to_string())?);
        let store = &self.store;
        settled(true, move || store.put(key, value.clone()))
            .await
            .map(drop)
            .map_err(|err| format!("could not write {key}: {err}"))
    }

    /// Removes `key`'s records, leaving nothing behind.
    pub(crate) async fn remove_key(&self, key: &str) -> Result<(), String> {
        self.store
            .stream
            .purge()
            .filter(format!("{}{key}", self.store.prefix))
            .await
            .map(drop)
            .map_err(|err| format!("could not remove {key}: {err}"))
    }

    /// Replaces the record at `revision` with `record` (taking the name over); `Ok(None)`
    /// when it changed since: another node was quicker.
    pub(crate) async fn take_over(
        &self,
        record: &ActorRecord,
        revision: u64,
    ) -> Result<Option<u64>, String> {
        let key = name_key(&record.namespace, &record.name);
        let value = super::wire::encode(record).map_err(|e| e.to_string())?;
        let (store, key, value) = (&self.store, key.as_str(), Bytes::from(value));
        match settled(false, move || store.update(key, value.clone(), revision)).await {
            Ok(revision) => Ok(Some(revision)),
            Err(err)
                if err.kind() == async_nats::jetstream::kv::UpdateErrorKind::WrongLastRevision =>
            {
                Ok(None)
            }
            Err(err) => Err(format!("could not take the name over: {err}")),
        }
    }

    /// Frees a name, unless it was claimed again since `revision`.
    pub(crate) async fn release(&self, namespace: &str, name: &str, revision: u64) {
        let key = name_key(namespace, name);
        if let Err(err) = self.forget(&key, revision).await {
            tracing::debug!(%key, %err, "name not released");
        }
    }

    /// Removes `key`'s record up to `revision`, leaving nothing behind: a newer record (the
    /// name claimed again since) stays. Unlike a key-value purge, which leaves a marker per
    /// key for good, this keeps the bucket's stream as small as its live keys.
    pub(crate) async fn forget(&self, key: &str, revision: u64) -> Result<(), String> {
        self.store
            .stream
            .purge()
            .filter(format!("{}{key}", self.store.prefix))
            .sequence(revision + 1)
            .await
            .map(drop)
            .map_err(|err| format!("could not remove {key}: {err}"))
    }

    /// Publishes this node's record.
    pub(crate) async fn put_node(&self, info: &NodeInfo) -> Result<(), String> {
        let value = Bytes::from(super::wire::encode(info).map_err(|e| e.to_string())?);
        let (store, key) = (&self.store, node_key(info.id));
        let key = key.as_str();
        settled(true, move || store.put(key, value.clone()))
            .await
            .map(drop)
            .map_err(|err| format!("could not publish the node record: {err}"))
    }

    /// Writes this node's record again, if it still has one: a node found dead meanwhile
    /// stays without (revision-checked).
    pub(crate) async fn update_node(&self, info: &NodeInfo) -> Result<(), String> {
        let value = Bytes::from(super::wire::encode(info).map_err(|e| e.to_string())?);
        let (store, key) = (&self.store, node_key(info.id));
        let key = key.as_str();
        let entry = settled(true, move || store.entry(key))
            .await
            .map_err(|err| format!("could not read the node record: {err}"))?;
        let Some(entry) =
            entry.filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put)
        else {
            return Ok(());
        };
        store
            .update(key, value, entry.revision)
            .await
            .map(drop)
            .map_err(|err| format!("could not update the node record: {err}"))
    }

    /// Whether `node` has a record (a node found dead has none).
    pub(crate) async fn has_node(&self, node: NodeId) -> Result<bool, String> {
        let (store, key) = (&self.store, node_key(node));
        let key = key.as_str();
        let entry = settled(true, move || store.entry(key))
            .await
            .map_err(|err| format!("could not read the node record: {err}"))?;
        Ok(entry.is_some_and(|e| e.operation == async_nats::jetstream::kv::Operation::Put))
    }

    /// Removes this node's record.
    pub(crate) async fn remove_node(&self, node: NodeId) {
        if let Err(err) = self.store.purge(node_key(node)).await {
            tracing::debug!(%node, %err, "node record not removed");
        }
    }

    /// Frees every name `node` holds (when it leaves the cluster).
    pub(crate) async fn release_node_names(&self, node: NodeId) {
        let records = match self.scan::<ActorRecord>("name.").await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(%err, "names not released");
                return;
            }
        };
        // Tombstones stay: a death is final whoever leaves.
        for record in records
            .into_iter()
            .filter(|r| r.node == node && r.death.is_none())
        {
            let key = name_key(&record.namespace, &record.name);
            if let Err(err) = self.store.purge(&key).await {
                tracing::debug!(%key, %err, "name not released");
            }
        }
    }

    /// Every record whose key starts with `prefix` (`"name."` or `"node."`), decoded, with
    /// its revision; corrupt ones are skipped with a warning.
    pub(crate) async fn scan_entries<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(T, u64)>, String> {
        use futures::StreamExt;
        // The subjects the stream holds now, each once: a snapshot, so a listing ends even
        // while records change (a key watch would follow every new write, and list a key
        // written during the listing twice). Each key's entry is read afresh below.
        let mut subjects = self
            .store
            .stream
            .info_with_subjects(format!("{}{prefix}>", self.store.prefix))
            .await
            .map_err(|err| format!("could not list the registry: {err}"))?;
        let mut wanted = std::collections::BTreeSet::new();
        while let Some(subject) = subjects.next().await {
            match subject {
                Ok((subject, _count)) => {
                    if let Some(key) = subject.strip_prefix(self.store.prefix.as_str()) {
                        wanted.insert(key.to_owned());
                    }
                }
                Err(err) => return Err(format!("could not list the registry: {err}")),
            }
        }
        let mut out = Vec::with_capacity(wanted.len());
        for key in wanted {
            let Ok(Some(entry)) = self.store.entry(&key).await else {
                continue;
            };
            if entry.operation != async_nats::jetstream::kv::Operation::Put {
                continue;
            }
            match super::wire::decode(&entry.value) {
                Ok(value) => out.push((value, entry.revision)),
                Err(err) => tracing::warn!(%key, %err, "a corrupt registry record"),
            }
        }
        Ok(out)
    }

    /// Every record whose key starts with `prefix`, decoded (see [`scan_entries`]).
    ///
    /// [`scan_entries`]: Registry::scan_entries
    pub(crate) async fn scan<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<T>, String> {
        let entries = self.scan_entries(prefix).await?;
        Ok(entries.into_iter().map(|(value, _)| value).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_whose_publish_found_no_stream_or_timed_out_is_told_apart() {
        use async_nats::jetstream::{
            context::{PublishError, PublishErrorKind},
            kv::{PutError, PutErrorKind},
        };
        let no_stream = PutError::with_source(
            PutErrorKind::Ack,
            PublishError::new(PublishErrorKind::StreamNotFound),
        );
        assert!(no_stream_yet(&no_stream));
        assert!(!timed_out(&no_stream));
        let late = PutError::with_source(
            PutErrorKind::Ack,
            PublishError::new(PublishErrorKind::TimedOut),
        );
        assert!(timed_out(&late));
        assert!(!no_stream_yet(&late));
        let other = PutError::new(PutErrorKind::InvalidKey);
        assert!(!timed_out(&other) && !no_stream_yet(&other));
    }

    #[test]
    fn records_without_the_newer_fields_still_decode() {
        #[derive(Serialize)]
        struct Old {
            namespace: String,
            name: String,
            id: u64,
            node: NodeId,
            type_name: String,
            fingerprint: u64,
            max_pending_calls: Option<u64>,
            max_task_retries: i64,
            detached: bool,
        }
        let old = Old {
            namespace: "ns".into(),
            name: "n".into(),
            id: 7,
            node: NodeId::from_u64(9),
            type_name: "T".into(),
            fingerprint: 1,
            max_pending_calls: None,
            max_task_retries: 0,
            detached: true,
        };
        let bytes = rmp_serde::to_vec_named(&old).unwrap();
        let record: ActorRecord = super::super::wire::decode(&bytes).unwrap();
        assert_eq!(record.host(), NodeId::from_u64(9));
        assert_eq!(record.revival, None);
    }

    #[test]
    fn keys_are_valid_for_any_name() {
        let key = name_key("my ns", "a.b*>c");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        );
        assert_ne!(name_key("a", "bc"), name_key("ab", "c"));
        assert_eq!(name_key("", ""), "name.x.x");
    }
}
