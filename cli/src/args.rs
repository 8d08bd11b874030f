//! The command line: `helio status`, `helio list actors|nodes|channels`.

use clap::{Args, Parser, Subcommand};

/// Looks at a helio cluster: its nodes, and the named actors they host.
#[derive(Debug, Parser)]
#[command(name = "helio", version)]
pub struct Cli {
    /// What to show.
    #[command(subcommand)]
    pub command: Command,
}

/// What to show.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Nodes, actors and channels, as three tables.
    Status(Connection),
    /// One table, as `ray list` shows it.
    List {
        /// Which table.
        #[command(subcommand)]
        what: ListWhat,
    },
}

/// The table `helio list` shows.
#[derive(Debug, Subcommand)]
pub enum ListWhat {
    /// The named actors of the cluster.
    Actors(Connection),
    /// The nodes of the cluster: state, named actors, tasks running and waiting, resources.
    Nodes(Connection),
    /// The named channels of the cluster (`helio_channel::channel_named`).
    Channels(Connection),
    /// The placement groups of the cluster: strategy, state, and each bundle with its node.
    PlacementGroups(Connection),
}

/// Where the cluster is, and how to show what it holds.
#[derive(Clone, Debug, Args)]
pub struct Connection {
    /// The NATS server the cluster runs on; several servers of one NATS cluster
    /// comma-separated (`nats://a:4222,nats://b:4222,nats://c:4222`).
    #[arg(long, env = "HELIO_URL", default_value = "nats://127.0.0.1:4222")]
    pub url: String,
    /// The cluster's name (`Config::cluster_name`).
    #[arg(long, env = "HELIO_CLUSTER", default_value = "helio")]
    pub cluster: String,
    /// A token, for a server that asks for one.
    #[arg(long, env = "HELIO_TOKEN")]
    pub token: Option<String>,
    /// A user name, with `--password`.
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    /// The user's password.
    #[arg(long, env = "HELIO_PASSWORD", requires = "user")]
    pub password: Option<String>,
    /// JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also the named actors that died for good, with their cause (the cluster keeps the last
    /// ones: `Config::dead_actors_kept`).
    #[arg(long)]
    pub all: bool,
}

impl Command {
    /// The connection the command names.
    pub fn connection(&self) -> &Connection {
        match self {
            Command::Status(connection)
            | Command::List {
                what:
                    ListWhat::Actors(connection)
                    | ListWhat::Nodes(connection)
                    | ListWhat::Channels(connection)
                    | ListWhat::PlacementGroups(connection),
            } => connection,
        }
    }
}
