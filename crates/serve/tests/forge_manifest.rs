//! integrations/forge/manifest.yml wires a `bitbucket:dynamicPipelinesProvider` to keyless serve: its `endpoint`
//! names an endpoint module whose remote exists, whose route is keyless serve's provider path, over HTTPS, with no
//! OAuth token requested.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::Value;

fn forge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../integrations/forge")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(forge_dir().join("manifest.yml")).unwrap();
    keyless_pipelines::parse_document(&text).unwrap().to_json()
}

fn key_ok(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[test]
fn the_provider_module_reaches_keyless_serve_through_a_remote() {
    let m = manifest();
    let app_id = m["app"]["id"].as_str().unwrap();
    let uuid = app_id.strip_prefix("ari:cloud:ecosystem::app/").unwrap();
    assert_eq!(uuid.len(), 36, "app.id must be an app ARI: {app_id}");

    let providers = m["modules"]["bitbucket:dynamicPipelinesProvider"]
        .as_array()
        .unwrap();
    assert_eq!(providers.len(), 1);
    let provider = &providers[0];
    assert!(key_ok(provider["key"].as_str().unwrap()));
    assert!(!provider["name"].as_str().unwrap().is_empty());
    assert!(
        provider.get("function").is_none(),
        "endpoint and function are exclusive"
    );
    let endpoint_key = provider["endpoint"].as_str().unwrap();

    let endpoints = m["modules"]["endpoint"].as_array().unwrap();
    let endpoint = endpoints
        .iter()
        .find(|e| e["key"] == endpoint_key)
        .unwrap_or_else(|| panic!("no endpoint module `{endpoint_key}`"));
    assert!(key_ok(endpoint_key));
    assert_eq!(
        endpoint["route"]["path"].as_str().unwrap(),
        keyless_serve::PROVIDER_PATH
    );
    // keyless calls no Atlassian API: no OAuth token in the requests, no scopes to hold.
    assert!(
        endpoint.get("auth").is_none(),
        "no app/user token: {endpoint}"
    );
    assert!(m.get("permissions").is_none());

    let remote_key = endpoint["remote"].as_str().unwrap();
    let remotes = m["remotes"].as_array().unwrap();
    let remote = remotes
        .iter()
        .find(|r| r["key"] == remote_key)
        .unwrap_or_else(|| panic!("no remote `{remote_key}`"));
    let base = remote["baseUrl"].as_str().unwrap();
    assert!(
        base.starts_with("https://") && !base.ends_with('/'),
        "{base}"
    );
    // Every module and remote is used: nothing dangling.
    assert_eq!(endpoints.len(), 1);
    assert_eq!(remotes.len(), 1);
    assert!(m["modules"].get("function").is_none());
}

#[test]
fn the_readme_names_the_settings_keyless_serve_needs() {
    let readme = std::fs::read_to_string(forge_dir().join("README.md")).unwrap();
    let m = manifest();
    for needle in [
        "forge register",
        "forge deploy",
        "forge install",
        "--forge-app-id",
        "kill -HUP",
        keyless_serve::auth::FORGE_JWKS_URL,
        keyless_serve::auth::FORGE_ISSUER,
        m["modules"]["bitbucket:dynamicPipelinesProvider"][0]["name"]
            .as_str()
            .unwrap(),
    ] {
        assert!(readme.contains(needle), "README.md lacks `{needle}`");
    }
}
