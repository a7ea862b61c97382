//! The byte stream under the HTTP server, guarded for the two answers hyper gives on its
//! own, below any handler:
//!
//! - A request hyper cannot parse (a garbled request line, a bad header, a head too large)
//!   gets hyper's automatic `400`/`414`/`431` with an empty body. Here that head is
//!   rewritten into the contract's JSON error body, so every error the sandbox can answer
//!   carries one.
//! - A client that opens a request and then stalls mid-head is answered `408` with a JSON
//!   body after the head timeout, and the connection closes; an idle keep-alive
//!   connection (no byte of a new request) is closed silently after the same time. This
//!   replaces hyper's own header timeout, which closes without a word.
//!
//! Nothing here parses HTTP beyond the few bytes it must: the end of a request head
//! (`\r\n\r\n`) and the status line of a response hyper wrote.

use crate::api::ErrorBody;
use crate::api::error::codes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A connection's stream with the guards described above.
pub struct Guarded<S> {
    inner: S,
    /// Bytes of our own to send before anything else (a rewritten or timeout answer).
    out: Vec<u8>,
    out_pos: usize,
    /// Waiting for (the rest of) a request head, and how many of its bytes came.
    awaiting_head: bool,
    head_bytes: usize,
    /// The last three bytes read, to find a `\r\n\r\n` split across reads.
    tail: Vec<u8>,
    deadline: Pin<Box<Sleep>>,
    head_timeout: Duration,
    timed_out: bool,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, head_timeout: Duration) -> Self {
        Guarded {
            inner,
            out: vec![],
            out_pos: 0,
            awaiting_head: true,
            head_bytes: 0,
            tail: vec![],
            deadline: Box::pin(tokio::time::sleep(head_timeout)),
            head_timeout,
            timed_out: false,
        }
    }

    fn await_next_head(&mut self) {
        self.awaiting_head = true;
        self.head_bytes = 0;
        self.tail.clear();
        let at = Instant::now() + self.head_timeout;
        self.deadline.as_mut().reset(at);
    }

    /// Notes request bytes, and whether they complete the head.
    fn saw(&mut self, bytes: &[u8]) {
        if !self.awaiting_head || bytes.is_empty() {
            return;
        }
        self.head_bytes += bytes.len();
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(bytes);
        if window.windows(4).any(|w| w == b"\r\n\r\n") {
            self.awaiting_head = false;
        }
        self.tail = window[window.len().saturating_sub(3)..].to_vec();
    }
}

/// A JSON error answer, complete with its head, that closes the connection.
pub fn json_answer(status: u16, reason: &str, code: &str, message: &str) -> Vec<u8> {
    let body = serde_json::to_vec(&ErrorBody {
        code: code.to_string(),
        message: message.to_string(),
        details: None,
    })
    .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// If `buf` is exactly one of hyper's automatic error answers (an error status, an empty
/// body, nothing after the head), the JSON answer to send instead.
fn rewrite_automatic_error(buf: &[u8]) -> Option<Vec<u8>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if head_end != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.splitn(3, ' ');
    let (_, status, reason) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
    let status: u16 = status.parse().ok()?;
    let empty = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("content-length: 0"));
    if status < 400 || !empty {
        return None;
    }
    let (code, message) = match status {
        414 => (
            codes::INVALID_REQUEST,
            "The request URI is too long".to_string(),
        ),
        431 => (
            codes::INVALID_REQUEST,
            "The request headers are too large".to_string(),
        ),
        _ => (
            codes::INVALID_REQUEST,
            "Malformed HTTP request: the request line or a header could not be parsed".to_string(),
        ),
    };
    Some(json_answer(status, reason.trim(), code, &message))
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Sends our own pending bytes; `Ready(Ok)` once there are none left.
    fn poll_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.timed_out {
            // Our 408 (if any) goes out before the server sees the end of the stream.
            return match this.poll_out(cx) {
                Poll::Pending => Poll::Pending,
                _ => Poll::Ready(Ok(())),
            };
        }
        if this.awaiting_head && this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out = true;
            if this.head_bytes > 0 {
                this.out = json_answer(
                    408,
                    "Request Timeout",
                    codes::REQUEST_TIMEOUT,
                    &format!(
                        "The request head did not arrive within {} ms",
                        this.head_timeout.as_millis()
                    ),
                );
                this.out_pos = 0;
                if this.poll_out(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let new = buf.filled()[before..].to_vec();
            this.saw(&new);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.poll_out(cx)?.is_pending() {
            return Poll::Pending;
        }
        if buf.starts_with(b"HTTP/1.") {
            // A response starts: what comes in next is a new request's head.
            this.await_next_head();
            if let Some(answer) = rewrite_automatic_error(buf) {
                this.out = answer;
                this.out_pos = 0;
                // The server's bytes are taken; ours go out in their place.
                let _ = this.poll_out(cx)?;
                return Poll::Ready(Ok(buf.len()));
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.poll_out(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.poll_out(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_error_heads_are_rewritten() {
        let auto = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite_automatic_error(auto).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json"));
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "invalid_request");
        assert!(out.contains(&format!("content-length: {}", body.len())));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n";
        assert!(rewrite_automatic_error(ours).is_none());
        let no_content = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite_automatic_error(no_content).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}";
        assert!(rewrite_automatic_error(with_body).is_none());
    }

    #[tokio::test]
    async fn the_end_of_a_head_is_found_across_reads() {
        let mut g = Guarded::new(tokio::io::empty(), Duration::from_secs(1));
        g.saw(b"GET / HTTP/1.1\r\nHost: x\r");
        assert!(g.awaiting_head);
        g.saw(b"\n\r");
        assert!(g.awaiting_head);
        g.saw(b"\n");
        assert!(!g.awaiting_head);
        assert_eq!(g.head_bytes, 27);
    }
}
