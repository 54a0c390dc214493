//! A local HTTPS server presenting an exact certificate chain, for the CLI tests that need a real TLS peer
//! (`thumbprint`, `emulate --remote-issuers`). Hand-written because axum has no TLS listener and these tests need
//! the server to present a chosen chain; it answers one HTTP/1.1 request per connection, which is all reqwest and
//! a bare TLS handshake need.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What the server answers for a request path: status line (e.g. `200 OK`) and a JSON body.
pub type Route = Arc<dyn Fn(&str) -> (&'static str, String) + Send + Sync>;

/// The running server. Stops when dropped.
pub struct TlsServer {
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts a server on 127.0.0.1:0 presenting `chain` (its own certificate first) with the PKCS#8 `key`;
/// `route` is built from the server's base URL, which is known only once the port is.
pub fn start(
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    route: impl FnOnce(&str) -> Route,
) -> TlsServer {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let base = format!("https://127.0.0.1:{}", address.port());
    let route = route(&base);
    let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        let (acceptor, route) = (acceptor.clone(), Arc::clone(&route));
                        tokio::spawn(async move {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                answer(stream, route).await;
                            }
                        });
                    }
                }
            }
        });
    });
    TlsServer {
        base,
        shutdown: Some(shutdown),
        thread: Some(thread),
    }
}

async fn answer(mut stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, route: Route) {
    let mut request = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            // `keyless thumbprint`'s own handshake closes without a request.
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = route(path);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
