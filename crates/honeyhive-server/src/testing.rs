//! Test support: a real server on 127.0.0.1 with a fresh data dir and a known key.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")] async fn main() {
//! let server = honeyhive_server::testing::TestServer::start().await;
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! server.stop().await;
//! # }
//! ```
// Test support: a failed expectation is the calling test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::config::{ServerConfig, SyncMode};
use crate::server::{RunningServer, Server};

/// The project the test key belongs to.
pub const TEST_PROJECT: &str = "test-project";

/// A running server over a temporary data dir (removed on drop).
#[derive(Debug)]
pub struct TestServer {
    server: Option<RunningServer>,
    data_dir: TempDir,
    /// The bearer key of [`TEST_PROJECT`].
    pub api_key: String,
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory under the system temp dir.
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("hh-test-{}", crate::ids::new_id()));
        let _ = std::fs::create_dir_all(&dir);
        TempDir(dir)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A config for tests: ephemeral ports on 127.0.0.1, gRPC on, `synchronous=NORMAL`
/// (durable across a process kill, which is all a test can observe, and fast).
pub fn test_config(data_dir: &Path, api_key: &str) -> ServerConfig {
    ServerConfig {
        data_dir: data_dir.to_path_buf(),
        http_addr: "127.0.0.1:0"
            .parse()
            .unwrap_or_else(|_| ([127, 0, 0, 1], 0).into()),
        grpc_addr: Some(([127, 0, 0, 1], 0).into()),
        bootstrap_key: Some((api_key.to_string(), TEST_PROJECT.to_string())),
        sync_mode: SyncMode::Normal,
        ..ServerConfig::default()
    }
}

impl TestServer {
    /// Starts a server with a fresh data dir and the key [`TestServer::api_key`].
    /// Panics if it cannot start (test code only).
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with a chance to change the config first.
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let data_dir = TempDir::new();
        let api_key = crate::auth::generate_key();
        let mut config = test_config(data_dir.path(), &api_key);
        adjust(&mut config);
        let server = Server::start(config).await.expect("test server starts");
        TestServer {
            server: Some(server),
            data_dir,
            api_key,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server().http_addr())
    }

    /// `http://127.0.0.1:PORT` of the gRPC listener.
    pub fn grpc_url(&self) -> String {
        match self.server().grpc_addr() {
            Some(addr) => format!("http://{addr}"),
            None => String::new(),
        }
    }

    /// `Bearer <key>`.
    pub fn auth_header(&self) -> String {
        format!("Bearer {}", self.api_key)
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The running server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server is running")
    }

    /// Shuts down gracefully and restarts on the same data dir and key
    /// (new ports): proves what was acknowledged survived.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("graceful shutdown");
        }
        let config = test_config(self.data_dir.path(), &self.api_key);
        self.server = Some(Server::start(config).await.expect("test server restarts"));
    }

    /// Creates another project with its own key; returns the key.
    pub fn create_project_key(&self, project: &str) -> String {
        crate::create_api_key(self.data_dir.path(), project).expect("create key")
    }

    /// Shuts down gracefully and removes the data dir.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("graceful shutdown");
        }
    }
}
