//! Rendering credentials for other programs: shell `export`s (sh, fish), dotenv, JSON, and the
//! `credential_process` Version 1 document. These are the only places secrets are meant to be written, and
//! they go to stdout only.

use serde::Serialize;

use crate::credentials::Session;

/// Output formats of `keyless env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFormat {
    /// POSIX shell: `export NAME='value'`.
    Sh,
    /// fish: `set -gx NAME 'value'`.
    Fish,
    /// dotenv: `NAME=value`.
    Dotenv,
    /// A JSON object of variable names to values.
    Json,
}

/// The variables `assume` sets and `env` prints, in order.
pub fn variables(session: &Session) -> Vec<(&'static str, String)> {
    let c = &session.credentials;
    vec![
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            c.secret_access_key.expose().to_owned(),
        ),
        ("AWS_SESSION_TOKEN", c.session_token.expose().to_owned()),
        ("AWS_REGION", session.region.clone()),
        ("AWS_DEFAULT_REGION", session.region.clone()),
        ("AWS_CREDENTIAL_EXPIRATION", c.expiration_rfc3339()),
    ]
}

fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

fn dotenv_value(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=_.:-".contains(c))
    {
        value.to_owned()
    } else {
        format!(
            "\"{}\"",
            value
                .replace('\\', r"\\")
                .replace('"', "\\\"")
                .replace('\n', r"\n")
        )
    }
}

/// Renders the variables in `format` (always ending with a newline).
pub fn render_env(session: &Session, format: EnvFormat) -> String {
    let vars = variables(session);
    match format {
        EnvFormat::Sh => vars
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", single_quote(v)))
            .collect(),
        EnvFormat::Fish => vars
            .iter()
            .map(|(k, v)| format!("set -gx {k} {};\n", fish_quote(v)))
            .collect(),
        EnvFormat::Dotenv => vars
            .iter()
            .map(|(k, v)| format!("{k}={}\n", dotenv_value(v)))
            .collect(),
        EnvFormat::Json => {
            let mut map: serde_json::Map<String, serde_json::Value> = vars
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect();
            // What the first --chain hop set besides the role, only when something was set (the variables stay
            // the object's only members otherwise, as before).
            let attributes = &session.attributes;
            if !attributes.tags.is_empty() {
                let tags: serde_json::Map<String, serde_json::Value> = attributes
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                map.insert("SessionTags".to_owned(), serde_json::Value::Object(tags));
                map.insert(
                    "TransitiveTagKeys".to_owned(),
                    serde_json::json!(attributes.transitive_tag_keys),
                );
                if !attributes.dropped_tags.is_empty() {
                    map.insert(
                        "DroppedTags".to_owned(),
                        serde_json::json!(attributes.dropped_tags),
                    );
                }
            }
            if let Some(source_identity) = &attributes.source_identity {
                map.insert(
                    "SourceIdentity".to_owned(),
                    serde_json::Value::String(source_identity.clone()),
                );
            }
            format!("{}\n", serde_json::Value::Object(map))
        }
    }
}

/// The `credential_process` document (`aws.md` §5).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessCredentials<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

/// Renders the `credential_process` Version 1 JSON.
pub fn render_credential_process(session: &Session) -> String {
    let c = &session.credentials;
    let doc = ProcessCredentials {
        version: 1,
        access_key_id: &c.access_key_id,
        secret_access_key: c.secret_access_key.expose(),
        session_token: c.session_token.expose(),
        expiration: c.expiration_rfc3339(),
        account_id: session.account.as_deref(),
    };
    format!("{}\n", serde_json::to_string(&doc).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{Credentials, Hop};
    use crate::secret::Secret;

    fn session() -> Session {
        Session {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: Secret::new("se'cr\"et/+="),
                session_token: Secret::new("tok"),
                expiration: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            },
            region: "eu-west-1".into(),
            hops: vec![Hop {
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            }],
            account: Some("123456789012".into()),
            attributes: crate::credentials::SessionAttributes::default(),
        }
    }

    #[test]
    fn sh_round_trips_through_a_real_shell() {
        let script = format!(
            "{}printf '%s|%s|%s' \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_DEFAULT_REGION\" \"$AWS_CREDENTIAL_EXPIRATION\"",
            render_env(&session(), EnvFormat::Sh)
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "se'cr\"et/+=|eu-west-1|2026-01-02T03:04:05Z"
        );
    }

    #[test]
    fn formats() {
        let fish = render_env(&session(), EnvFormat::Fish);
        assert!(
            fish.contains("set -gx AWS_SECRET_ACCESS_KEY 'se\\'cr\"et/+=';"),
            "{fish}"
        );
        let dotenv = render_env(&session(), EnvFormat::Dotenv);
        assert!(
            dotenv.contains("AWS_ACCESS_KEY_ID=ASIAEXAMPLE\n")
                && dotenv.contains("AWS_SECRET_ACCESS_KEY=\"se'cr\\\"et/+=\""),
            "{dotenv}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_env(&session(), EnvFormat::Json)).unwrap();
        assert_eq!(json["AWS_REGION"], "eu-west-1");
        assert_eq!(json.as_object().unwrap().len(), 6);
        let mut tagged = session();
        tagged.attributes = crate::credentials::SessionAttributes {
            tags: vec![
                ("Repository".into(), "acme/site".into()),
                ("Team".into(), "payments".into()),
            ],
            transitive_tag_keys: vec!["Repository".into()],
            source_identity: Some("alice".into()),
            dropped_tags: vec!["StepUuid".into()],
        };
        let json: serde_json::Value =
            serde_json::from_str(&render_env(&tagged, EnvFormat::Json)).unwrap();
        assert_eq!(
            json["SessionTags"],
            serde_json::json!({"Repository": "acme/site", "Team": "payments"})
        );
        assert_eq!(json["TransitiveTagKeys"], serde_json::json!(["Repository"]));
        assert_eq!(json["DroppedTags"], serde_json::json!(["StepUuid"]));
        assert_eq!(json["SourceIdentity"], "alice");
        // The shell formats stay variables only.
        assert!(!render_env(&tagged, EnvFormat::Sh).contains("Repository"));
    }

    #[test]
    fn credential_process_document() {
        let json: serde_json::Value =
            serde_json::from_str(&render_credential_process(&session())).unwrap();
        assert_eq!(json["Version"], 1);
        assert_eq!(json["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(json["SessionToken"], "tok");
        assert_eq!(json["Expiration"], "2026-01-02T03:04:05Z");
        assert_eq!(json["AccountId"], "123456789012");
    }
}
