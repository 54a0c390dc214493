//! `keyless thumbprint URL`: the IAM OIDC provider thumbprint of an issuer's JWKS host (and of its discovery host,
//! when that is another host).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use keyless_net::thumbprint::{self, Roots, Thumbprint, ThumbprintOptions};

use crate::format::Format;

#[derive(Debug, Args)]
pub struct ThumbprintArgs {
    /// The issuer URL (e.g. https://api.bitbucket.org/2.0/workspaces/SLUG/pipelines-config/identity/oidc), a host
    /// name, or the discovery document's URL.
    pub url: String,
    /// Trust only the CA certificates in this PEM file instead of Mozilla's root program (private CAs, tests).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed per connection and per request.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: ThumbprintArgs) -> anyhow::Result<ExitCode> {
    let roots = match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-file {}", path.display()))?;
            Roots::from_pem(&pem, &path.display().to_string())?
        }
        None => Roots::WebPki,
    };
    let options = ThumbprintOptions {
        roots,
        timeout: Duration::from_secs(args.timeout.max(1)),
        ..ThumbprintOptions::default()
    };
    let runtime = crate::runtime::sequential()?;
    let result = runtime.block_on(thumbprint::thumbprint(&args.url, &options))?;
    args.format.print(&result, text)?;
    Ok(ExitCode::SUCCESS)
}

fn text(result: &Thumbprint) -> String {
    let certificate = &result.certificate;
    let mut out = format!(
        "{}\n\nJWKS host:    {} (jwks_uri {}, {} key(s))\nCertificate:  {}\n  issued by   {}\n  valid until {}\n  last of the {} certificate(s) the host presented\n",
        result.thumbprint,
        result.jwks_host,
        result.jwks_uri,
        result.jwks_keys,
        certificate.subject,
        certificate.issuer,
        certificate.not_after,
        result.chain_length,
    );
    if certificate.self_signed {
        out.push_str(
            "note: the host sends its root certificate too; AWS's procedure takes the last certificate, so this is the root's thumbprint.\n",
        );
    }
    if let Some(discovery) = &result.discovery {
        out.push_str(&format!(
            "\nDiscovery host: {} (another host than the JWKS host)\nThumbprint:   {}\nCertificate:  {}\n  issued by   {}\n  valid until {}\n  last of the {} certificate(s) the host presented\n",
            discovery.host,
            discovery.thumbprint,
            discovery.certificate.subject,
            discovery.certificate.issuer,
            discovery.certificate.not_after,
            discovery.chain_length,
        ));
    }
    let list = result
        .thumbprints
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&format!(
        "\nIn keyless.yml:\n  workspace:\n    thumbprints: [{list}]\nIAM uses thumbprints only when the JWKS host's certificate does not chain to a CA it trusts.\n"
    ));
    if result.discovery.is_some() {
        out.push_str("The discovery host's thumbprint is listed too: AWS's documentation asks for both when the hosts differ.\n");
    }
    out
}
