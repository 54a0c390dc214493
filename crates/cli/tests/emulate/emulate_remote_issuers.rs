//! `keyless emulate --remote-issuers` end to end: a token from an issuer the emulator holds no keys for is
//! verified through the issuer's discovery document and JWKS, fetched over HTTPS like STS does (aws.md §2).
//!
//! The issuer is a local HTTPS stub on 127.0.0.1 whose certificate chains to a throwaway CA made with rcgen. The
//! emulator fetches with rustls and the platform's trusted roots, which on Linux honour `SSL_CERT_FILE`
//! (rustls-native-certs), so the spawned emulator gets `SSL_CERT_FILE=<our CA>`; docs/emulator.md says so.
//! Covered: success (and the JWKS cache: one fetch for two calls), a wrong signature, an unknown `kid`, an issuer
//! whose certificate the emulator does not trust, and the flag being off (the issuer is never contacted).
#![allow(clippy::unwrap_used)]

use crate::support::emulate_process;
use crate::support::tls_server;

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use keyless_oidc::{Jwks, SigningKey};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const AUDIENCE: &str = "keyless-remote-test";
const SUB: &str = "repo:acme/site:ref:refs/heads/main";
const NO_KEY: &str = "InvalidIdentityToken: Couldn't retrieve verification key from your identity provider,  \
                      please reference AssumeRoleWithWebIdentity documentation for requirements";

/// A throwaway CA and a certificate for 127.0.0.1 it signed.
struct Pki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "keyless remote-issuer test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "keyless test issuer");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf.signed_by(&leaf_key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        chain: vec![leaf.der().clone()],
        key: leaf_key.serialize_der(),
    }
}

/// The stub issuer: `https://127.0.0.1:PORT/oidc` serving its discovery document and `keys.json`, counting
/// requests per path. Stops when dropped.
struct Issuer {
    url: String,
    discovery_hits: Arc<AtomicUsize>,
    jwks_hits: Arc<AtomicUsize>,
    _server: tls_server::TlsServer,
}

fn start_issuer(pki: &Pki, jwks: &Jwks) -> Issuer {
    let jwks = serde_json::to_string(jwks).unwrap();
    let (discovery_hits, jwks_hits) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (discovery_count, jwks_count) = (Arc::clone(&discovery_hits), Arc::clone(&jwks_hits));
    let server = tls_server::start(pki.chain.clone(), pki.key.clone(), move |base| {
        let url = format!("{base}/oidc");
        let discovery = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/keys.json"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string();
        Arc::new(move |path: &str| match path {
            "/oidc/.well-known/openid-configuration" => {
                discovery_count.fetch_add(1, Ordering::SeqCst);
                ("200 OK", discovery.clone())
            }
            "/oidc/keys.json" => {
                jwks_count.fetch_add(1, Ordering::SeqCst);
                ("200 OK", jwks.clone())
            }
            _ => ("404 Not Found", "{}".to_owned()),
        })
    });
    Issuer {
        url: format!("{}/oidc", server.base),
        discovery_hits,
        jwks_hits,
        _server: server,
    }
}

/// Kills the emulator on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A spawned `keyless emulate` whose trusted roots are exactly the PEM file `roots`.
struct Emulator {
    _guard: Guard,
    endpoint: String,
    key: String,
    secret: String,
}

fn spawn_emulator(dir: &Path, name: &str, roots: &Path, extra: &[&str]) -> Emulator {
    let ready_file = dir.join(format!("{name}.json"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyless"))
        .args(["emulate", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready_file)
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("SSL_CERT_FILE", roots)
        .env_remove("SSL_CERT_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    emulate_process::drain_stdout(&mut child);
    let guard = Guard(child);
    let ready = emulate_process::wait_ready(&ready_file);
    let admin = &ready["accounts"][ACCOUNT];
    Emulator {
        _guard: guard,
        endpoint: ready["endpoint"].as_str().unwrap().to_owned(),
        key: admin["access_key_id"].as_str().unwrap().to_owned(),
        secret: admin["secret_access_key"].as_str().unwrap().to_owned(),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(key: &SigningKey, kid: &str, issuer: &str) -> String {
    let now = now();
    key.sign_json(
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        &json!({"iss": issuer, "aud": AUDIENCE, "sub": SUB, "iat": now, "exp": now + 600}),
    )
    .unwrap()
    .expose()
    .to_owned()
}

/// Creates the provider for `issuer` and a role trusting it (aud and sub conditions), then assumes the role with
/// each token; returns `Ok(Provider)` or `Err("Code: message")` per token.
fn seed_and_assume(emu: &Emulator, issuer: &str, tokens: &[&str]) -> Vec<Result<String, String>> {
    let host = issuer.trim_start_matches("https://");
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{host}:aud"): AUDIENCE, format!("{host}:sub"): SUB}}
        }]
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let iam = emulate_process::iam_client(&emu.endpoint, &emu.key, &emu.secret, "us-east-1");
        emulate_process::seed_web_identity_role(&iam, issuer, AUDIENCE, "remote", &trust).await;
        let sts = emulate_process::sts_client(&emu.endpoint, "us-east-1");
        let mut results = Vec::new();
        for token in tokens {
            let result = sts
                .assume_role_with_web_identity()
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/remote"))
                .role_session_name("remote")
                .web_identity_token(*token)
                .send()
                .await;
            results.push(match result {
                Ok(out) => {
                    assert_eq!(
                        out.assumed_role_user().unwrap().arn(),
                        format!("arn:aws:sts::{ACCOUNT}:assumed-role/remote/remote")
                    );
                    assert_eq!(out.subject_from_web_identity_token(), Some(SUB));
                    Ok(out.provider().unwrap_or_default().to_owned())
                }
                Err(error) => {
                    use aws_sdk_sts::error::ProvideErrorMetadata as _;
                    let error = error.into_service_error();
                    Err(format!(
                        "{}: {}",
                        error.code().unwrap_or_default(),
                        error.message().unwrap_or_default()
                    ))
                }
            });
        }
        results
    })
}

fn pem_file(dir: &Path, name: &str, pem: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    path
}

#[test]
fn remote_issuer_tokens_verify_through_discovery_and_jwks_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let key = SigningKey::generate().unwrap();
    let kid = key.kid().to_owned();
    let jwks = Jwks {
        keys: vec![key.public_jwk().clone()],
    };
    let issuer = start_issuer(&pki, &jwks);
    let roots = pem_file(dir.path(), "ca.pem", &pki.ca_pem);
    let emu = spawn_emulator(dir.path(), "trusting", &roots, &["--remote-issuers"]);

    let good = sign(&key, &kid, &issuer.url);
    let impostor = SigningKey::generate().unwrap();
    let wrong_key = sign(&impostor, &kid, &issuer.url);
    let unknown_kid = sign(&key, "not-published", &issuer.url);
    let results = seed_and_assume(&emu, &issuer.url, &[&good, &good, &wrong_key, &unknown_kid]);
    assert_eq!(results[0], Ok(issuer.url.clone()));
    assert_eq!(results[1], Ok(issuer.url.clone()));
    assert_eq!(
        results[2],
        Err("InvalidIdentityToken: Invalid token signature".to_owned())
    );
    assert_eq!(results[3], Err(NO_KEY.to_owned()));
    // Discovery and JWKS were fetched, and the keys cached: four calls, one fetch of each.
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 1);
}

#[test]
fn untrusted_certificates_and_the_flag_being_off_refuse_remote_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let key = SigningKey::generate().unwrap();
    let jwks = Jwks {
        keys: vec![key.public_jwk().clone()],
    };
    let issuer = start_issuer(&pki, &jwks);
    let token = sign(&key, key.kid(), &issuer.url);

    // Another CA only: the TLS handshake fails, so there are no keys. AWS's answer is the same as for any
    // unreachable issuer.
    let other_ca = pem_file(dir.path(), "other.pem", &self::pki().ca_pem);
    let distrusting = spawn_emulator(dir.path(), "distrusting", &other_ca, &["--remote-issuers"]);
    assert_eq!(
        seed_and_assume(&distrusting, &issuer.url, &[&token]),
        vec![Err(NO_KEY.to_owned())]
    );
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 0);

    // Without --remote-issuers the emulator trusts only its own workspaces and never calls out, even for an
    // issuer whose certificate it would trust.
    let roots = pem_file(dir.path(), "ca.pem", &pki.ca_pem);
    let offline = spawn_emulator(dir.path(), "offline", &roots, &[]);
    assert_eq!(
        seed_and_assume(&offline, &issuer.url, &[&token]),
        vec![Err(NO_KEY.to_owned())]
    );
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 0);
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 0);
}
