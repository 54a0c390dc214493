//! Collects audit inputs: files as given, and directories walked for `bitbucket-pipelines.yml`, `keyless.yml`,
//! CloudFormation templates, IAM policy JSON, Terraform files and `terraform show -json` output (skipping `.git`, `target`, `node_modules` and hidden dirs).

use std::path::{Path, PathBuf};

/// Why inputs could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Files to audit under `paths`, in a stable order. Files named explicitly are always included.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| DiscoverError::Io {
            path: p.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let io = |source| DiscoverError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if name.starts_with('.')
                || matches!(name.as_str(), "target" | "node_modules" | "vendor")
            {
                continue;
            }
            walk(&path, out)?;
        } else if ft.is_file() && candidate(&path, &name) {
            out.push(path);
        }
    }
    Ok(())
}

/// A file worth opening: pipelines and keyless.yml by name; JSON/YAML templates and policies by a cheap sniff.
fn candidate(path: &Path, name: &str) -> bool {
    if matches!(
        name,
        "bitbucket-pipelines.yml" | "bitbucket-pipelines.yaml" | "keyless.yml" | "keyless.yaml"
    ) {
        return true;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    // Terraform: every file of a module, since the role, its policy document and its variables are often in
    // different files.
    if ext == "tf" || name.ends_with(".tf.json") {
        return true;
    }
    // The variables files Terraform loads by itself (others are read only when named, as with `-var-file`).
    if matches!(name, "terraform.tfvars" | "terraform.tfvars.json")
        || name.ends_with(".auto.tfvars")
        || name.ends_with(".auto.tfvars.json")
    {
        return true;
    }
    if !matches!(ext, "json" | "yml" | "yaml" | "template") {
        return false;
    }
    // Only read the head: templates and policies announce themselves early.
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let head: String = text.chars().take(4096).collect();
    head.contains("AWSTemplateFormatVersion")
        || head.contains("AWS::IAM::Role")
        || (head.contains("\"Statement\"") && head.contains("\"Version\""))
        || text.contains("AssumeRolePolicyDocument")
        // `terraform show -json` of a plan or the state.
        || (head.contains("\"format_version\"") && text.contains("\"aws_iam_"))
}
