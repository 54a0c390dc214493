//! The connection layer `keyless emulate` and `keyless serve` share: an accept loop that bounds what an
//! unauthenticated client can hold, whatever the application behind it does.
//!
//! - **Connection limit** (`--max-connections`, default min(1024, descriptor limit − 64)): the loop takes a permit
//!   before it accepts, so past the limit new connections wait in the kernel's listen backlog instead of using
//!   descriptors the process needs for files and for answering the connections it has.
//! - **Header-read timeout** (`--header-timeout`, default 10 s): a new connection must deliver a complete request
//!   head within it, and so must a keep-alive connection from the first byte of its next request. Slow-loris
//!   connections (idle, or half a request head) are closed.
//! - **Idle timeout** (`--idle-timeout`, default 60 s): how long a keep-alive connection may wait for its next
//!   request.
//! - TCP_NODELAY, the peer address as axum's `ConnectInfo<SocketAddr>`, and graceful shutdown (stop accepting,
//!   let in-flight requests finish, close idle connections).
//!
//! NOTE: hyper's own `header_read_timeout` also runs between keep-alive requests (it would close every idle
//! connection after the header timeout), and axum's `serve` exposes neither timeout nor a limit, so the phases of a
//! connection are tracked here: the service marks a request in flight, the stream wrapper arms the deadline of the
//! current phase whenever a read would block.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// Default `--header-timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The most connections held by default, when the descriptor limit allows it.
pub const MAX_DEFAULT_CONNECTIONS: usize = 1024;
/// Descriptors kept free for everything else the process opens (state files, logs, outgoing fetches).
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The connection-level limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to receive a complete request head.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections held at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: default_max_connections(),
        }
    }
}

/// The process's soft limit on open descriptors (`RLIMIT_NOFILE`), when the platform has one.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// min(1024, descriptor limit − 64), at least 1.
pub fn default_max_connections() -> usize {
    let by_descriptors = descriptor_limit()
        .map(|limit| limit.saturating_sub(RESERVED_DESCRIPTORS).max(1))
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(MAX_DEFAULT_CONNECTIONS);
    by_descriptors.min(MAX_DEFAULT_CONNECTIONS)
}

/// Checks a `--max-connections` value against the descriptor limit: `Err` names the problem and the fix.
pub fn check_max_connections(wanted: usize) -> Result<usize, String> {
    if wanted == 0 {
        return Err("--max-connections must be at least 1".to_owned());
    }
    if let Some(limit) = descriptor_limit()
        && wanted as u64 > limit.saturating_sub(RESERVED_DESCRIPTORS)
    {
        return Err(format!(
            "--max-connections {wanted} is not below the process's descriptor limit ({limit}) minus \
             {RESERVED_DESCRIPTORS} kept for files: lower it, or raise the limit (ulimit -n)"
        ));
    }
    Ok(wanted)
}

/// Where a connection is in its life, and so which deadline applies to a read that would block.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Accepted, nothing read yet: the header timeout from accept.
    Fresh { since: Instant },
    /// Between requests: the idle timeout from the end of the last response.
    Idle { since: Instant },
    /// Reading a request head: the header timeout from its first byte (or from accept).
    Head { since: Instant },
    /// A request is being handled (its body included): the application's own limits apply.
    Busy,
}

#[derive(Debug)]
struct Tracker {
    phase: Mutex<Phase>,
    limits: Limits,
}

impl Tracker {
    fn new(limits: Limits) -> Self {
        Self {
            phase: Mutex::new(Phase::Fresh {
                since: Instant::now(),
            }),
            limits,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Phase) -> T) -> T {
        // A poisoned lock only means a panic elsewhere while holding it; the phase is still a valid value.
        let mut phase = self
            .phase
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut phase)
    }

    fn deadline(&self) -> Option<Instant> {
        self.with(|phase| match *phase {
            Phase::Fresh { since } | Phase::Head { since } => {
                Some(since + self.limits.header_timeout)
            }
            Phase::Idle { since } => Some(since + self.limits.idle_timeout),
            Phase::Busy => None,
        })
    }

    fn bytes_read(&self) {
        self.with(|phase| match *phase {
            Phase::Fresh { since } => *phase = Phase::Head { since },
            Phase::Idle { .. } => {
                *phase = Phase::Head {
                    since: Instant::now(),
                }
            }
            Phase::Head { .. } | Phase::Busy => {}
        });
    }

    fn busy(&self) {
        self.with(|phase| *phase = Phase::Busy);
    }

    fn idle(&self) {
        self.with(|phase| {
            *phase = Phase::Idle {
                since: Instant::now(),
            }
        });
    }
}

/// A TCP stream whose reads fail with `TimedOut` once the deadline of the connection's phase has passed.
struct Deadline {
    inner: TcpStream,
    tracker: Arc<Tracker>,
    sleep: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl Deadline {
    fn new(inner: TcpStream, tracker: Arc<Tracker>) -> Self {
        Self {
            inner,
            tracker,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed_for: None,
        }
    }
}

impl AsyncRead for Deadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.tracker.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = this.tracker.deadline() else {
                    return Poll::Pending;
                };
                if this.armed_for != Some(deadline) {
                    this.sleep.as_mut().reset(deadline);
                    this.armed_for = Some(deadline);
                }
                match this.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent no complete request in time",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Deadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Errors from `accept` that concern one connection, not the listener (the loop goes on at once).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    // EMFILE/ENFILE and the like: back off instead of spinning; the connection stays queued.
                    tracing::error!(%error, "accept failed; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
        }
        let tracker = Arc::new(Tracker::new(limits));
        let io = TokioIo::new(Deadline::new(stream, tracker.clone()));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            tracker.busy();
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            let tracker = tracker.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await;
                tracker.idle();
                response
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .header_read_timeout(None)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection closed");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A future that completes on SIGINT or SIGTERM, with both handlers **installed when this is called**, not when the
/// future is first polled. Call it before announcing readiness (a ready file, a printed address): a signal that
/// arrives between the announcement and the first poll would otherwise meet the default disposition and kill the
/// process without its clean shutdown (the ready file left behind, exit status "killed by signal"). Must be called
/// within a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_connections_stay_below_the_descriptor_limit() {
        let n = default_max_connections();
        assert!((1..=MAX_DEFAULT_CONNECTIONS).contains(&n));
        if let Some(limit) = descriptor_limit() {
            assert!(n as u64 <= limit.saturating_sub(RESERVED_DESCRIPTORS).max(1));
            assert!(check_max_connections(usize::try_from(limit).unwrap_or(usize::MAX)).is_err());
        }
        assert!(check_max_connections(0).is_err());
        assert_eq!(check_max_connections(1), Ok(1));
    }

    #[test]
    fn phases_choose_the_deadline() {
        let limits = Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4,
        };
        let t = Tracker::new(limits);
        let fresh = t.deadline().unwrap();
        assert!(fresh <= Instant::now() + limits.header_timeout);
        // Bytes of the first head: still counted from accept.
        t.bytes_read();
        assert_eq!(t.deadline(), Some(fresh));
        t.busy();
        assert_eq!(t.deadline(), None);
        t.bytes_read();
        assert_eq!(t.deadline(), None);
        let before_idle = Instant::now();
        t.idle();
        let idle = t.deadline().unwrap();
        assert!(
            idle >= before_idle + limits.idle_timeout
                && idle <= Instant::now() + limits.idle_timeout
        );
        // The first byte of the next request switches to the header timeout, from that byte.
        let before_head = Instant::now();
        t.bytes_read();
        let head = t.deadline().unwrap();
        assert!(head >= before_head + limits.header_timeout && head < idle);
    }
}
