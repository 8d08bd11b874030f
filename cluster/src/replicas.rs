//! The JetStream streams helio keeps its state in (the registry, the store of durable values),
//! opened with as many replicas as configured: created with them when missing, raised to
//! them when an earlier process made the stream with fewer.
//!
//! Right after a NATS cluster starts, or loses the server that led a stream, JetStream answers
//! "temporarily unavailable" for a few seconds while it elects a leader: opening tries again
//! for up to [`SETTLE`] before it gives up with the server's last answer.

use std::time::{Duration, Instant};

use async_nats::jetstream::{Context, ErrorCode, context::CreateStreamErrorKind, stream};

/// How long opening a stream keeps trying while JetStream settles (within the bound `init`
/// puts on joining: `connect_timeout` + 5 s).
const SETTLE: Duration = Duration::from_secs(8);

/// The bound on each request while opening.
const TRY: Duration = Duration::from_secs(2);

/// Opens the stream `config` describes (`what` names it in errors), creating it when it does
/// not exist, and raising its replicas to `config.num_replicas` when it has fewer.
pub(crate) async fn open_stream(
    js: &Context,
    config: stream::Config,
    what: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE;
    // A request JetStream takes while it has no leader goes unanswered: each try is bounded
    // short, and the next one goes after it.
    let mut js = js.clone();
    js.set_timeout(TRY);
    let js = &js;
    loop {
        let last = match js.get_stream(&config.name).await {
            Ok(mut found) => match found.info().await {
                // On a NATS cluster a stream takes writes once its group has a leader: right
                // after it was made, or while a lost server's streams elect new ones.
                Ok(info) if led(info) => {
                    let have = info.config.clone();
                    // Raised: look again, until the grown group has its leader.
                    if raise(js, have, config.num_replicas, what).await {
                        continue;
                    }
                    return Ok(());
                }
                Ok(_) => "the stream has no leader yet".to_owned(),
                Err(err) => err.to_string(),
            },
            // Missing (or JetStream not answering yet): create it, and look again. Processes
            // that start at the same moment may all find none and all create it: every create
            // but one fails ("already in use"), and the stream is there on the next turn.
            Err(_) => match js.create_stream(config.clone()).await {
                Ok(_) => continue,
                // No JetStream on the server, or not enough servers for the replicas: no
                // wait makes that change.
                Err(err) if lasting(&err.kind()) => {
                    return Err(hint(what, &config, &err.to_string()));
                }
                Err(err) => err.to_string(),
            },
        };
        if Instant::now() >= deadline {
            return Err(hint(what, &config, &last));
        }
        tracing::debug!(%last, what, "JetStream not ready; trying again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the stream `info` describes can take writes: it has a leader (on a NATS cluster),
/// or is on a single server.
fn led(info: &stream::Info) -> bool {
    info.cluster
        .as_ref()
        .is_none_or(|cluster| cluster.leader.is_some() || cluster.raft_group.is_none())
}

/// Raises the stream `name` (made by another part of async-nats: an object store's) to
/// `wanted` replicas, if it has fewer.
pub(crate) async fn raise_named(js: &Context, name: &str, wanted: usize, what: &str) {
    if let Ok(mut found) = js.get_stream(name).await
        && let Ok(info) = found.info().await
    {
        raise(js, info.config.clone(), wanted, what).await;
    }
}

/// Whether a create failed for a reason that lasts: no JetStream at all (no responders), or
/// fewer servers with JetStream than replicas asked for.
fn lasting(kind: &CreateStreamErrorKind) -> bool {
    match kind {
        CreateStreamErrorKind::JetStreamUnavailable => true,
        CreateStreamErrorKind::JetStream(err) => matches!(
            err.error_code(),
            ErrorCode::INSUFFICIENT_RESOURCES | ErrorCode::CLUSTER_NO_PEERS
        ),
        _ => false,
    }
}

/// Raises the stream `have` describes to `wanted` replicas, if it has fewer; says how to do
/// it by hand when the server refuses. Whether it raised it.
async fn raise(js: &Context, have: stream::Config, wanted: usize, what: &str) -> bool {
    if have.num_replicas >= wanted {
        return false;
    }
    let name = have.name.clone();
    let from = have.num_replicas;
    let raised = stream::Config {
        num_replicas: wanted,
        ..have
    };
    match js.update_stream(raised).await {
        Ok(_) => {
            tracing::info!(stream = %name, from, to = wanted, "{what}'s replicas raised");
            true
        }
        Err(err) => {
            tracing::warn!(
                stream = %name,
                %err,
                "{what} is kept by {from} server(s), not the {wanted} configured: raise it \
                 with `nats stream edit {name} --replicas {wanted}`"
            );
            false
        }
    }
}

/// The error for a stream that could not be opened, with what to do about it.
fn hint(what: &str, config: &stream::Config, last: &str) -> String {
    let replicas = config.num_replicas;
    let more = if replicas > 1 {
        format!(
            "; it asks for {replicas} replicas: run JetStream on at least {replicas} servers \
             of the NATS cluster, or set `Config::replicas(1)`"
        )
    } else {
        String::new()
    };
    format!(
        "could not open {what} (stream {}): {last} (is JetStream enabled on the server? start \
         it with `nats-server -js`{more})",
        config.name
    )
}
