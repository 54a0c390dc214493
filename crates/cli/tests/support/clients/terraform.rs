//! The Terraform harness: runs the machine's Terraform (1.11) with the `hashicorp/aws` provider from the offline
//! filesystem mirror against a running `keyless emulate`. Nothing is downloaded.
//!
//! - [`Terraform::new`] makes a working directory with a CLI configuration (`TF_CLI_CONFIG_FILE`) whose
//!   `provider_installation` has one `filesystem_mirror` (the mirror, `KEYLESS_TF_PLUGINS`, default
//!   `/opt/tf-plugins`) and no `direct` source, so `terraform init` can only use the mirror.
//! - [`provider_block`] is the `provider "aws"` override every test puts beside its configuration: the emulator's
//!   endpoint for `iam` and `sts`, `skip_*` settings so the provider makes no call the emulator does not serve
//!   (EC2 metadata, region validation, account-id lookup through other services), and static admin keys or an
//!   `assume_role_with_web_identity` block.
//! - [`Terraform::run`] runs one command with a clean environment (no `AWS_*` from the caller, no plugin cache,
//!   no checkpoint calls) and returns its output.
//!
//! Used by the seed-recipe suite (issue 17) and reusable by any issue that needs a real IaC consumer of the
//! emulator: copy nothing, call `Terraform::new(...)`, write `main.tf`, `run(&["apply", ...])`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the provider mirror is (`KEYLESS_TF_PLUGINS`, default `/opt/tf-plugins`).
pub fn plugins_dir() -> PathBuf {
    std::env::var_os("KEYLESS_TF_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"))
}

/// The Terraform binary (`KEYLESS_TERRAFORM`, else `terraform` on PATH, else `/usr/local/bin/terraform`).
pub fn binary() -> Option<PathBuf> {
    let found = std::env::var_os("KEYLESS_TERRAFORM")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("terraform"))
                    .find(|p| p.is_file())
            })
        })
        .unwrap_or_else(|| PathBuf::from("/usr/local/bin/terraform"));
    crate::support::require(found, "terraform")
}

/// Credentials for the provider block.
pub enum Auth<'a> {
    /// An account's admin keys.
    Static {
        /// `AKIA…`.
        access_key: &'a str,
        /// Its secret.
        secret_key: &'a str,
    },
    /// `assume_role_with_web_identity { role_arn, web_identity_token_file, session_name }`.
    WebIdentity {
        /// The role.
        role_arn: &'a str,
        /// The token file.
        token_file: &'a Path,
        /// The session name.
        session_name: &'a str,
    },
}

/// The `provider "aws"` block that points the provider at the emulator.
pub fn provider_block(endpoint: &str, auth: &Auth<'_>) -> String {
    let credentials = match auth {
        Auth::Static {
            access_key,
            secret_key,
        } => format!("  access_key = \"{access_key}\"\n  secret_key = \"{secret_key}\"\n"),
        Auth::WebIdentity {
            role_arn,
            token_file,
            session_name,
        } => format!(
            "  assume_role_with_web_identity {{\n    role_arn                = \"{role_arn}\"\n    \
             web_identity_token_file = \"{}\"\n    session_name            = \"{session_name}\"\n  }}\n",
            token_file.display()
        ),
    };
    format!(
        r#"provider "aws" {{
  region                      = "us-east-1"
{credentials}  skip_credentials_validation = false
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true
  endpoints {{
    iam = "{endpoint}"
    sts = "{endpoint}"
  }}
}}
"#
    )
}

/// A Terraform working directory wired to the offline mirror.
pub struct Terraform {
    bin: PathBuf,
    dir: tempfile::TempDir,
    cli_config: PathBuf,
}

impl Terraform {
    /// A fresh working directory, or `None` (skip) when Terraform or the mirror is missing.
    pub fn new() -> Option<Self> {
        let bin = binary()?;
        let plugins = crate::support::require(
            plugins_dir().join("registry.terraform.io/hashicorp/aws"),
            "the hashicorp/aws provider mirror",
        )?;
        let mirror = plugins
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .unwrap()
            .to_owned();
        let dir = tempfile::tempdir().unwrap();
        let cli_config = dir.path().join("terraform.rc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n}}\ndisable_checkpoint = true\n",
                mirror.display()
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        Some(Self {
            bin,
            dir,
            cli_config,
        })
    }

    /// The directory Terraform runs in (`main.tf` and friends go here).
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Writes a file into the working directory.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.work().join(name), text).unwrap();
    }

    /// Runs `terraform ARGS` in the working directory with a clean environment.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "terraform {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
