//! Where the cluster is, and how this process joins it.

use std::{fmt, path::PathBuf, time::Duration};

use super::{registry::Registry, wire::check_token};

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
        }
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
        if self.url.trim().is_empty() {
            return Err("the cluster url is empty".to_owned());
        }
        Ok(())
    }

    /// Connects and opens the registry: the connection for control (calls, replies,
    /// heartbeats, the registry), then one for data (values too large for one message, read
    /// in chunks: `fetch.rs`), so that heartbeats never wait behind bulk data.
    pub(crate) async fn connect(
        self,
    ) -> Result<(async_nats::Client, async_nats::Client, Registry), String> {
        let client = self.client("").await?;
        let data = self.client(" data").await?;
        let registry = Registry::open(client.clone(), &self.cluster_name).await?;
        Ok((client, data, registry))
    }

    /// One connection to the server; `role` ends its name.
    async fn client(&self, role: &str) -> Result<async_nats::Client, String> {
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
            .connect(self.url.as_str())
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
