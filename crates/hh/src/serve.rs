//! `hh serve`: run the platform until Ctrl-C / SIGTERM.

use std::time::Duration;

use anyhow::{Context, Result};
use honeyhive_server::{RunningServer, Server, ServerConfig};

use crate::ServeArgs;

/// Builds the server config from the command line and the local-dev bootstrap variables.
pub(crate) fn config(args: &ServeArgs) -> ServerConfig {
    let bootstrap_key = std::env::var("HH_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(|key| {
            let project = std::env::var("HH_PROJECT")
                .ok()
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| "default".to_string());
            (key, project)
        });
    ServerConfig {
        data_dir: args.data.clone(),
        http_addr: args.addr,
        grpc_addr: Some(args.grpc_addr),
        max_body_bytes: args.max_body_bytes,
        max_inflight_bytes: args.max_inflight_bytes,
        max_spans_per_request: args.max_spans_per_request,
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_secs(args.header_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        metrics_token: args.metrics_token.clone().filter(|t| !t.trim().is_empty()),
        max_read_bytes: args.max_read_bytes,
        max_session_events: args.max_session_events,
        max_run_events: args.max_run_events,
        bootstrap_key,
        ..ServerConfig::default()
    }
}

pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) async fn start(args: &ServeArgs) -> Result<RunningServer> {
    let cfg = config(args);
    let data_dir = cfg.data_dir.clone();
    let server = Server::start(cfg)
        .await
        .with_context(|| format!("starting the platform on {}", data_dir.display()))?;
    tracing::info!("http listening on http://{}", server.http_addr());
    if let Some(grpc) = server.grpc_addr() {
        tracing::info!("otlp/grpc listening on {grpc}");
    }
    tracing::info!(
        "point clients at it: export HH_API_URL=http://{}",
        server.http_addr()
    );
    if let Some(link) = server.sign_in_link() {
        tracing::info!("open the dashboard (a one-time sign-in link, 15 minutes): {link}");
    }
    Ok(server)
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub(crate) async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    init_logging();
    runtime()?.block_on(async {
        let server = start(&args).await?;
        stop_signal().await;
        tracing::info!("stopping: finishing in-flight batches");
        server.shutdown().await.context("shutting down")?;
        tracing::info!("stopped cleanly");
        Ok(())
    })
}
