//! Starting, running and stopping the platform.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ServerError;
use crate::api::{AppState, router};
use crate::auth::{generate_key, hash_key};
use crate::config::ServerConfig;
use crate::store::sqlite::SqliteStore;
use crate::store::{EventStore, Store};

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
}

impl Server {
    /// Opens the store in `cfg.data_dir` (migrating it), creates the bootstrap
    /// key if configured, binds the listeners and starts serving.
    pub async fn start(cfg: ServerConfig) -> Result<RunningServer, ServerError> {
        let data_dir = cfg.data_dir.clone();
        let sync = cfg.sync_mode;
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir, sync))
            .await
            .map_err(|e| ServerError::Task(e.to_string()))??;
        let store = Arc::new(store);
        if let Some((key, project)) = &cfg.bootstrap_key {
            if key.trim().is_empty() || project.trim().is_empty() {
                return Err(ServerError::Invalid(
                    "bootstrap key and project must not be empty".into(),
                ));
            }
            store
                .put_api_key(&hash_key(key.trim()), project.trim())
                .await?;
        }
        let dyn_store: Arc<dyn Store> = store.clone();
        let state = AppState::new(dyn_store, &cfg);
        let (stop, stopped) = watch::channel(false);

        let listener = tokio::net::TcpListener::bind(cfg.http_addr).await?;
        let http_addr = listener.local_addr()?;
        let app = router(state.clone());
        let mut http_stopped = stopped.clone();
        let http = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = http_stopped.wait_for(|s| *s).await;
                })
                .await
                .map_err(ServerError::Io)
        });
        let mut tasks = vec![http];

        let mut grpc_addr = None;
        #[cfg(feature = "grpc")]
        if let Some(addr) = cfg.grpc_addr {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            grpc_addr = Some(listener.local_addr()?);
            tasks.push(crate::grpc::spawn(listener, state, stopped.clone()));
        }
        #[cfg(not(feature = "grpc"))]
        let _ = stopped;

        tracing::info!(%http_addr, ?grpc_addr, data_dir = %cfg.data_dir.display(), "honeyhive server started");
        Ok(RunningServer {
            http_addr,
            grpc_addr,
            stop,
            tasks,
            store,
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

    /// Stops accepting connections, lets in-flight requests finish (each is
    /// answered only after its commit), stops the store writer and returns.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
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
    if project.is_empty() {
        return Err(ServerError::Invalid(
            "project name must not be empty".into(),
        ));
    }
    let key = generate_key();
    crate::store::sqlite::put_api_key_offline(data_dir, &hash_key(&key), project)?;
    Ok(key)
}
