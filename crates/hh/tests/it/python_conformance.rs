//! The official `honeyhive` 1.7.0 Python client (and plain OpenTelemetry exporters,
//! HTTP and gRPC), unmodified, against a real `hh serve`.
//!
//! The Python side lives in `tests/python/conformance.py`; it drives the clients and
//! asserts through our REST API. Its interpreter comes from
//! `honeyhive_testkit::python` (skipped outside CI on a machine without `python3`).

use std::path::Path;
use std::process::Command;

use crate::common::{ServerProcess, TEST_KEY};
use honeyhive_testkit::python;

#[test]
fn official_python_client_works_unmodified() {
    let Some(py) = python::interpreter() else {
        return;
    };
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
