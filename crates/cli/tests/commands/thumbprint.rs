//! `keyless thumbprint` against a local HTTPS issuer whose chain (root → intermediate → leaf for 127.0.0.1) is
//! generated with rcgen: the thumbprint is the SHA-1 of the intermediate, computed here independently; plus the
//! failures a user meets (refused connection, no jwks_uri, plain-HTTP jwks_uri, a server that sends only its own
//! certificate, a CA the client does not trust).
#![allow(clippy::unwrap_used)]

use crate::support::tls_server;

use std::io::Write as _;
use std::sync::Arc;

use assert_cmd::Command;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use sha1::Digest as _;

/// A CA certificate (root or intermediate) that can sign.
fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "keyless tests");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn leaf_params() -> CertificateParams {
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "keyless test issuer");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

/// What the test server presents and serves.
struct Pki {
    root_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

/// root → intermediate → leaf; the server presents leaf and intermediate (the usual public setup).
fn three_level() -> (Pki, CertificateDer<'static>) {
    let root =
        CertifiedIssuer::self_signed(ca_params("keyless test root"), KeyPair::generate().unwrap())
            .unwrap();
    let intermediate = CertifiedIssuer::signed_by(
        ca_params("keyless test intermediate"),
        KeyPair::generate().unwrap(),
        &root,
    )
    .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params().signed_by(&leaf_key, &intermediate).unwrap();
    let intermediate_der = intermediate.der().clone();
    (
        Pki {
            root_pem: root.pem(),
            chain: vec![leaf.der().clone(), intermediate_der.clone()],
            key: leaf_key.serialize_der(),
        },
        intermediate_der,
    )
}

/// root → leaf, and the server presents only the leaf.
fn leaf_only() -> Pki {
    let root =
        CertifiedIssuer::self_signed(ca_params("keyless test root"), KeyPair::generate().unwrap())
            .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params().signed_by(&leaf_key, &root).unwrap();
    Pki {
        root_pem: root.pem(),
        chain: vec![leaf.der().clone()],
        key: leaf_key.serialize_der(),
    }
}

/// An HTTPS issuer on 127.0.0.1:0 serving `/.well-known/openid-configuration` (the template with `{base}`
/// replaced by its own URL) and `/jwks`. Stops when dropped.
fn start_issuer(pki: &Pki, discovery_template: &str) -> tls_server::TlsServer {
    let template = discovery_template.to_owned();
    tls_server::start(pki.chain.clone(), pki.key.clone(), move |base| {
        let discovery = template.replace("{base}", base);
        Arc::new(move |path: &str| match path {
            "/.well-known/openid-configuration" => ("200 OK", discovery.clone()),
            "/jwks" => (
                "200 OK",
                r#"{"keys":[{"kty":"RSA","kid":"test","n":"AQAB","e":"AQAB"}]}"#.to_owned(),
            ),
            _ => ("404 Not Found", "{}".to_owned()),
        })
    })
}

const DISCOVERY: &str = r#"{"issuer": "{base}", "jwks_uri": "{base}/jwks"}"#;

fn ca_file(pki: &Pki) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pki.root_pem.as_bytes()).unwrap();
    file
}

fn keyless(args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .arg("thumbprint")
        .args(args)
        .args(["--timeout", "5"])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `keyless thumbprint URL --ca-file CA --format json`, which must succeed.
fn thumbprint_json(url: &str, ca: &std::path::Path) -> serde_json::Value {
    let (code, out, err) = keyless(&[url, "--ca-file", ca.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_thumbprint_is_the_sha1_of_the_intermediate_the_jwks_host_presents() {
    let (pki, intermediate) = three_level();
    let issuer = start_issuer(&pki, DISCOVERY);
    let ca = ca_file(&pki);
    let expected = hex::encode_upper(sha1::Sha1::digest(intermediate.as_ref()));
    let port = issuer.base.rsplit(':').next().unwrap().to_owned();

    let value = thumbprint_json(&issuer.base, ca.path());
    assert_eq!(value["thumbprint"], expected.as_str());
    assert_eq!(value["url"], issuer.base.as_str());
    assert_eq!(
        value["discovery_url"],
        format!("{}/.well-known/openid-configuration", issuer.base)
    );
    assert_eq!(value["jwks_uri"], format!("{}/jwks", issuer.base));
    assert_eq!(value["jwks_host"], format!("127.0.0.1:{port}"));
    assert_eq!(value["jwks_keys"], 1);
    assert_eq!(value["chain_length"], 2);
    let certificate = &value["certificate"];
    assert!(
        certificate["subject"]
            .as_str()
            .unwrap()
            .contains("CN=keyless test intermediate"),
        "{certificate}"
    );
    assert!(
        certificate["issuer"]
            .as_str()
            .unwrap()
            .contains("CN=keyless test root"),
        "{certificate}"
    );
    assert_eq!(certificate["self_signed"], false);
    assert!(
        time::OffsetDateTime::parse(
            certificate["not_after"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok(),
        "{certificate}"
    );

    // Text: the thumbprint first, then what it is of; the discovery URL works as input too.
    let (code, out, err) = keyless(&[
        &format!("{}/.well-known/openid-configuration", issuer.base),
        "--ca-file",
        ca.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().next(), Some(expected.as_str()), "{out}");
    assert!(out.contains("CN=keyless test intermediate"), "{out}");
    assert!(
        out.contains(&format!("thumbprints: [\"{expected}\"]")),
        "{out}"
    );
}

#[test]
fn a_discovery_host_other_than_the_jwks_host_gets_its_own_thumbprint() {
    // Two hosts (two ports of 127.0.0.1, so two host labels), each with its own CA: the discovery document on
    // one names a jwks_uri on the other. Both thumbprints are printed, the JWKS host's first.
    let (jwks_pki, jwks_intermediate) = three_level();
    let (discovery_pki, discovery_intermediate) = three_level();
    let jwks_issuer = start_issuer(&jwks_pki, DISCOVERY);
    let discovery_issuer = start_issuer(
        &discovery_pki,
        &format!(
            r#"{{"issuer": "{{base}}", "jwks_uri": "{}/jwks"}}"#,
            jwks_issuer.base
        ),
    );
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(jwks_pki.root_pem.as_bytes()).unwrap();
    ca.write_all(discovery_pki.root_pem.as_bytes()).unwrap();
    let jwks_expected = hex::encode_upper(sha1::Sha1::digest(jwks_intermediate.as_ref()));
    let discovery_expected = hex::encode_upper(sha1::Sha1::digest(discovery_intermediate.as_ref()));
    let host_of = |base: &str| base.trim_start_matches("https://").to_owned();

    let value = thumbprint_json(&discovery_issuer.base, ca.path());
    assert_eq!(value["thumbprint"], jwks_expected.as_str());
    assert_eq!(value["jwks_host"], host_of(&jwks_issuer.base).as_str());
    assert_eq!(
        value["discovery_host"],
        host_of(&discovery_issuer.base).as_str()
    );
    assert_eq!(
        value["discovery"]["host"],
        host_of(&discovery_issuer.base).as_str()
    );
    assert_eq!(
        value["discovery"]["thumbprint"],
        discovery_expected.as_str()
    );
    assert_eq!(value["discovery"]["chain_length"], 2);
    assert_eq!(
        value["thumbprints"],
        serde_json::json!([jwks_expected, discovery_expected])
    );

    let (code, out, err) = keyless(&[
        &discovery_issuer.base,
        "--ca-file",
        ca.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "thumbprints: [\"{jwks_expected}\", \"{discovery_expected}\"]"
        )),
        "{out}"
    );
    assert!(out.contains("Discovery host:"), "{out}");

    // One host: no `discovery` entry and one thumbprint.
    let value = thumbprint_json(&jwks_issuer.base, ca.path());
    assert_eq!(value["discovery"], serde_json::Value::Null);
    assert_eq!(value["thumbprints"], serde_json::json!([jwks_expected]));
}

#[test]
fn a_server_that_presents_only_its_own_certificate_is_named() {
    let pki = leaf_only();
    let issuer = start_issuer(&pki, DISCOVERY);
    let ca = ca_file(&pki);
    let (code, out, err) = keyless(&[&issuer.base, "--ca-file", ca.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("presented only its own certificate")
            && err.contains("CN=keyless test issuer")
            && err.contains("intermediate certificates"),
        "{err}"
    );
}

#[test]
fn a_discovery_document_without_jwks_uri_is_refused() {
    let (pki, _) = three_level();
    let issuer = start_issuer(&pki, r#"{"issuer": "{base}"}"#);
    let ca = ca_file(&pki);
    let (code, _, err) = keyless(&[&issuer.base, "--ca-file", ca.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no `jwks_uri`"), "{err}");
}

#[test]
fn a_plain_http_jwks_uri_is_refused() {
    let (pki, _) = three_level();
    let issuer = start_issuer(
        &pki,
        r#"{"issuer": "{base}", "jwks_uri": "http://127.0.0.1:1/jwks"}"#,
    );
    let ca = ca_file(&pki);
    let (code, _, err) = keyless(&[&issuer.base, "--ca-file", ca.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("jwks_uri `http://127.0.0.1:1/jwks` is not https://"),
        "{err}"
    );
}

#[test]
fn a_chain_to_an_untrusted_root_fails_verification() {
    let (pki, _) = three_level();
    let issuer = start_issuer(&pki, DISCOVERY);
    // No --ca-file: Mozilla's roots, which do not include the test root.
    let (code, out, err) = keyless(&[&issuer.base]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("certificate"), "{err}");
    assert!(out.is_empty(), "{out}");
}

#[test]
fn a_refused_connection_is_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, err) = keyless(&[&format!("https://127.0.0.1:{port}")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot fetch the discovery document"), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn http_issuers_are_refused_before_any_connection() {
    let (code, _, err) = keyless(&["http://127.0.0.1:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not https://"), "{err}");
}
