//! Sends a request's head and body in one write.
//!
//! ureq hands its transport the request head, then the body, as separate
//! writes. With `TCP_NODELAY` (which ureq sets) each write leaves as its own
//! segment, so a small JSON call would cost two sends, two receive wake-ups on
//! the server (which parses the head, then waits for the body) and, on
//! loopback, the receiver's packet processing twice on the sender's CPU.
//! [`OneWriteConnector`] wraps the connection so writes accumulate in ureq's own
//! output buffer and leave together when the response is awaited (or the
//! buffer is nearly full): one segment for a small call, one TLS record over TLS.

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// Flush early once less than this is left in the output buffer, so ureq always
/// has room for a chunk header and some body.
const MIN_FREE_OUTPUT: usize = 4 * 1024;

/// The connector that wraps every connection in a [`OneWriteTransport`]; chain it
/// last, after TCP and TLS.
#[derive(Debug, Default)]
pub(crate) struct OneWriteConnector;

impl<In: Transport> Connector<In> for OneWriteConnector {
    type Out = OneWriteTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<OneWriteTransport>, ureq::Error> {
        Ok(chained.map(|inner| OneWriteTransport {
            inner: Box::new(inner),
            // Only the input half is used; output goes to the inner transport's buffer.
            input: LazyBuffers::new(details.config.input_buffer_size(), 1),
            pending: 0,
        }))
    }
}

/// A transport whose writes wait in the inner transport's output buffer until
/// the response is awaited, then leave in one write.
///
/// It is its own [`Buffers`]: output is the free tail of the inner output
/// buffer, after the `pending` bytes staged so far. Input is a buffer of its
/// own, refilled from the inner transport's: [`Buffers::input`] takes `&self`,
/// and the inner buffers are reachable only through `&mut`.
#[derive(Debug)]
pub(crate) struct OneWriteTransport {
    inner: Box<dyn Transport>,
    input: LazyBuffers,
    /// Bytes at the start of the inner output buffer not yet transmitted.
    pending: usize,
}

impl OneWriteTransport {
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        match std::mem::take(&mut self.pending) {
            0 => Ok(()),
            pending => self.inner.transmit_output(pending, timeout),
        }
    }

    /// Moves what the inner transport has read into our input; the bytes moved.
    fn take_inner_input(&mut self) -> usize {
        let free = self.input.input_append_buf();
        let available = self.inner.buffers().input();
        let amount = available.len().min(free.len());
        free[..amount].copy_from_slice(&available[..amount]);
        self.input.input_appended(amount);
        self.inner.buffers().input_consume(amount);
        amount
    }
}

impl Transport for OneWriteTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.pending += amount;
        if self.inner.buffers().output().len() - self.pending < MIN_FREE_OUTPUT {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        // Input the inner transport read earlier but we had no room for comes first.
        if self.take_inner_input() > 0 {
            return Ok(true);
        }
        let progress = self.inner.await_input(timeout)?;
        Ok(self.take_inner_input() > 0 || progress)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl Buffers for OneWriteTransport {
    fn output(&mut self) -> &mut [u8] {
        let pending = self.pending;
        &mut self.inner.buffers().output()[pending..]
    }

    fn input(&self) -> &[u8] {
        self.input.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.input.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.input.input_appended(amount);
    }

    fn input_consume(&mut self, amount: usize) {
        self.input.input_consume(amount);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let pending = self.pending;
        let (tmp, _) = self.input.tmp_and_output();
        (tmp, &mut self.inner.buffers().output()[pending..])
    }

    fn can_use_input(&self) -> bool {
        self.input.can_use_input()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ureq::unversioned::resolver::DefaultResolver;
    use ureq::unversioned::transport::TcpConnector;

    use super::*;

    /// Counts the writes that reach the socket.
    #[derive(Debug, Clone, Default)]
    struct CountWrites(Arc<AtomicUsize>);

    #[derive(Debug)]
    struct Counted<T>(T, Arc<AtomicUsize>);

    impl<In: Transport> Connector<In> for CountWrites {
        type Out = Counted<In>;

        fn connect(
            &self,
            _details: &ConnectionDetails,
            chained: Option<In>,
        ) -> Result<Option<Counted<In>>, ureq::Error> {
            Ok(chained.map(|t| Counted(t, self.0.clone())))
        }
    }

    impl<T: Transport> Transport for Counted<T> {
        fn buffers(&mut self) -> &mut dyn Buffers {
            self.0.buffers()
        }
        fn transmit_output(
            &mut self,
            amount: usize,
            timeout: NextTimeout,
        ) -> Result<(), ureq::Error> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.transmit_output(amount, timeout)
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
            self.0.await_input(timeout)
        }
        fn is_open(&mut self) -> bool {
            self.0.is_open()
        }
    }

    /// A keep-alive HTTP/1.1 server answering each request with its body's length;
    /// returns its port and a counter of accepted connections.
    fn body_length_server() -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().expect("clone");
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut length = 0usize;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            let lower = line.to_ascii_lowercase();
                            if let Some(v) = lower.strip_prefix("content-length:") {
                                length = v.trim().parse().expect("length");
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut body = vec![0u8; length];
                        reader.read_exact(&mut body).expect("body");
                        let answer = length.to_string();
                        let _ = write!(
                            writer,
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                    }
                });
            }
        });
        (port, accepted)
    }

    fn agent_over(connector: impl Connector) -> ureq::Agent {
        let config = ureq::Agent::config_builder().build();
        ureq::Agent::with_parts(config, connector, DefaultResolver::default())
    }

    fn post_all(agent: &ureq::Agent, port: u16, sizes: &[usize]) {
        for &size in sizes {
            let body = vec![b'x'; size];
            let answer = agent
                .post(format!("http://127.0.0.1:{port}/"))
                .send(&body[..])
                .expect("post")
                .body_mut()
                .read_to_string()
                .expect("answer");
            assert_eq!(answer, size.to_string(), "the server got the whole body");
        }
    }

    #[test]
    fn a_request_leaves_in_one_write_and_the_connection_is_reused() {
        let (port, accepted) = body_length_server();
        let writes = CountWrites::default();
        let agent = agent_over(
            ().chain(TcpConnector::default())
                .chain(writes.clone())
                .chain(OneWriteConnector),
        );
        post_all(&agent, port, &[10, 5_000, 0]);
        assert_eq!(writes.0.load(Ordering::SeqCst), 3, "one write per request");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one pooled connection");

        // A body larger than the output buffer leaves in buffer-sized writes.
        let big = 3 * ureq::Agent::config_builder().build().output_buffer_size();
        post_all(&agent, port, &[big, 7]);
        let writes_now = writes.0.load(Ordering::SeqCst);
        assert!((3 + 3..=3 + 5).contains(&writes_now), "{writes_now} writes");
    }

    #[test]
    fn without_it_head_and_body_are_two_writes() {
        let (port, _) = body_length_server();
        let writes = CountWrites::default();
        let agent = agent_over(().chain(TcpConnector::default()).chain(writes.clone()));
        post_all(&agent, port, &[10, 5_000]);
        assert_eq!(writes.0.load(Ordering::SeqCst), 4);
    }
}
