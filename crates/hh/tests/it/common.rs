//! A real `hh serve` child process on free loopback ports with its own data dir.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The key every test server is bootstrapped with.
pub const TEST_KEY: &str = "hh-test-key-0123456789abcdef0123";

pub struct ServerProcess {
    pub child: Child,
    pub http_port: u16,
    pub grpc_port: u16,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl ServerProcess {
    /// Starts `hh serve` on `data_dir` and waits until `/readyz` answers.
    pub fn start(data_dir: &Path, project: &str) -> ServerProcess {
        ServerProcess::start_with(data_dir, project, &[])
    }

    /// [`ServerProcess::start`] with more `hh serve` arguments.
    pub fn start_with(data_dir: &Path, project: &str, args: &[&str]) -> ServerProcess {
        let http_port = free_port();
        let grpc_port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_hh"))
            .args(["serve", "--data"])
            .arg(data_dir)
            .args(args)
            .args(["--addr", &format!("127.0.0.1:{http_port}")])
            .args(["--grpc-addr", &format!("127.0.0.1:{grpc_port}")])
            .env("HH_API_KEY", TEST_KEY)
            .env("HH_PROJECT", project)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn hh serve");
        let mut server = ServerProcess {
            child,
            http_port,
            grpc_port,
        };
        server.wait_ready();
        server
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn wait_ready(&mut self) {
        let agent = ureq::Agent::new_with_defaults();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("hh serve exited before it was ready: {status}");
            }
            if agent
                .get(&format!("{}/readyz", self.base_url()))
                .call()
                .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("hh serve was not ready after 60 s");
    }

    /// SIGTERM, then wait for the exit status (graceful shutdown).
    pub fn terminate(mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hh serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
