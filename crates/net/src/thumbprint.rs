//! The IAM OIDC provider thumbprint of an issuer (`keyless thumbprint`): the hex SHA-1 of the last certificate
//! the JWKS host presents, which AWS calls the top intermediate CA (IAM UG "Obtain the thumbprint for an OpenID
//! Connect identity provider": `<issuer>/.well-known/openid-configuration` → `jwks_uri` → `openssl s_client
//! -showcerts` → the last certificate → `openssl x509 -fingerprint -sha1`, colons removed).
//!
//! The discovery document and the JWKS are fetched with reqwest, and the chain is read from a TLS handshake of
//! our own with the JWKS host; both verify the server against the same roots (Mozilla's, from `webpki-roots`, or
//! the certificates of a PEM file), so a thumbprint is never computed from a connection an attacker could sit in.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error_chain;
use crate::http::{HttpClient, HttpConfig};

/// The path OpenID Connect Discovery puts the configuration document at.
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Largest discovery document or JWKS read.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Which certificate authorities the HTTPS connections must chain to.
#[derive(Clone, Debug, Default)]
pub enum Roots {
    /// Mozilla's root program (`webpki-roots`): what a public issuer's certificate must chain to.
    #[default]
    WebPki,
    /// Only these certificates (a private CA, or a test server).
    Only(Vec<CertificateDer<'static>>),
}

impl Roots {
    /// The certificates of a PEM file (`--ca-file`), as the only trusted roots.
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<Self, ThumbprintError> {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ThumbprintError::CaFile {
                path: origin.to_owned(),
                detail: error.to_string(),
            })?;
        if certificates.is_empty() {
            return Err(ThumbprintError::CaFile {
                path: origin.to_owned(),
                detail: "no `-----BEGIN CERTIFICATE-----` block in it".to_owned(),
            });
        }
        Ok(Roots::Only(certificates))
    }
}

/// How to reach the issuer.
#[derive(Clone, Debug)]
pub struct ThumbprintOptions {
    pub roots: Roots,
    /// Per connection and per request.
    pub timeout: Duration,
    /// Proxies and retries of the discovery and JWKS fetches. NOTE: the handshake that reads the chain
    /// ([`presented_chain`]) opens its own TCP connection to the host and does not go through `HTTPS_PROXY`
    /// (no CONNECT tunnel of ours yet); behind a proxy-only network it fails to connect.
    pub http: HttpConfig,
}

impl Default for ThumbprintOptions {
    /// Proxies from the environment.
    fn default() -> Self {
        Self {
            roots: Roots::WebPki,
            timeout: Duration::from_secs(10),
            http: HttpConfig::from_env(),
        }
    }
}

/// What `keyless thumbprint --format json` prints (a frozen contract).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Thumbprint {
    /// The URL as given.
    pub url: String,
    /// The discovery document that was read.
    pub discovery_url: String,
    /// The document's `jwks_uri`.
    pub jwks_uri: String,
    /// The host (and port, when not 443) whose chain was read.
    pub jwks_host: String,
    /// How many keys the JWKS holds.
    pub jwks_keys: usize,
    /// 40 upper-case hex digits, as the IAM User Guide shows them (IAM accepts either case).
    pub thumbprint: String,
    /// The certificate the thumbprint is of: the last one the JWKS host presented.
    pub certificate: CertificateSummary,
    /// How many certificates the JWKS host presented (its own first).
    pub chain_length: usize,
    /// The discovery document's host (and port, when not 443).
    pub discovery_host: String,
    /// The discovery host's certificate, when it is another host than the JWKS host: since 2026 the IAM User
    /// Guide asks for the thumbprints of both hosts when they differ.
    pub discovery: Option<HostThumbprint>,
    /// Every thumbprint to configure, the JWKS host's first, each once.
    pub thumbprints: Vec<String>,
}

/// The thumbprint of one more host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostThumbprint {
    /// Host (and port, when not 443).
    pub host: String,
    /// 40 upper-case hex digits.
    pub thumbprint: String,
    /// The last certificate the host presented.
    pub certificate: CertificateSummary,
    /// How many certificates it presented.
    pub chain_length: usize,
}

/// The parts of a certificate a person checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    /// RFC 4514 form, e.g. `C=US, O=Let's Encrypt, CN=R11`.
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_after: String,
    /// Subject and issuer are the same: the server sent its root too, and AWS's procedure takes it.
    pub self_signed: bool,
}

/// Why no thumbprint could be computed: the URL given (the user's), or the issuer's server (remote).
#[derive(Debug, thiserror::Error)]
pub enum ThumbprintError {
    #[error("`{url}` is not a URL: {detail}; pass the issuer (https://host/path) or a host name")]
    BadUrl { url: String, detail: String },
    #[error(
        "{what} `{url}` is not https://: AWS fetches issuer keys over HTTPS only, and a thumbprint is a TLS certificate's"
    )]
    NotHttps { what: &'static str, url: String },
    #[error("cannot read --ca-file {path}: {detail}; it must hold PEM certificates")]
    CaFile { path: String, detail: String },
    #[error("cannot fetch {what} `{url}`: {detail}")]
    Fetch {
        what: &'static str,
        url: String,
        detail: String,
    },
    #[error(
        "{what} `{url}` answered HTTP {status}; is this the issuer? AWS reads `<issuer>/.well-known/openid-configuration`"
    )]
    Status {
        what: &'static str,
        url: String,
        status: u16,
    },
    #[error("{what} `{url}` is not valid: {detail}")]
    BadDocument {
        what: &'static str,
        url: String,
        detail: String,
    },
    #[error(
        "the discovery document `{url}` has no `jwks_uri`; AWS finds the issuer's keys (and the host to take the thumbprint of) through it: fix the issuer's discovery document"
    )]
    NoJwksUri { url: String },
    #[error("cannot connect to {host}: {detail}; check the host, the port and your network")]
    Connect { host: String, detail: String },
    #[error(
        "the TLS handshake with {host} failed: {detail}; if the server uses a private CA, pass it with --ca-file"
    )]
    Tls { host: String, detail: String },
    #[error("{host} presented no certificate")]
    NoCertificate { host: String },
    #[error(
        "{host} presented only its own certificate (subject `{subject}`, issued by `{issuer}`), not its chain: AWS takes the thumbprint of the last certificate the server presents, which here would be the server's own and would change at every renewal. Configure the server to send its intermediate certificates; or leave thumbprints out: IAM verifies JWKS hosts whose certificates chain to a trusted CA without them"
    )]
    LeafOnly {
        host: String,
        subject: String,
        issuer: String,
    },
    #[error("{host} presented a certificate keyless cannot parse: {detail}")]
    BadCertificate { host: String, detail: String },
}

/// The hex SHA-1 of a DER certificate, upper case (the IAM User Guide's form: `990F4193…`).
pub fn sha1_hex(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    hex::encode_upper(digest.as_ref())
}

/// The discovery document URL for what the user typed: an issuer URL, a host name, or the document's URL.
pub fn discovery_url(input: &str) -> Result<Url, ThumbprintError> {
    let trimmed = input.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let url = Url::parse(&with_scheme).map_err(|error| ThumbprintError::BadUrl {
        url: input.to_owned(),
        detail: error.to_string(),
    })?;
    if url.scheme() != "https" {
        return Err(ThumbprintError::NotHttps {
            what: "the issuer",
            url: input.to_owned(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ThumbprintError::BadUrl {
            url: input.to_owned(),
            detail: "it has no host".to_owned(),
        });
    }
    if url.path().ends_with(DISCOVERY_PATH) {
        return Ok(url);
    }
    let mut discovery = url.clone();
    discovery.set_query(None);
    discovery.set_fragment(None);
    discovery.set_path(&format!(
        "{}{DISCOVERY_PATH}",
        url.path().trim_end_matches('/')
    ));
    Ok(discovery)
}

fn client_config(roots: &Roots) -> Result<Arc<ClientConfig>, ThumbprintError> {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Roots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::Only(certificates) => {
            for certificate in certificates {
                store
                    .add(certificate.clone())
                    .map_err(|error| ThumbprintError::CaFile {
                        path: "--ca-file".to_owned(),
                        detail: error.to_string(),
                    })?;
            }
        }
    }
    // An explicit provider: the process may link more than one rustls backend.
    let config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| ThumbprintError::Tls {
        host: String::new(),
        detail: error.to_string(),
    })?
    .with_root_certificates(store)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn get_json(
    client: &HttpClient,
    url: &Url,
    what: &'static str,
) -> Result<serde_json::Value, ThumbprintError> {
    let fetch_error = |detail: String| ThumbprintError::Fetch {
        what,
        url: url.to_string(),
        detail,
    };
    let mut response = client
        .send(client.get(url.as_str()))
        .await
        .map_err(|error| fetch_error(error_chain(&error)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ThumbprintError::Status {
            what,
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| fetch_error(error_chain(&error)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY_BYTES {
            return Err(fetch_error(format!("more than {MAX_BODY_BYTES} bytes")));
        }
    }
    serde_json::from_slice(&body).map_err(|error| ThumbprintError::BadDocument {
        what,
        url: url.to_string(),
        detail: format!("not JSON ({error})"),
    })
}

/// The certificates `host:port` presents in a verified TLS handshake, its own first.
pub async fn presented_chain(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<Vec<CertificateDer<'static>>, ThumbprintError> {
    let label = host_label(host, port);
    let server_name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
        .map_err(|error| ThumbprintError::BadUrl {
            url: host.to_owned(),
            detail: error.to_string(),
        })?
        .to_owned();
    let address = (host.trim_start_matches('[').trim_end_matches(']'), port);
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| ThumbprintError::Connect {
            host: label.clone(),
            detail: format!("no connection within {} s", timeout.as_secs()),
        })?
        .map_err(|error| ThumbprintError::Connect {
            host: label.clone(),
            detail: error.to_string(),
        })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(timeout, connector.connect(server_name, tcp))
        .await
        .map_err(|_| ThumbprintError::Tls {
            host: label.clone(),
            detail: format!("no handshake within {} s", timeout.as_secs()),
        })?
        .map_err(|error| ThumbprintError::Tls {
            host: label.clone(),
            detail: error_chain(&error),
        })?;
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|certificates| {
            certificates
                .iter()
                .map(|c| c.clone().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // The chain is all we wanted; the server sees a closed connection.
    drop(tls);
    Ok(chain)
}

fn host_label(host: &str, port: u16) -> String {
    if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// Subject, issuer and expiry of a DER certificate.
pub fn summarize(der: &[u8], host: &str) -> Result<CertificateSummary, ThumbprintError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).map_err(|error| {
        ThumbprintError::BadCertificate {
            host: host.to_owned(),
            detail: error.to_string(),
        }
    })?;
    let not_after =
        OffsetDateTime::from_unix_timestamp(certificate.validity().not_after.timestamp())
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| certificate.validity().not_after.to_string());
    Ok(CertificateSummary {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        not_after,
        self_signed: certificate.subject().as_raw() == certificate.issuer().as_raw(),
    })
}

/// The thumbprint for the issuer at `input` (an issuer URL, a host name, or a discovery document URL).
pub async fn thumbprint(
    input: &str,
    options: &ThumbprintOptions,
) -> Result<Thumbprint, ThumbprintError> {
    let discovery = discovery_url(input)?;
    let config = client_config(&options.roots)?;
    let http = options
        .http
        .clone()
        .timeout(options.timeout)
        .connect_timeout(options.timeout);
    let client = HttpClient::with(&http, |builder| {
        builder
            .tls_backend_preconfigured((*config).clone())
            .https_only(true)
            .redirect(reqwest::redirect::Policy::limited(3))
    })
    .map_err(|error| ThumbprintError::Fetch {
        what: "the discovery document",
        url: discovery.to_string(),
        detail: error.to_string(),
    })?;
    let document = get_json(&client, &discovery, "the discovery document").await?;
    let Some(jwks_uri) = document.get("jwks_uri").and_then(|v| v.as_str()) else {
        return Err(ThumbprintError::NoJwksUri {
            url: discovery.to_string(),
        });
    };
    let jwks_url = Url::parse(jwks_uri).map_err(|error| ThumbprintError::BadDocument {
        what: "the discovery document",
        url: discovery.to_string(),
        detail: format!("`jwks_uri` `{jwks_uri}` is not a URL ({error})"),
    })?;
    if jwks_url.scheme() != "https" {
        return Err(ThumbprintError::NotHttps {
            what: "the discovery document's jwks_uri",
            url: jwks_uri.to_owned(),
        });
    }
    let host = jwks_url
        .host_str()
        .ok_or_else(|| ThumbprintError::BadDocument {
            what: "the discovery document",
            url: discovery.to_string(),
            detail: format!("`jwks_uri` `{jwks_uri}` has no host"),
        })?
        .to_owned();
    let port = jwks_url.port_or_known_default().unwrap_or(443);
    let jwks = get_json(&client, &jwks_url, "the JWKS").await?;
    let jwks_keys = jwks
        .get("keys")
        .and_then(|keys| keys.as_array())
        .map(Vec::len)
        .ok_or_else(|| ThumbprintError::BadDocument {
            what: "the JWKS",
            url: jwks_uri.to_owned(),
            detail: "it has no `keys` array".to_owned(),
        })?;

    let jwks = host_thumbprint(&host, port, Arc::clone(&config), options.timeout).await?;
    let discovery_host = discovery.host_str().unwrap_or_default().to_owned();
    let discovery_port = discovery.port_or_known_default().unwrap_or(443);
    let other = if (discovery_host.as_str(), discovery_port) == (host.as_str(), port) {
        None
    } else {
        Some(host_thumbprint(&discovery_host, discovery_port, config, options.timeout).await?)
    };
    let mut thumbprints = vec![jwks.thumbprint.clone()];
    if let Some(other) = &other
        && !thumbprints.contains(&other.thumbprint)
    {
        thumbprints.push(other.thumbprint.clone());
    }
    Ok(Thumbprint {
        url: input.to_owned(),
        discovery_url: discovery.to_string(),
        jwks_uri: jwks_uri.to_owned(),
        jwks_host: jwks.host,
        jwks_keys,
        thumbprint: jwks.thumbprint,
        certificate: jwks.certificate,
        chain_length: jwks.chain_length,
        discovery_host: host_label(&discovery_host, discovery_port),
        discovery: other,
        thumbprints,
    })
}

/// The thumbprint of the last certificate `host:port` presents, refusing a server that sends only its own.
async fn host_thumbprint(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<HostThumbprint, ThumbprintError> {
    let label = host_label(host, port);
    let chain = presented_chain(host, port, config, timeout).await?;
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Err(ThumbprintError::NoCertificate { host: label });
    };
    if chain.len() == 1 {
        let leaf = summarize(first, &label)?;
        return Err(ThumbprintError::LeafOnly {
            host: label,
            subject: leaf.subject,
            issuer: leaf.issuer,
        });
    }
    Ok(HostThumbprint {
        thumbprint: sha1_hex(last),
        certificate: summarize(last, &label)?,
        chain_length: chain.len(),
        host: label,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_accepts_issuers_hosts_and_document_urls() {
        for (input, expected) in [
            (
                "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
                "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc/.well-known/openid-configuration",
            ),
            (
                "https://token.actions.githubusercontent.com/",
                "https://token.actions.githubusercontent.com/.well-known/openid-configuration",
            ),
            (
                "accounts.google.com",
                "https://accounts.google.com/.well-known/openid-configuration",
            ),
            (
                "https://127.0.0.1:8443/.well-known/openid-configuration",
                "https://127.0.0.1:8443/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(discovery_url(input).unwrap().as_str(), expected, "{input}");
        }
    }

    #[test]
    fn discovery_url_refuses_http_and_hostless_input() {
        assert!(matches!(
            discovery_url("http://example.com"),
            Err(ThumbprintError::NotHttps { .. })
        ));
        assert!(matches!(
            discovery_url("https://"),
            Err(ThumbprintError::BadUrl { .. })
        ));
    }

    #[test]
    fn sha1_hex_is_upper_case_sha1() {
        // FIPS 180-2 test vector "abc".
        assert_eq!(sha1_hex(b"abc"), "A9993E364706816ABA3E25717850C26C9CD0D89D");
    }

    #[test]
    fn a_pem_file_without_certificates_is_refused() {
        let error = Roots::from_pem(b"not a certificate", "ca.pem").unwrap_err();
        assert!(error.to_string().contains("ca.pem"), "{error}");
    }
}
