//! The official `honeyhive` 1.7.0 Python client (and plain OpenTelemetry exporters,
//! HTTP and gRPC), unmodified, against a real `hh serve`.
//!
//! The Python side lives in `tests/python/conformance.py`; it drives the clients and
//! asserts through our REST API. Its interpreter is `HH_CONFORMANCE_PYTHON` if set,
//! else a venv under `target/conformance-venv` created on first use from
//! `tests/python/requirements.txt` (`.ci/run` creates it up front).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerProcess, TEST_KEY};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/hh sits two levels below the workspace root")
        .to_path_buf()
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HH_CONFORMANCE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join("target/conformance-venv");
    let py = venv.join("bin/python");
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt");
    let ready = py.exists()
        && Command::new(&py)
            .args([
                "-c",
                "import honeyhive, opentelemetry.exporter.otlp.proto.grpc",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !ready {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 must be installed for the conformance test");
        assert!(status.success(), "creating {} failed", venv.display());
        let status = Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements)
            .status()
            .expect("run pip");
        assert!(
            status.success(),
            "pip install -r {} failed",
            requirements.display()
        );
    }
    py
}

#[test]
fn official_python_client_works_unmodified() {
    let py = python();
    let data = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(data.path(), "conformance");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/conformance.py");
    let output = Command::new(&py)
        .arg(&script)
        .env("HH_API_URL", server.base_url())
        .env("HH_API_KEY", TEST_KEY)
        .env("HH_PROJECT", "conformance")
        .env(
            "HH_GRPC_ENDPOINT",
            format!("http://127.0.0.1:{}", server.grpc_port),
        )
        .env_remove("HH_OTLP_PROTOCOL")
        .env("OTEL_SDK_DISABLED", "false")
        .output()
        .expect("run the conformance script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "conformance script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("checks passed"),
        "unexpected output: {stdout}"
    );
    println!("{stdout}");
    let status = server.terminate();
    assert!(status.success(), "hh serve exited with {status} on SIGTERM");
}
