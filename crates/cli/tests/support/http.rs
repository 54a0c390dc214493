//! The tests' one blocking HTTP client: reqwest, the client of the production tree (`keyless_net::http` builds its
//! clients on it), driven on a current-thread runtime in a thread of its own, so a test may call it inside or
//! outside a tokio runtime. Every status is an answer, not an error ([`Response::success`] asserts a 2xx), and
//! proxies from the environment are ignored: every server the tests call is on loopback.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// What `application/x-www-form-urlencoded` leaves as is (the WHATWG URL standard's set): letters, digits, `*-._`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// A request being built: [`get`] or [`post`], then headers and a body, then [`Request::send`].
#[must_use]
pub struct Request {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

/// A `GET` of `url` (10 s timeout unless [`Request::timeout`] says otherwise).
pub fn get(url: &str) -> Request {
    Request::new(reqwest::Method::GET, url)
}

/// A `POST` to `url` (10 s timeout unless [`Request::timeout`] says otherwise).
pub fn post(url: &str) -> Request {
    Request::new(reqwest::Method::POST, url)
}

/// An answer: the status and the body as text.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Request {
    fn new(method: reqwest::Method, url: &str) -> Self {
        Self {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The whole exchange's limit, connecting included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }

    /// An `application/x-www-form-urlencoded` body of `pairs`, with its content type.
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = pairs
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(name, FORM),
                    utf8_percent_encode(value, FORM)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sends the request and reads the whole answer; panics when there is none (connection refused, timeout).
    pub fn send(self) -> Response {
        let what = format!("{} {}", self.method, self.url);
        let result = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?
                        .block_on(self.exchange())
                        .map_err(|e| format!("{e:?}"))
                })
                .join()
        });
        match result {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => panic!("{what}: {error}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn exchange(self) -> reqwest::Result<Response> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(self.timeout)
            .build()?;
        let mut request = client.request(self.method, &self.url).body(self.body);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok(Response { status, body })
    }
}

impl Response {
    /// The answer, after asserting it is a 2xx (with the body in the message when it is not).
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(
            (200..300).contains(&self.status),
            "HTTP {}: {}",
            self.status,
            self.body
        );
        self
    }

    /// The body as JSON; panics when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}
