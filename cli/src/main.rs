//! `helio`: looks at a helio cluster.
//!
//! ```text
//! helio status --url nats://127.0.0.1:4222 [--cluster NAME] [--token ..] [--json]
//! helio list actors ...
//! helio list nodes ...
//! helio list channels ...
//! helio list placement-groups ...
//! ```
//!
//! The command joins the cluster as a node of its own for a moment (named `helio-cli`; it
//! hosts nothing, and leaves its own node out of what it shows), asks the registry for the
//! nodes and named actors, pings every node, asks each actor's host for its state and each
//! process's channel directory for its channels, and leaves.

#![forbid(unsafe_code)]

mod args;
mod report;
mod table;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    args::{Cli, Command, Connection, ListWhat},
    report::{
        actor_rows, actors_table, channel_rows, channels_table, node_rows, nodes_table,
        placement_group_rows, placement_groups_table,
    },
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let connection = cli.command.connection().clone();
    if let Err(err) = helio::init(config(&connection)) {
        eprintln!("helio: {err}");
        return ExitCode::from(2);
    }
    // To call the channel directories of the other processes (this one opens none).
    helio::register::<helio_channel::ChannelDirectory>();
    let me = helio::current_node();
    let nodes = helio::nodes();
    let out = match &cli.command {
        Command::List {
            what: ListWhat::Nodes(_),
        } => {
            let rows = node_rows(&nodes, me);
            show(&connection, &rows, || nodes_table(&rows))
        }
        Command::List {
            what: ListWhat::Actors(_),
        } => {
            let rows = actor_rows(&actors(&connection), &nodes);
            show(&connection, &rows, || actors_table(&rows))
        }
        Command::List {
            what: ListWhat::Channels(_),
        } => {
            let rows = channel_rows(&helio::list_actors(), &nodes);
            show(&connection, &rows, || channels_table(&rows))
        }
        Command::List {
            what: ListWhat::PlacementGroups(_),
        } => {
            let rows = placement_group_rows(&helio::placement_groups(), &nodes);
            show(&connection, &rows, || placement_groups_table(&rows))
        }
        Command::Status(_) => {
            let nodes_rows = node_rows(&nodes, me);
            let listed = actors(&connection);
            let actors = actor_rows(&listed, &nodes);
            let channels = channel_rows(&listed, &nodes);
            let groups = placement_group_rows(&helio::placement_groups(), &nodes);
            if connection.json {
                let all = serde_json::json!({
                    "nodes": nodes_rows,
                    "actors": actors,
                    "channels": channels,
                    "placement_groups": groups,
                });
                Ok(format!("{all:#}\n"))
            } else {
                Ok(format!(
                    "Nodes ({})\n{}\nActors ({})\n{}\nChannels ({})\n{}\nPlacement groups ({})\n{}",
                    nodes_rows.len(),
                    nodes_table(&nodes_rows),
                    actors.len(),
                    actors_table(&actors),
                    channels.len(),
                    channels_table(&channels),
                    groups.len(),
                    placement_groups_table(&groups)
                ))
            }
        }
    };
    helio::shutdown();
    match out {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("helio: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The named actors: the live ones, and with `--all` the dead ones the cluster keeps.
fn actors(connection: &Connection) -> Vec<helio::ActorInfo> {
    let mut actors = helio::list_actors();
    if connection.all {
        actors.extend(helio::list_dead_actors());
        actors.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    }
    actors
}

/// The cluster configuration `connection` names: a client-only node, which no actor is ever
/// placed on.
fn config(connection: &Connection) -> helio::Config {
    let mut config = helio::Config::cluster(connection.url.clone())
        .cluster_name(connection.cluster.clone())
        .node_name("helio-cli")
        .host(false);
    if let Some(token) = &connection.token {
        config = config.token(token.clone());
    }
    if let (Some(user), Some(password)) = (&connection.user, &connection.password) {
        config = config.user_password(user.clone(), password.clone());
    }
    config
}

/// `rows` as JSON with `--json`, else as `table()`.
fn show<R: serde::Serialize>(
    connection: &Connection,
    rows: &[R],
    table: impl FnOnce() -> String,
) -> Result<String, serde_json::Error> {
    if connection.json {
        Ok(format!("{:#}\n", serde_json::to_value(rows)?))
    } else {
        Ok(table())
    }
}
