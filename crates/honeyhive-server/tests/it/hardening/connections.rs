//! Clients without a key cannot hold the server's connections: slow headers,
//! silent and idle connections are closed, past the cap a connection gets a
//! 503 at once, and the soft file limit is raised at start.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rusty_fork::rusty_fork_test;

use crate::common::Harness;

/// Longest a test waits for the server to close a connection it should close.
const CLOSE_DEADLINE: Duration = Duration::from_secs(20);

fn addr(h: &Harness) -> SocketAddr {
    h.server().server().http_addr()
}

/// Whether the server closes `stream` (EOF or reset) before the deadline,
/// reading and discarding whatever it answers first.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let deadline = Instant::now() + CLOSE_DEADLINE;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return true,
        }
    }
    false
}

/// Sends one request on `stream` and reads the whole answer (`Connection: close`).
fn request_text(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let _ = stream.set_read_timeout(Some(CLOSE_DEADLINE));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn slow_headers_and_silent_connections_are_closed_while_others_are_served() {
    let h = Harness::start_with(|c| {
        c.header_read_timeout = Duration::from_millis(600);
        c.idle_timeout = Duration::from_secs(2);
    });
    let addr = addr(&h);
    let mut silent: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // A slowloris: a request head sent one byte at a time, never finished.
    let trickler = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let head = b"POST /events HTTP/1.1\r\nHost: test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let started = Instant::now();
        for byte in head {
            if stream.write_all(&[*byte]).is_err() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // Every byte went out: the connection is still open only if no
        // read says otherwise.
        closed_by_server(&mut stream).then(|| started.elapsed())
    });
    assert_eq!(h.get("/healthz").status, 200, "served meanwhile");
    for stream in &mut silent {
        assert!(closed_by_server(stream), "a silent connection stayed open");
    }
    let trickled = trickler.join().expect("trickler");
    assert!(trickled.is_some(), "the slow head was never cut off");

    // A keep-alive connection that goes quiet after its answer is closed too.
    let mut idle = TcpStream::connect(addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    let mut first = [0u8; 512];
    let _ = idle.set_read_timeout(Some(CLOSE_DEADLINE));
    let n = idle.read(&mut first).expect("answer");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_by_server(&mut idle),
        "an idle keep-alive connection stayed open"
    );

    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).into_owned();
    assert!(
        metrics.contains("hh_connections_timed_out_total{reason=\"no_request\"}"),
        "{metrics}"
    );
}

#[test]
fn past_the_connection_cap_a_connection_is_answered_503_at_once() {
    let h = Harness::start_with(|c| c.max_connections = 4);
    let addr = addr(&h);
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // Each held connection has been accepted once it answers a request.
    for stream in &mut held {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .expect("send");
        let mut buf = [0u8; 512];
        let _ = stream.set_read_timeout(Some(CLOSE_DEADLINE));
        let n = stream.read(&mut buf).expect("answer");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    let mut extra = TcpStream::connect(addr).expect("connect");
    let answer = request_text(&mut extra, "/healthz");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(answer.contains("connection limit"), "{answer}");

    // Freed slots serve again.
    drop(held);
    let deadline = Instant::now() + CLOSE_DEADLINE;
    loop {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let answer = request_text(&mut stream, "/healthz");
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slots were not freed: {answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The soft and hard open-file limits of this process, from /proc.
fn file_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

// The limit is the process's: lowered in a process of its own, so that the other
// tests of this binary keep theirs.
rusty_fork_test! {
    #[test]
    fn the_soft_file_limit_is_raised_to_the_hard_one_at_start() {
        let (_, hard) = file_limits().expect("linux /proc/self/limits");
        let lowered = hard.min(512);
        rlimit::setrlimit(rlimit::Resource::NOFILE, lowered, hard).expect("lower the soft limit");
        let h = Harness::start();
        let (soft, hard_after) = file_limits().expect("limits");
        assert_eq!(hard_after, hard);
        assert_eq!(
            soft, hard,
            "the server raised the soft limit to the hard one"
        );
        assert_eq!(h.get("/healthz").status, 200);
    }
}
