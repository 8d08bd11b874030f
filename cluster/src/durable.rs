//! Values that outlive their owner: [`put_durable`] stores a value in the cluster's JetStream
//! object store (bucket `helio_<cluster>_objects`), and its ref, wherever it goes, reads it
//! from there. It stays until [`delete_durable`], or until the bucket's retention drops it
//! (`Config::durable_objects_kept`, a day by default).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, object_store::ObjectStore};
use helio_runtime::ObjectRef;
use serde::{Serialize, de::DeserializeOwned};
use tokio::io::AsyncReadExt;

use super::{Cluster, block_on, current, refs::Where, wire};
use crate::{
    ActorError, MsgPack,
    seam::{Borrow, Codec},
};

/// How long a durable value is kept when nothing deletes it, unless configured.
pub(crate) const KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// Stores `value` in the cluster's JetStream object store, so that it outlives the process
/// that made it: a ref any process can read (once it crossed processes too) even after this
/// process died, as long as the value is kept (until [`delete_durable`], or the retention
/// `Config::durable_objects_kept`, a day by default). Returns once the server has it.
///
/// Reading the ref reads the value from the store, in this process too.
///
/// ```no_run
/// let r = helio_cluster::put_durable(vec![1u8, 2, 3])?;
/// // Pass `r` to any process, inside an argument or a result: it reads the bytes from the
/// // store even after this process is gone.
/// assert_eq!(r.get()?, vec![1, 2, 3]);
/// # Ok::<(), helio_runtime::ActorError>(())
/// ```
///
/// # Errors
/// [`ActorError::Wire`] outside cluster mode, when the value does not encode, or when the
/// server does not store it (JetStream off, out of space).
pub fn put_durable<T>(value: T) -> Result<ObjectRef<T>, ActorError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let wire_err = |message: String| ActorError::Wire { message };
    let cluster = current().ok_or_else(|| {
        wire_err(
            "put_durable needs cluster mode: call `helio::init(helio::Config::cluster(url))` \
             first"
                .to_owned(),
        )
    })?;
    let bytes = <MsgPack as Codec<T>>::encode(&value)
        .map_err(|err| wire_err(format!("a durable value could not be encoded: {err}")))?;
    drop(value);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{}-{}-{}",
        cluster.node(),
        super::node::now_millis(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // A minute, and a second more per 10 MB.
    let bound = Duration::from_secs(60 + (bytes.len() as u64 >> 20) / 10);
    let storing = {
        let cluster = Arc::clone(&cluster);
        let name = name.clone();
        async move {
            let store = store(&cluster).await?;
            store
                .put(name.as_str(), &mut bytes.as_slice())
                .await
                .map_err(|err| format!("the server did not store it: {err}"))
        }
    };
    block_on(&cluster.handle, bound, storing)?
        .map_err(|err| wire_err(format!("a durable value was not stored: {err}")))?;
    let borrow = borrow(&cluster, name)
        .map_err(|err| wire_err(format!("a durable value has no address: {err}")))?;
    Ok(ObjectRef::borrowed(borrow, |bytes| {
        <MsgPack as Codec<T>>::decode(bytes).map_err(|err| ActorError::Wire {
            message: format!("a durable value could not be decoded: {err}"),
        })
    }))
}

/// Deletes the durable value `r` refers to (made by [`put_durable`], here or in another
/// process): refs to it that have not read it yet resolve to an error from now on.
///
/// ```no_run
/// let r = helio_cluster::put_durable(String::from("report"))?;
/// helio_cluster::delete_durable(&r)?;
/// assert!(r.get().is_err());
/// # Ok::<(), helio_runtime::ActorError>(())
/// ```
///
/// # Errors
/// [`ActorError::Wire`] when `r` is not a durable value's ref, or the server did not delete
/// it.
pub fn delete_durable<T>(r: &ObjectRef<T>) -> Result<(), ActorError>
where
    T: Send + 'static,
{
    let wire_err = |message: String| ActorError::Wire { message };
    let cluster = current().ok_or_else(|| wire_err("not in cluster mode".to_owned()))?;
    let name = match crate::seam::borrowed_from(r).map(|a| wire::decode::<Where>(&a)) {
        Some(Ok(Where::Store(name))) => name,
        _ => return Err(wire_err("not the ref of a durable value".to_owned())),
    };
    let deleting = {
        let cluster = Arc::clone(&cluster);
        async move {
            let store = store(&cluster).await?;
            store
                .delete(name.as_str())
                .await
                .map_err(|err| format!("the server did not delete it: {err}"))
        }
    };
    block_on(&cluster.handle, Duration::from_secs(30), deleting)?.map_err(wire_err)
}

/// The cluster's object store, opened (or created) once.
async fn store(cluster: &Cluster) -> Result<ObjectStore, String> {
    cluster
        .durable
        .get_or_try_init(|| async {
            let js = jetstream::new(cluster.client.clone());
            let bucket = bucket(&cluster.cluster_name);
            if let Ok(store) = js.get_object_store(&bucket).await {
                let stream = format!("OBJ_{bucket}");
                let what = "the store of durable values";
                super::replicas::raise_named(&js, &stream, cluster.replicas, what).await;
                return Ok(store);
            }
            js.create_object_store(jetstream::object_store::Config {
                bucket: bucket.clone(),
                max_age: cluster.durable_kept,
                num_replicas: cluster.replicas,
                ..Default::default()
            })
            .await
            .map_err(|err| format!("could not open the object store {bucket}: {err}"))
        })
        .await
        .cloned()
}

/// The bucket of cluster `name`: `helio_<name>_objects`, with what a bucket name cannot hold
/// as `_`.
fn bucket(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("helio_{name}_objects")
}

/// The durable value `name`, borrowed: read from the store when first wanted.
pub(crate) fn borrow(cluster: &Arc<Cluster>, name: String) -> Result<Borrow, String> {
    let address = wire::encode(&Where::Store(name.clone())).map_err(|err| err.to_string())?;
    let reading = Arc::downgrade(cluster);
    Ok(Borrow {
        address,
        fetch: Box::new(move |done| {
            let Some(cluster) = reading.upgrade() else {
                return done(Err(ActorError::Wire {
                    message: "this process left the cluster".to_owned(),
                }));
            };
            let handle = cluster.handle.clone();
            handle.spawn(async move {
                let read = async {
                    let store = store(&cluster).await?;
                    let mut object = store
                        .get(name.as_str())
                        .await
                        .map_err(|err| format!("durable value {name} cannot be read: {err}"))?;
                    let mut bytes = Vec::new();
                    object
                        .read_to_end(&mut bytes)
                        .await
                        .map_err(|err| format!("durable value {name} cannot be read: {err}"))?;
                    Ok::<_, String>(bytes)
                };
                match tokio::time::timeout(Duration::from_secs(120), read).await {
                    Ok(Ok(bytes)) => {
                        super::refs::READ_BYTES.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        done(Ok(&bytes));
                    }
                    Ok(Err(message)) => done(Err(ActorError::Wire { message })),
                    Err(_) => done(Err(ActorError::Wire {
                        message: "a durable value took over 2 minutes to read".to_owned(),
                    })),
                }
            });
        }),
        release: Box::new(|| {}),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn bucket_names_hold_only_what_jetstream_takes() {
        assert_eq!(super::bucket("prod"), "helio_prod_objects");
        assert_eq!(super::bucket("a:b/c"), "helio_a_b_c_objects");
    }
}
