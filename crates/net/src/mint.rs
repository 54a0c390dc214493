//! The emulator mint client (`keyless token mint`): POST a [`MintRequest`] to a running `keyless emulate`'s
//! `/_keyless/mint` and return the token it signed. Built on [`crate::http`] like every other client; a mint is
//! a POST that is not retried.

use keyless_oidc::{MintRequest, MintResponse, SecretToken};
use serde_json::Value;

use crate::http::{HttpClient, HttpConfig, HttpError};

/// Largest answer read.
const MAX_BODY: usize = 1 << 20;

/// Why no token came back: the emulator is not there (the user's setup), or it refused the request (the user's
/// input, as the emulator explains), or what answered is not a keyless emulator.
#[derive(Debug, thiserror::Error)]
pub enum MintClientError {
    #[error(transparent)]
    Client(#[from] HttpError),
    #[error("cannot reach the emulator at {url}: is `keyless emulate` running there?: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("reading the response of {url}: {detail}")]
    Read { url: String, detail: String },
    #[error("the emulator at {url} refused to mint (HTTP {status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} answered HTTP 200 but not with {{\"token\": ...}}: is this a keyless emulator?")]
    NotAnEmulator { url: String },
}

/// Asks the emulator at `base` (`http://127.0.0.1:4566`) for a token.
pub async fn mint(
    base: &str,
    request: &MintRequest,
    config: &HttpConfig,
) -> Result<SecretToken, MintClientError> {
    let url = format!("{}/_keyless/mint", base.trim_end_matches('/'));
    let client = HttpClient::new(config)?;
    let unreachable = |error: reqwest::Error| MintClientError::Unreachable {
        url: url.clone(),
        detail: crate::error_chain(&error),
    };
    let mut response = client
        .send(client.request(reqwest::Method::POST, &url).json(request))
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| MintClientError::Read {
            url: url.clone(),
            detail: crate::error_chain(&error),
        })?
    {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    if status != 200 {
        // The emulator answers errors as {"error": "..."}; anything else is shown as text.
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|json| json.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.trim().chars().take(500).collect());
        return Err(MintClientError::Refused {
            url,
            status,
            message,
        });
    }
    serde_json::from_str::<MintResponse>(&text)
        .map(|minted| minted.token)
        .map_err(|_| MintClientError::NotAnEmulator { url })
}
