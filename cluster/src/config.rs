//! Where the cluster is, and how this process joins it.

use std::{fmt, path::PathBuf, time::Duration};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{registry::Registry, wire::check_token};

/// What joining connects: the control connection, the data connection, the registry, and
/// the control connection's events.
pub(crate) type Connected = (
    async_nats::Client,
    async_nats::Client,
    Registry,
    UnboundedReceiver<async_nats::Event>,
);

/// How to authenticate to the NATS server.
#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    Token(String),
    UserPassword(String, String),
    NKey(String),
    CredentialsFile(PathBuf),
}

impl fmt::Debug for Auth {
    // Never prints a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Token(_) => "Token(..)",
            Auth::UserPassword(..) => "UserPassword(..)",
            Auth::NKey(_) => "NKey(..)",
            Auth::CredentialsFile(_) => "CredentialsFile(..)",
        })
    }
}

/// The cluster part of a [`Config`](crate::Config), made by
/// [`Config::cluster`](crate::Config::cluster).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub(crate) url: String,
    pub(crate) cluster_name: String,
    node_name: Option<String>,
    auth: Auth,
    pub(crate) connect_timeout: Duration,
    pub(crate) node_timeout: Duration,
    tls: Tls,
    /// Whether this process hosts actors for others (`Placement::Any`, `Node`, restarts).
    pub(crate) hosts: bool,
    /// How many tombstones of dead actors the registry keeps, and for how long.
    pub(crate) retention: super::deaths::Retention,
    /// How long the object store keeps a durable value nothing deleted (`put_durable`).
    pub(crate) durable_kept: Duration,
    /// How many servers keep each JetStream stream helio creates (`None`: see
    /// [`replicas_for`](ClusterConfig::replicas_for)).
    replicas: Option<usize>,
}

/// TLS settings (rustls, through async-nats).
#[derive(Clone, Debug, Default)]
struct Tls {
    required: bool,
    roots: Vec<PathBuf>,
    client: Option<(PathBuf, PathBuf)>,
}

impl ClusterConfig {
    pub(crate) fn new(url: String) -> Self {
        ClusterConfig {
            url,
            cluster_name: "helio".to_owned(),
            node_name: None,
            auth: Auth::None,
            connect_timeout: Duration::from_secs(5),
            node_timeout: Duration::from_secs(3),
            tls: Tls::default(),
            hosts: true,
            retention: super::deaths::Retention {
                most: 1000,
                longest: Duration::from_secs(3600),
            },
            durable_kept: super::durable::KEPT,
            replicas: None,
        }
    }

    pub(crate) fn set_replicas(&mut self, replicas: usize) {
        self.replicas = Some(replicas);
    }

    /// The servers to connect to: the url's comma-separated parts.
    pub(crate) fn servers(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// How many replicas each stream gets: as configured, else 3 when the server is part of a
    /// cluster of at least 3 servers (what it says in its `INFO`), else 1.
    pub(crate) fn replicas_for(&self, info: &async_nats::ServerInfo) -> usize {
        self.replicas
            .unwrap_or(if info.cluster.is_some() && info.connect_urls.len() >= 3 {
                3
            } else {
                1
            })
    }

    pub(crate) fn set_durable_kept(&mut self, kept: Duration) {
        self.durable_kept = kept;
    }

    pub(crate) fn set_hosts(&mut self, hosts: bool) {
        self.hosts = hosts;
    }

    pub(crate) fn set_retention(&mut self, most: usize, longest: Duration) {
        self.retention = super::deaths::Retention { most, longest };
    }

    pub(crate) fn set_cluster_name(&mut self, name: String) {
        self.cluster_name = name;
    }

    pub(crate) fn set_node_name(&mut self, name: String) {
        self.node_name = Some(name);
    }

    pub(crate) fn set_token(&mut self, token: String) {
        self.auth = Auth::Token(token);
    }

    pub(crate) fn set_user_password(&mut self, user: String, password: String) {
        self.auth = Auth::UserPassword(user, password);
    }

    pub(crate) fn set_nkey(&mut self, seed: String) {
        self.auth = Auth::NKey(seed);
    }

    pub(crate) fn set_credentials_file(&mut self, path: PathBuf) {
        self.auth = Auth::CredentialsFile(path);
    }

    pub(crate) fn set_tls_required(&mut self, required: bool) {
        self.tls.required = required;
    }

    pub(crate) fn add_tls_root_certificates(&mut self, pem: PathBuf) {
        self.tls.required = true;
        self.tls.roots.push(pem);
    }

    pub(crate) fn set_tls_client_certificate(&mut self, cert: PathBuf, key: PathBuf) {
        self.tls.required = true;
        self.tls.client = Some((cert, key));
    }

    pub(crate) fn set_node_timeout(&mut self, timeout: Duration) {
        self.node_timeout = timeout;
    }

    pub(crate) fn set_connect_timeout(&mut self, timeout: Duration) {
        self.connect_timeout = timeout;
    }

    /// The node's name: as configured, else `host-pid`.
    pub(crate) fn node_name(&self) -> String {
        self.node_name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", super::node::host_name(), std::process::id()))
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        check_token("the cluster name", &self.cluster_name)?;
        if self.node_timeout < Duration::from_millis(30) {
            return Err(format!(
                "`node_timeout` must be at least 30 ms, not {:?}",
                self.node_timeout
            ));
        }
        let servers = self.servers();
        if servers.is_empty() {
            return Err("the cluster url is empty".to_owned());
        }
        for server in &servers {
            if let Err(err) = server.parse::<async_nats::ServerAddr>() {
                return Err(format!("`{server}` is not a NATS server url: {err}"));
            }
        }
        if let Some(n) = self.replicas
            && !(1..=5).contains(&n)
        {
            return Err(format!(
                "`replicas` must be 1 to 5 (what JetStream allows), not {n}"
            ));
        }
        Ok(())
    }

    /// Connects and opens the registry: the connection for control (calls, replies,
    /// heartbeats, the registry), then one for data (values too large for one message, read
    /// in chunks: `fetch.rs`), so that heartbeats never wait behind bulk data.
    /// The control connection's events (disconnects: `outage.rs`) come on the receiver.
    pub(crate) async fn connect(self) -> Result<Connected, String> {
        let (told, events) = tokio::sync::mpsc::unbounded_channel();
        let client = self.client("", Some(told)).await?;
        let data = self.client(" data", None).await?;
        let replicas = self.replicas_for(&client.server_info());
        let registry = Registry::open(client.clone(), &self.cluster_name, replicas).await?;
        Ok((client, data, registry, events))
    }

    /// One connection to the server; `role` ends its name. Its events go to `events`.
    async fn client(
        &self,
        role: &str,
        events: Option<UnboundedSender<async_nats::Event>>,
    ) -> Result<async_nats::Client, String> {
        // Back soon after the server is: a node that took longer than `node_timeout` to come
        // back would be declared dead by the others (async-nats waits up to 4 s by default).
        let longest = (self.node_timeout / 4).min(Duration::from_secs(4));
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("helio {}{role}", self.node_name()))
            .connection_timeout(self.connect_timeout)
            .reconnect_delay_callback(move |attempts| {
                let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
                Duration::from_millis(2u64.saturating_pow(exponent)).min(longest)
            });
        options = match self.auth.clone() {
            Auth::None => options,
            Auth::Token(token) => options.token(token),
            Auth::UserPassword(user, password) => options.user_and_password(user, password),
            Auth::NKey(seed) => options.nkey(seed),
            Auth::CredentialsFile(path) => {
                options.credentials_file(&path).await.map_err(|err| {
                    format!(
                        "could not read the credentials file {}: {err}",
                        path.display()
                    )
                })?
            }
        };
        if let Some(events) = events {
            options = options.event_callback(move |event| {
                // The receiver is gone only once the process left the cluster.
                let _ = events.send(event);
                std::future::ready(())
            });
        }
        if self.tls.required {
            options = options.require_tls(true);
        }
        for pem in self.tls.roots.iter().cloned() {
            options = options.add_root_certificates(pem);
        }
        if let Some((cert, key)) = self.tls.client.clone() {
            options = options.add_client_certificate(cert, key);
        }
        let client = options
            .connect(self.servers())
            .await
            .map_err(|err| err.to_string())?;
        // The handshake does not wait for the server to accept the credentials; a round
        // trip does, and fails when it refused them.
        client
            .flush()
            .await
            .map_err(|err| format!("the server did not answer: {err}"))?;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_one_server_or_several_comma_separated() {
        let one = ClusterConfig::new("nats://127.0.0.1:4222".to_owned());
        assert_eq!(one.servers(), ["nats://127.0.0.1:4222"]);
        assert_eq!(one.check(), Ok(()));
        let three = ClusterConfig::new("nats://a:1, nats://b:2 ,nats://c:3,".to_owned());
        assert_eq!(three.servers(), ["nats://a:1", "nats://b:2", "nats://c:3"]);
        assert_eq!(three.check(), Ok(()));
    }

    #[test]
    fn a_bad_url_among_several_is_named() {
        let bad = ClusterConfig::new("nats://a:1,nats://b:port".to_owned());
        let err = bad.check().expect_err("a bad port");
        assert!(
            err.starts_with("`nats://b:port` is not a NATS server url"),
            "{err}"
        );
        let empty = ClusterConfig::new(" , ".to_owned());
        assert_eq!(empty.check(), Err("the cluster url is empty".to_owned()));
    }

    #[test]
    fn replicas_are_three_on_a_cluster_of_three_unless_configured() {
        let info = |cluster: Option<&str>, urls: usize| async_nats::ServerInfo {
            cluster: cluster.map(str::to_owned),
            connect_urls: (0..urls).map(|i| format!("127.0.0.1:{i}")).collect(),
            ..Default::default()
        };
        let mut config = ClusterConfig::new("nats://a:1".to_owned());
        assert_eq!(config.replicas_for(&info(None, 0)), 1);
        assert_eq!(config.replicas_for(&info(Some("c"), 2)), 1);
        assert_eq!(config.replicas_for(&info(Some("c"), 3)), 3);
        assert_eq!(config.replicas_for(&info(Some("c"), 5)), 3);
        config.set_replicas(1);
        assert_eq!(config.replicas_for(&info(Some("c"), 3)), 1);
        config.set_replicas(7);
        assert!(config.check().expect_err("too many").contains("1 to 5"));
    }
}
