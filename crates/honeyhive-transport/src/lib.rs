//! The HTTP plumbing the honeyhive crates share; every byte the SDK, the
//! experiments, the evaluators and `hh` send goes through it.
//!
//! - [`agent`]: the ureq agent, with a resolver that does not cost a thread per
//!   request and connections that send each request's head and body in one write.
//! - [`USER_AGENT`], [`CLIENT_HEADERS`], [`rest_headers`]: the headers HoneyHive
//!   APIs expect, as the Python SDK sends them.
//! - [`Backoff`], [`retry_after`], [`is_retryable_status`]: when to try again.
//!
//! ureq resolves the host on every request, pooled connection or not, and when
//! the request has a deadline it runs that lookup on a freshly spawned thread so
//! it can give up on time; at a few thousand small requests a second that spawn
//! dominates the client's CPU. [`agent`] keeps the deadline but resolves an IP
//! address in place and remembers a host name's addresses for [`RESOLVE_TTL`].
//! It is built on ureq's `unversioned` transport API, which may change in any
//! ureq release: the workspace pins ureq to the minor version it was tested with.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Connector, DefaultConnector, NextTimeout};

mod backoff;
mod headers;
mod one_write;

pub use backoff::{Backoff, is_retryable_status, retry_after};
pub use headers::{CLIENT_HEADERS, USER_AGENT, VERSION, client_timestamp, rest_headers};
use one_write::OneWriteConnector;

/// How long a host name's resolved addresses are reused.
pub const RESOLVE_TTL: Duration = Duration::from_secs(60);

/// A ureq agent with `config`, the shared resolver and one-write connections.
///
/// ```
/// use std::time::Duration;
///
/// let config = ureq::Agent::config_builder()
///     .timeout_global(Some(Duration::from_secs(5)))
///     .user_agent(honeyhive_transport::USER_AGENT)
///     .build();
/// let agent = honeyhive_transport::agent(config);
/// # drop(agent);
/// ```
pub fn agent(config: Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        DefaultConnector::new().chain(OneWriteConnector),
        CachingResolver::default(),
    )
}

/// Resolves IP literals without a lookup and caches host names for [`RESOLVE_TTL`].
#[derive(Debug, Default)]
struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            return self.inner.resolve(uri, config, timeout);
        };
        let port = authority.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let host = authority.host();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let (Ok(ip), Some(port)) = (literal.parse::<IpAddr>(), port) {
            let mut addrs = self.inner.empty();
            addrs.push((ip, port).into());
            return Ok(addrs);
        }
        let key = format!("{}://{}", uri.scheme_str().unwrap_or(""), authority);
        if let Some((at, addrs)) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned())
            && at.elapsed() < RESOLVE_TTL
        {
            return Ok(addrs);
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (Instant::now(), addrs.clone()));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(resolver: &CachingResolver, url: &str) -> Vec<std::net::SocketAddr> {
        let uri: ureq::http::Uri = url.parse().expect("uri");
        let config = ureq::Agent::config_builder().build();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::from(Duration::from_secs(5)),
            ..NextTimeout::default()
        };
        resolver
            .resolve(&uri, &config, timeout)
            .expect("resolves")
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn ip_literals_resolve_to_themselves_without_a_cache_entry() {
        let resolver = CachingResolver::default();
        assert_eq!(
            resolve(&resolver, "http://127.0.0.1:8080/x"),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve(&resolver, "https://[::1]/x"),
            ["[::1]:443".parse().unwrap()]
        );
        assert!(resolver.cache.lock().unwrap().is_empty());
    }

    #[test]
    fn host_names_are_looked_up_once_and_then_served_from_the_cache() {
        let resolver = CachingResolver::default();
        let first = resolve(&resolver, "http://localhost:9/a");
        assert!(!first.is_empty());
        assert!(first.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
        assert_eq!(resolver.cache.lock().unwrap().len(), 1);
        assert_eq!(resolve(&resolver, "http://localhost:9/b"), first);
        assert_eq!(resolver.cache.lock().unwrap().len(), 1);
        // Another port is another entry.
        resolve(&resolver, "http://localhost:10/");
        assert_eq!(resolver.cache.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_real_request_goes_through_the_agent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        let agent = agent(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(5)))
                .build(),
        );
        for host in ["127.0.0.1", "localhost"] {
            let body = agent
                .get(format!("http://{host}:{port}/"))
                .call()
                .expect("call")
                .body_mut()
                .read_to_string()
                .expect("body");
            assert_eq!(body, "ok");
        }
        server.join().expect("server");
    }
}
