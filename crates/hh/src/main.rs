//! `hh`: the one binary of honeyhive-rs — serve, demo, keys, eval, tail, bench.

mod bench;
mod client;
mod demo;
mod eval;
mod filters;
mod serve;
mod tail;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// LLM observability and evaluation: the honeyhive-rs platform and tools.
#[derive(Parser, Debug)]
#[command(name = "hh", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the platform: OTLP (HTTP + gRPC) and HoneyHive REST ingest into the embedded store.
    Serve(ServeArgs),
    /// Start the platform and drive a built-in sample agent through the Rust SDK.
    Demo(ServeArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Evaluate apps: run experiments (`run`), score stored traffic (`events`), score JSON lines (`metric`).
    Eval {
        #[command(subcommand)]
        command: eval::EvalCommand,
    },
    /// Follow a project's events as they commit, one coloured line each (like `kubectl logs -f`).
    Tail(tail::TailArgs),
    /// Benchmarks that need a running server.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

/// Where the platform listens and stores.
#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// Data directory of the embedded store.
    #[arg(long = "data", env = "HH_DATA_DIR", default_value = ".honeyhive")]
    data: PathBuf,
    /// HTTP listen address (REST, OTLP/HTTP, ops endpoints).
    #[arg(long, env = "HH_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// OTLP/gRPC listen address.
    #[arg(
        long = "grpc-addr",
        env = "HH_GRPC_ADDR",
        default_value = "127.0.0.1:4317"
    )]
    grpc_addr: SocketAddr,
    /// Largest accepted request body, in bytes.
    #[arg(long = "max-body-bytes", env = "HH_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Memory budget of requests in flight, in bytes (bodies, decompressed bodies, decoding).
    #[arg(long = "max-inflight-bytes", env = "HH_MAX_INFLIGHT_BYTES", default_value_t = 256 * 1024 * 1024)]
    max_inflight_bytes: usize,
    /// Most spans (or events) one request may carry.
    #[arg(
        long = "max-spans-per-request",
        env = "HH_MAX_SPANS_PER_REQUEST",
        default_value_t = 50_000
    )]
    max_spans_per_request: usize,
    /// Most open client connections, both listeners together.
    #[arg(
        long = "max-connections",
        env = "HH_MAX_CONNECTIONS",
        default_value_t = 4096
    )]
    max_connections: usize,
    /// Seconds a client has to send a request's headers.
    #[arg(
        long = "header-timeout",
        env = "HH_HEADER_TIMEOUT_SECS",
        default_value_t = 20
    )]
    header_timeout_secs: u64,
    /// Seconds a connection may stay silent before it is closed.
    #[arg(
        long = "idle-timeout",
        env = "HH_IDLE_TIMEOUT_SECS",
        default_value_t = 60
    )]
    idle_timeout_secs: u64,
    /// Most bytes of stored text one read answer may load (event pages, exports, charts, session trees).
    #[arg(long = "max-read-bytes", env = "HH_MAX_READ_BYTES", default_value_t = 64 * 1024 * 1024)]
    max_read_bytes: usize,
    /// Most events one session tree may hold (GET /v1/sessions/{id}).
    #[arg(
        long = "max-session-events",
        env = "HH_MAX_SESSION_EVENTS",
        default_value_t = 20_000
    )]
    max_session_events: usize,
    /// Most events the run routes read of one run (result, comparisons, metrics, schema).
    #[arg(
        long = "max-run-events",
        env = "HH_MAX_RUN_EVENTS",
        default_value_t = 200_000
    )]
    max_run_events: usize,
    /// Bearer token for GET /metrics (unset: loopback clients only).
    #[arg(
        long = "metrics-token",
        env = "HH_METRICS_TOKEN",
        hide_env_values = true
    )]
    metrics_token: Option<String>,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create an API key for a project and print it.
    Create {
        /// Project the key acts for (created if new).
        #[arg(long, default_value = "default")]
        project: String,
        /// Data directory of the embedded store.
        #[arg(long = "data", env = "HH_DATA_DIR", default_value = ".honeyhive")]
        data: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Load-generate OTLP protobuf ingest against a fresh `hh serve` and report throughput, CPU, RSS.
    Ingest(bench::IngestArgs),
    /// Load-generate the event API's small requests (session start + enrichment) and report requests/s.
    Events(bench::EventsArgs),
    /// Time run results and comparisons over two seeded runs, and /healthz while they run.
    Runs(bench::RunsArgs),
    /// Live push: commit → subscriber latency at a steady rate, and ingest throughput with N subscribers vs none.
    Live(bench::LiveArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Keys {
            command: KeysCommand::Create { project, data },
        } => {
            let key = honeyhive_server::create_api_key(&data, &project)?;
            println!("{key}");
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Ingest(args),
        } => bench::ingest(args),
        Command::Bench {
            command: BenchCommand::Events(args),
        } => bench::events(args),
        Command::Bench {
            command: BenchCommand::Runs(args),
        } => bench::runs(args),
        Command::Bench {
            command: BenchCommand::Live(args),
        } => bench::live(args),
        Command::Eval { command } => eval::run(command),
        Command::Tail(args) => tail::run(args),
    }
}
