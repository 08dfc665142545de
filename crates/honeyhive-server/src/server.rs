//! Starting, running and stopping the platform.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{AppState, router};
use crate::auth::{KeyStrength, check_operator_key, generate_key, hash_key};
use crate::config::ServerConfig;
use crate::dashboard::{self, SignIn};
use crate::error::ServerError;
use crate::listen::{ConnectionGate, ConnectionLimits, Listening};
use crate::live::LiveHub;
use crate::store::sqlite::SqliteStore;
use crate::store::{CatalogStore, Store};

/// File descriptors kept for everything but client connections: the store's
/// files and read connections, the listeners, logs.
const RESERVED_FILES: u64 = 256;
/// Longest project name a key may be created for.
pub const MAX_PROJECT_NAME_LEN: usize = 200;

/// Entry point: [`Server::start`].
#[derive(Debug)]
pub struct Server;

/// A started server. Drop does not stop it; call [`RunningServer::shutdown`]
/// (or [`RunningServer::wait`], which shuts down on Ctrl-C / SIGTERM).
#[derive(Debug)]
pub struct RunningServer {
    http_addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), ServerError>>>,
    store: Arc<SqliteStore>,
    live: LiveHub,
    sign_in: Arc<SignIn>,
    bootstrap_key_hash: Option<String>,
}

impl Server {
    /// Opens the store in `cfg.data_dir` (migrating it), creates the bootstrap
    /// key if configured, binds the listeners and starts serving.
    pub async fn start(cfg: ServerConfig) -> Result<RunningServer, ServerError> {
        validate(&cfg)?;
        let data_dir = cfg.data_dir.clone();
        let sync = cfg.sync_mode;
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir, sync))
            .await
            .map_err(|e| ServerError::Task(e.to_string()))??;
        let store = Arc::new(store);
        if let Some((key, project)) = &cfg.bootstrap_key {
            store
                .put_api_key(&hash_key(key.trim()), project.trim())
                .await?;
        }
        let live = LiveHub::start(cfg.live, crate::api::event_text)?;
        store.attach_feed(Arc::new(live.clone()));
        let dyn_store: Arc<dyn Store> = store.clone();
        let sign_in = Arc::new(SignIn::open(&cfg.data_dir)?);
        let state = AppState::new(dyn_store, &cfg, live.clone());
        let (stop, stopped) = watch::channel(false);
        let listening = Listening {
            limits: ConnectionLimits {
                header_read_timeout: cfg.header_read_timeout,
                idle_timeout: cfg.idle_timeout,
            },
            gate: ConnectionGate::new(connection_capacity(cfg.max_connections)),
            metrics: state.metrics.clone(),
            stopped: stopped.clone(),
            http2_only: false,
        };

        let listener = tokio::net::TcpListener::bind(cfg.http_addr).await?;
        let http_addr = listener.local_addr()?;
        let routes = router(state.clone()).merge(dashboard::routes(state.clone(), sign_in.clone()));
        #[cfg(feature = "graphql")]
        let routes = routes.merge(crate::graphql::routes(state.clone(), stopped.clone()));
        let mut tasks = vec![crate::listen::spawn(listener, routes, listening.clone())];

        #[cfg_attr(not(feature = "grpc"), allow(unused_mut))]
        let mut grpc_addr = None;
        #[cfg(feature = "grpc")]
        if let Some(addr) = cfg.grpc_addr {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            grpc_addr = Some(listener.local_addr()?);
            let grpc = Listening {
                http2_only: true,
                ..listening.clone()
            };
            tasks.push(crate::listen::spawn(
                listener,
                crate::api::ingest::grpc::router(state.clone()),
                grpc,
            ));
        }
        tasks.push(crate::sweep::spawn(state, stopped));

        tracing::info!(
            %http_addr,
            ?grpc_addr,
            data_dir = %cfg.data_dir.display(),
            max_connections = listening.gate.capacity(),
            "honeyhive server started"
        );
        Ok(RunningServer {
            http_addr,
            grpc_addr,
            stop,
            tasks,
            store,
            live,
            sign_in,
            bootstrap_key_hash: cfg
                .bootstrap_key
                .as_ref()
                .map(|(key, _)| hash_key(key.trim())),
        })
    }
}

impl RunningServer {
    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound gRPC address, if gRPC is enabled.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// A single-use dashboard link that signs in with the bootstrap key, valid
    /// for 15 minutes; `None` without a bootstrap key.
    ///
    /// ```no_run
    /// # async fn demo(server: honeyhive_server::RunningServer) {
    /// if let Some(link) = server.sign_in_link() {
    ///     println!("open the dashboard: {link}");
    /// }
    /// # }
    /// ```
    pub fn sign_in_link(&self) -> Option<String> {
        let hash = self.bootstrap_key_hash.as_ref()?;
        let host = match self.http_addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Some(format!(
            "http://{host}:{}/login?token={}",
            self.http_addr.port(),
            self.sign_in.one_time_token(hash)
        ))
    }

    /// Stops accepting connections, lets in-flight requests finish (each is
    /// answered only after its commit), stops the store writer and returns.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        // Live streams never finish on their own: end them, so their
        // connections close with the others.
        let live = self.live.clone();
        let _ = tokio::task::spawn_blocking(move || live.close()).await;
        let mut first_error = None;
        for task in self.tasks {
            let outcome = match task.await {
                Ok(result) => result,
                Err(e) => Err(ServerError::Task(e.to_string())),
            };
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        let store = self.store;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn wait(self) -> Result<(), ServerError> {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await
    }
}

/// Refuses a configuration the server cannot honour, before anything starts.
fn validate(cfg: &ServerConfig) -> Result<(), ServerError> {
    if let Some((key, project)) = &cfg.bootstrap_key {
        let project = project.trim();
        if project.is_empty() || project.chars().count() > MAX_PROJECT_NAME_LEN {
            return Err(ServerError::Invalid(format!(
                "the bootstrap project name must have 1 to {MAX_PROJECT_NAME_LEN} characters"
            )));
        }
        match check_operator_key(key.trim()).map_err(ServerError::Invalid)? {
            KeyStrength::Strong => {}
            KeyStrength::Short => tracing::warn!(
                "HH_API_KEY is shorter than 32 characters: anyone who guesses it can write to \
                 project {project:?}; use a random key (`hh keys create`)"
            ),
        }
    }
    if cfg.max_inflight_bytes < cfg.max_body_bytes {
        return Err(ServerError::Invalid(format!(
            "max_inflight_bytes ({}) must be at least max_body_bytes ({})",
            cfg.max_inflight_bytes, cfg.max_body_bytes
        )));
    }
    if cfg.header_read_timeout.is_zero() || cfg.idle_timeout.is_zero() {
        return Err(ServerError::Invalid(
            "header_read_timeout and idle_timeout must be positive".into(),
        ));
    }
    Ok(())
}

/// The connection cap the process can honour: the soft file limit is raised
/// to the hard one where it is lower, and the cap kept below what remains
/// after the store's own files.
fn connection_capacity(configured: usize) -> usize {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "could not read or raise the open file limit");
            return configured;
        }
    };
    let room = usize::try_from(soft.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX);
    if room < configured {
        tracing::warn!(
            configured,
            allowed = room,
            file_limit = soft,
            "the open file limit allows fewer connections than configured; raise `ulimit -n`"
        );
    }
    configured.min(room)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Creates a new API key for `project` (creating the project) in the store at
/// `data_dir` and returns it. Works while no server runs (and while one does:
/// SQLite serializes the writers). Blocking.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("hh-doc-keys-{}", std::process::id()));
/// let key = honeyhive_server::create_api_key(&dir, "demo").unwrap();
/// assert!(key.starts_with("hh_"));
/// # let _ = std::fs::remove_dir_all(&dir);
/// ```
pub fn create_api_key(data_dir: &Path, project: &str) -> Result<String, ServerError> {
    let project = project.trim();
    if project.is_empty() || project.chars().count() > MAX_PROJECT_NAME_LEN {
        return Err(ServerError::Invalid(format!(
            "project name must have 1 to {MAX_PROJECT_NAME_LEN} characters"
        )));
    }
    let key = generate_key();
    crate::store::sqlite::put_api_key_offline(data_dir, &hash_key(&key), project)?;
    Ok(key)
}
