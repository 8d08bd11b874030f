//! What the cluster holds, as rows: read from helio, shown as tables or JSON.

use std::time::Duration;

use helio::{ActorInfo, ActorState, NodeId, NodeInfo};
use serde::Serialize;

use crate::table::{Column, render};

/// A node, as `helio list nodes` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeRow {
    /// Its name.
    pub name: String,
    /// Its id, in hex.
    pub id: String,
    /// Its host name.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// What a ping just now said: alive, silent, gone or dead.
    pub state: String,
    /// How long ago it was last heard, in milliseconds.
    pub last_seen_ms: Option<u64>,
    /// The named actors it hosts, as `namespace/name`.
    pub actors: Vec<String>,
    /// Its resources, each with how much is held now.
    pub resources: Vec<ResourceRow>,
    /// The tasks it runs now (each holding its resources).
    pub running_tasks: u64,
    /// The tasks waiting on it for their resources.
    pub waiting_tasks: u64,
}

/// One resource of a node: how much its actors and tasks hold, of how much in all.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceRow {
    /// `CPU`, `GPU`, or a custom resource's name.
    pub name: String,
    /// Held now.
    pub used: f64,
    /// In all.
    pub total: f64,
}

/// `CPU 1/16 GPU 0/1`: each resource as used / total.
fn resources_cell(resources: &[ResourceRow]) -> String {
    if resources.is_empty() {
        return "-".to_owned();
    }
    resources
        .iter()
        .map(|r| format!("{} {}/{}", r.name, r.used, r.total))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A named actor, as `helio list actors` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ActorRow {
    /// The namespace of its name.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its Rust type, in full.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its state.
    pub state: String,
    /// The name of the node that hosts it (its id when the node has no record).
    pub node: String,
    /// The id of the node that hosts it, in hex.
    pub node_id: Option<String>,
    /// The process id of its host.
    pub pid: Option<u32>,
    /// How often it restarted.
    pub restarts: u32,
    /// Whether it is detached.
    pub detached: bool,
    /// Why it died, for a dead actor (`helio list actors --all`).
    pub cause: Option<String>,
}

/// A named channel, as `helio list channels` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelRow {
    /// Its name.
    pub name: String,
    /// Its item type, in full.
    pub item_type: String,
    /// The name of the node that hosts it.
    pub node: String,
    /// Its capacity; `None` when unbounded.
    pub capacity: Option<usize>,
    /// Items waiting.
    pub queued: usize,
    /// Registered senders.
    pub senders: usize,
    /// Registered receivers.
    pub receivers: usize,
    /// Items put in, in all.
    pub sent: u64,
    /// Items taken out, in all.
    pub received: u64,
    /// The most items ever waiting at once.
    pub high_watermark: usize,
    /// Whether it is closed (its senders or its receivers have all gone).
    pub closed: bool,
}

/// The named channels of the cluster, as each node's channel directory reports them; a
/// directory that does not answer within a few seconds is left out, with a warning.
pub fn channel_rows(actors: &[ActorInfo], nodes: &[NodeInfo]) -> Vec<ChannelRow> {
    use helio_channel::{ChannelDirectory, DIRECTORY_NAMESPACE};
    let mut rows = Vec::new();
    for actor in actors.iter().filter(|a| a.namespace == DIRECTORY_NAMESPACE) {
        let node = host_name(actor, nodes);
        let reports = helio::get_actor_in::<ChannelDirectory>(DIRECTORY_NAMESPACE, &actor.name)
            .map_err(|err| err.to_string())
            .and_then(|directory| {
                let channels = directory.methods().channels().remote();
                channels
                    .get_timeout(Duration::from_secs(5))
                    .map_err(|err| err.to_string())
            });
        let reports = match reports {
            Ok(reports) => reports,
            Err(err) => {
                eprintln!("helio: the channels of node {node} are not shown: {err}");
                continue;
            }
        };
        rows.extend(reports.into_iter().map(|report| ChannelRow {
            name: report.name,
            item_type: report.item_type,
            node: node.clone(),
            capacity: report.stats.capacity,
            queued: report.stats.queue_size,
            senders: report.stats.senders,
            receivers: report.stats.receivers,
            sent: report.stats.total_sent,
            received: report.stats.total_received,
            high_watermark: report.stats.high_watermark,
            closed: report.stats.senders_closed || report.stats.receivers_closed,
        }));
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// The name of the node that hosts `actor` (its id when the node has no record).
fn host_name(actor: &ActorInfo, nodes: &[NodeInfo]) -> String {
    let host = actor
        .node
        .and_then(|id| nodes.iter().find(|node| node.id == id));
    match (host, actor.node) {
        (Some(node), _) => node.name.clone(),
        (None, Some(id)) => id.to_string(),
        (None, None) => "-".to_owned(),
    }
}

/// The channels as a table.
pub fn channels_table(rows: &[ChannelRow]) -> String {
    let columns = [
        Column {
            header: "NAME",
            max: 14,
        },
        Column {
            header: "CAPACITY",
            max: 8,
        },
        Column {
            header: "QUEUED",
            max: 7,
        },
        Column {
            header: "SENDERS",
            max: 7,
        },
        Column {
            header: "RECEIVERS",
            max: 9,
        },
        Column {
            header: "SENT",
            max: 8,
        },
        Column {
            header: "RECEIVED",
            max: 8,
        },
        Column {
            header: "HIGH",
            max: 6,
        },
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                if row.closed {
                    format!("{} (closed)", row.name)
                } else {
                    row.name.clone()
                },
                row.capacity
                    .map_or_else(|| "unbounded".to_owned(), |c| c.to_string()),
                row.queued.to_string(),
                row.senders.to_string(),
                row.receivers.to_string(),
                row.sent.to_string(),
                row.received.to_string(),
                row.high_watermark.to_string(),
            ]
        })
        .collect();
    render(&columns, &cells)
}

/// The rows of `nodes`, leaving out `me` (the command's own node).
pub fn node_rows(nodes: &[NodeInfo], me: Option<NodeId>) -> Vec<NodeRow> {
    nodes
        .iter()
        .filter(|node| Some(node.id) != me)
        .map(|node| NodeRow {
            name: node.name.clone(),
            id: node.id.to_string(),
            host: node.host.clone(),
            pid: node.pid,
            state: node.state.to_string(),
            last_seen_ms: node
                .last_heard
                .map(|ago| u64::try_from(ago.as_millis()).unwrap_or(u64::MAX)),
            actors: node
                .actors
                .iter()
                .filter(|a| !a.starts_with(helio_channel::DIRECTORY_NAMESPACE))
                .cloned()
                .collect(),
            resources: node
                .resources
                .iter()
                .map(|r| ResourceRow {
                    name: r.name.clone(),
                    used: r.used,
                    total: r.total,
                })
                .collect(),
            running_tasks: node.running_tasks,
            waiting_tasks: node.waiting_tasks,
        })
        .collect()
}

/// The rows of `actors`, naming each host node from `nodes`.
pub fn actor_rows(actors: &[ActorInfo], nodes: &[NodeInfo]) -> Vec<ActorRow> {
    actors
        .iter()
        // The channel directories are plumbing; their channels have a table of their own.
        .filter(|actor| actor.namespace != helio_channel::DIRECTORY_NAMESPACE)
        .map(|actor| {
            let host = actor
                .node
                .and_then(|id| nodes.iter().find(|node| node.id == id));
            ActorRow {
                namespace: actor.namespace.clone(),
                name: actor.name.clone(),
                type_name: actor.type_name.to_string(),
                state: actor_state(&actor.state),
                node: match (host, actor.node) {
                    (Some(node), _) => node.name.clone(),
                    (None, Some(id)) => id.to_string(),
                    (None, None) => "-".to_owned(),
                },
                node_id: actor.node.map(|id| id.to_string()),
                pid: actor.pid,
                restarts: actor.restarts,
                detached: actor.detached,
                cause: match &actor.state {
                    ActorState::Dead(cause) => Some(cause.to_string()),
                    _ => None,
                },
            }
        })
        .collect()
}

/// An actor's state in one word.
fn actor_state(state: &ActorState) -> String {
    match state {
        ActorState::Pending => "pending",
        ActorState::Alive => "alive",
        ActorState::Restarting => "restarting",
        ActorState::Dead(_) => "dead",
        ActorState::Unreachable => "unreachable",
        _ => "unknown",
    }
    .to_owned()
}

/// The nodes as a table: name, id, host, pid, state, when last heard (`SEEN`, how long
/// ago), named actors, tasks running (`RUN`) and waiting for their resources (`WAIT`), and
/// each resource as used/total.
pub fn nodes_table(rows: &[NodeRow]) -> String {
    let columns = [
        Column {
            header: "NAME",
            max: 16,
        },
        Column {
            header: "ID",
            max: 8,
        },
        Column {
            header: "HOST",
            max: 14,
        },
        Column {
            header: "PID",
            max: 7,
        },
        Column {
            header: "STATE",
            max: 7,
        },
        Column {
            header: "SEEN",
            max: 9,
        },
        Column {
            header: "ACTORS",
            max: 6,
        },
        Column {
            header: "RUN",
            max: 6,
        },
        Column {
            header: "WAIT",
            max: 6,
        },
        Column {
            header: "RESOURCES",
            max: 40,
        },
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.name.clone(),
                // The first 8 hex digits tell nodes apart; `--json` has the whole id.
                row.id.chars().take(8).collect(),
                row.host.clone(),
                row.pid.to_string(),
                row.state.clone(),
                row.last_seen_ms
                    .map_or_else(|| "-".to_owned(), |ms| ago(Duration::from_millis(ms))),
                row.actors.len().to_string(),
                row.running_tasks.to_string(),
                row.waiting_tasks.to_string(),
                resources_cell(&row.resources),
            ]
        })
        .collect();
    render(&columns, &cells)
}

/// The actors as a table.
pub fn actors_table(rows: &[ActorRow]) -> String {
    let mut columns = vec![
        Column {
            header: "NAME",
            max: 21,
        },
        Column {
            header: "TYPE",
            max: 12,
        },
        Column {
            header: "STATE",
            max: 11,
        },
        Column {
            header: "NODE",
            max: 10,
        },
        Column {
            header: "RESTARTS",
            max: 8,
        },
        Column {
            header: "DETACHED",
            max: 8,
        },
    ];
    // Dead actors (`--all`) say why, in a last column.
    let causes = rows.iter().any(|row| row.cause.is_some());
    if causes {
        columns.push(Column {
            header: "CAUSE",
            max: 60,
        });
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                // Names in the default namespace go bare; others as `namespace/name`.
                if row.namespace == helio::DEFAULT_NAMESPACE {
                    row.name.clone()
                } else {
                    format!("{}/{}", row.namespace, row.name)
                },
                short_type(&row.type_name),
                row.state.clone(),
                row.node.clone(),
                row.restarts.to_string(),
                if row.detached { "yes" } else { "no" }.to_owned(),
            ];
            if causes {
                cells.push(row.cause.clone().unwrap_or_else(|| "-".to_owned()));
            }
            cells
        })
        .collect();
    render(&columns, &cells)
}

/// `a::b::Counter<c::Item>` as `Counter<Item>`: the paths left out, for a narrow column.
pub fn short_type(full: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(word.rsplit("::").next().unwrap_or(&word));
    out
}

/// A duration as a short "how long ago" (the column says "ago": `SEEN`).
fn ago(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 10_000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}s", duration.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_lose_their_paths() {
        assert_eq!(short_type("app::workers::Counter"), "Counter");
        assert_eq!(
            short_type("helio_channel::actor::RayChannelActor<alloc::string::String>"),
            "RayChannelActor<String>"
        );
        assert_eq!(short_type("m::Pair<u8, m::X>"), "Pair<u8, X>");
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(ago(Duration::from_millis(320)), "0.3s");
        assert_eq!(ago(Duration::from_secs(75)), "75s");
    }
}

/// A placement group, as `helio list placement-groups` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct PlacementGroupRow {
    /// Its id.
    pub id: String,
    /// `PACK`, `SPREAD`, `STRICT_PACK` or `STRICT_SPREAD`.
    pub strategy: String,
    /// `pending` or `created`.
    pub state: String,
    /// Its bundles' resources, by name.
    pub bundles: Vec<Vec<(String, f64)>>,
    /// The node of each bundle (by name), once created.
    pub nodes: Vec<String>,
    /// The node that made it (by name).
    pub creator: String,
}

/// The rows of `groups`, naming nodes as `nodes` does (else by id).
pub fn placement_group_rows(
    groups: &[helio::PlacementGroupInfo],
    nodes: &[NodeInfo],
) -> Vec<PlacementGroupRow> {
    let name = |id: NodeId| {
        nodes
            .iter()
            .find(|node| node.id == id)
            .map_or_else(|| id.to_string(), |node| node.name.clone())
    };
    groups
        .iter()
        .map(|group| PlacementGroupRow {
            id: group.id.clone(),
            strategy: group.strategy.clone(),
            state: group.state.clone(),
            bundles: group.bundles.clone(),
            nodes: group.nodes.iter().map(|&node| name(node)).collect(),
            creator: name(group.creator),
        })
        .collect()
}

/// `{CPU 1, GPU 0.5}`: a bundle's resources.
fn bundle_cell(bundle: &[(String, f64)]) -> String {
    let inner: Vec<String> = bundle
        .iter()
        .map(|(name, amount)| format!("{name} {amount}"))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// The placement groups as a table: one line per bundle, the group's columns on its first.
pub fn placement_groups_table(rows: &[PlacementGroupRow]) -> String {
    let columns = [
        Column {
            header: "ID",
            max: 21,
        },
        Column {
            header: "STRATEGY",
            max: 13,
        },
        Column {
            header: "STATE",
            max: 7,
        },
        Column {
            header: "BUNDLE",
            max: 18,
        },
        Column {
            header: "NODE",
            max: 12,
        },
    ];
    let mut cells: Vec<Vec<String>> = Vec::new();
    for row in rows {
        for (index, bundle) in row.bundles.iter().enumerate() {
            let first = index == 0;
            let or_blank = |text: &str| {
                if first {
                    text.to_owned()
                } else {
                    String::new()
                }
            };
            cells.push(vec![
                or_blank(&row.id),
                or_blank(&row.strategy),
                or_blank(&row.state),
                format!("{index} {}", bundle_cell(bundle)),
                row.nodes
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| "-".to_owned()),
            ]);
        }
    }
    render(&columns, &cells)
}
