//! `keyless configure`: the token into a private file outside the clone directory, and an AWS config profile
//! that points every SDK and the AWS CLI at it (`web_identity_token_file`, `role_arn`, `role_session_name`,
//! `region`), so they assume — and re-assume — by themselves.
//!
//! It records what it wrote (the token file, the profile sections, marked `# written by keyless`, and the
//! directories it created) in a 0600 manifest beside the token, and [`cleanup`] (`keyless configure --cleanup`,
//! an `after-script` line) removes exactly those: on a persistent self-hosted runner nothing outlives the step.
//! It never changes the mode of a directory it did not create.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::ini::{ConfigFile, section_for_profile};
use crate::settings::Settings;

/// Where `configure` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The AWS config file (`AWS_CONFIG_FILE`, else `~/.aws/config`).
    pub config_file: PathBuf,
    /// The private directory for token files (`KEYLESS_TOKEN_DIR`, else `~/.aws/keyless`).
    pub token_dir: PathBuf,
    /// `BITBUCKET_CLONE_DIR`, which must not contain the token.
    pub clone_dir: Option<PathBuf>,
}

/// What `configure` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The profile written.
    pub profile: String,
    /// Helper profiles written for `--chain` (web identity first).
    pub helper_profiles: Vec<String>,
    /// The config file.
    pub config_file: PathBuf,
    /// The token file.
    pub token_file: PathBuf,
    /// Whether an existing profile was replaced.
    pub replaced: bool,
    /// The manifest `--cleanup` reads.
    pub manifest: PathBuf,
    /// Directories this run created (0700).
    pub created_dirs: Vec<PathBuf>,
}

/// The comment on the header of every profile section keyless writes.
pub const MARKER: &str = "written by keyless";

/// What `configure` wrote, for `--cleanup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// The profile.
    pub profile: String,
    /// The AWS config file holding the sections.
    pub config_file: PathBuf,
    /// Whether keyless created the config file (then an emptied file is removed too).
    #[serde(default)]
    pub created_config_file: bool,
    /// Section names (`profile x`, `default`) written.
    pub sections: Vec<String>,
    /// The token file.
    pub token_file: PathBuf,
    /// Directories keyless created, outermost first.
    pub created_dirs: Vec<PathBuf>,
}

/// What `cleanup` removed and what is left.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    /// The manifest read (`None`: there was nothing to clean up).
    pub manifest: Option<PathBuf>,
    /// Files removed.
    pub removed_files: Vec<PathBuf>,
    /// Sections removed from the config file.
    pub removed_sections: Vec<String>,
    /// Directories removed.
    pub removed_dirs: Vec<PathBuf>,
    /// What could not be removed, with the reason (a non-empty list exits 1).
    pub left: Vec<String>,
}

/// Why `configure` refused or failed. All are the user's to fix, except I/O.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    /// No home directory to default to.
    #[error(
        "HOME is not set, so there is no default for the AWS config file and token directory\n  fix: set HOME, or AWS_CONFIG_FILE and KEYLESS_TOKEN_DIR"
    )]
    NoHome,
    /// The token would land inside the clone directory.
    #[error(
        "refusing to write the OIDC token under the clone directory {clone_dir} ({path}): `artifacts` globs and caches can capture it\n  fix: set KEYLESS_TOKEN_DIR to a directory outside the clone (the default is ~/.aws/keyless)"
    )]
    InsideCloneDir {
        /// The token path.
        path: PathBuf,
        /// The clone dir.
        clone_dir: PathBuf,
    },
    /// A path is a symlink.
    #[error(
        "refusing to write {0}: it is a symbolic link (it could redirect the write anywhere)\n  fix: replace the link with a regular file, or point AWS_CONFIG_FILE / KEYLESS_TOKEN_DIR elsewhere"
    )]
    Symlink(PathBuf),
    /// The profile exists.
    #[error(
        "profile `{profile}` already exists in {file} (line {line})\n  fix: pass --overwrite to replace it, or choose another name with --profile"
    )]
    ProfileExists {
        /// Profile name.
        profile: String,
        /// The config file.
        file: PathBuf,
        /// Its header line.
        line: usize,
    },
    /// Session policies cannot go into a profile.
    #[error(
        "--policy/--policy-arn cannot be expressed in an AWS config profile\n  fix: use `credential_process = keyless credential-process --policy FILE ...` in the profile instead, or `keyless assume --policy FILE -- CMD`"
    )]
    PolicyUnsupported,
    /// Session tags and a source identity cannot go into a profile.
    #[error(
        "--tag/--default-tags/--transitive-tag/--source-identity cannot be expressed in an AWS config profile (the SDKs' assume-role profiles have no setting for session tags or a source identity)\n  fix: use `credential_process = keyless credential-process --chain ROLE_ARN --tag K=V ...` in the profile instead, or `keyless assume --chain ROLE_ARN --tag K=V -- CMD`"
    )]
    TagsUnsupported,
    /// Invalid profile name.
    #[error("--profile `{0}`: a profile name may contain letters, digits and `_.-` only")]
    BadProfileName(String),
    /// File system error.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ConfigureError + 'a {
    move |source| ConfigureError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Default paths from the environment.
pub fn default_paths(env: &Env) -> Result<Paths, ConfigureError> {
    let home = env.get("HOME").map(PathBuf::from);
    let config_file = match env.get("AWS_CONFIG_FILE") {
        Some(path) => PathBuf::from(path),
        None => home
            .as_ref()
            .ok_or(ConfigureError::NoHome)?
            .join(".aws")
            .join("config"),
    };
    let token_dir = match env.get("KEYLESS_TOKEN_DIR") {
        Some(path) => PathBuf::from(path),
        None => home
            .as_ref()
            .ok_or(ConfigureError::NoHome)?
            .join(".aws")
            .join("keyless"),
    };
    Ok(Paths {
        config_file,
        token_dir,
        clone_dir: env.get("BITBUCKET_CLONE_DIR").map(PathBuf::from),
    })
}

/// Resolves `path` as far as it exists (following links in the existing prefix) and appends the rest, so a
/// not-yet-created directory can still be compared with the clone directory.
fn absolute(path: &Path) -> PathBuf {
    let path = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_owned())
    };
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(canonical, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path,
        }
    }
}

fn refuse_symlink(path: &Path) -> Result<(), ConfigureError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(ConfigureError::Symlink(path.to_owned())),
        _ => Ok(()),
    }
}

/// Creates `dir` and its missing ancestors, each 0700, and returns the ones it created (outermost first). A
/// directory that exists is left exactly as it is: keyless never changes the mode of a directory it did not
/// create (`KEYLESS_TOKEN_DIR` may be a shared directory; the token file itself is 0600).
fn create_private_dir(dir: &Path) -> Result<Vec<PathBuf>, ConfigureError> {
    refuse_symlink(dir)?;
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        missing.push(path.to_owned());
        current = path.parent();
    }
    missing.reverse();
    for path in &missing {
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        match builder.create(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(io("creating directory", path)(e)),
        }
    }
    Ok(missing)
}

/// The manifest of `profile` in `token_dir`.
pub fn manifest_path(token_dir: &Path, profile: &str) -> PathBuf {
    token_dir.join(format!("keyless-configure-{profile}.json"))
}

/// Writes `contents` to `path` atomically (temp file in the same directory, then rename) with mode `mode`.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), ConfigureError> {
    refuse_symlink(path)?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.keyless-{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io("creating", &tmp))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io("writing", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("replacing", path))
}

/// Writes the token file and the profile(s). With `--chain`, the web-identity settings go into helper profiles
/// `<profile>-web-identity`, `<profile>-chain-1`, … and `<profile>` assumes the last chain role through
/// `source_profile`, which every AWS SDK follows.
pub fn configure(
    settings: &Settings,
    profile: &str,
    overwrite: bool,
    paths: &Paths,
) -> Result<Report, ConfigureError> {
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(ConfigureError::BadProfileName(profile.to_owned()));
    }
    if settings.policy.is_some() || !settings.policy_arns.is_empty() {
        return Err(ConfigureError::PolicyUnsupported);
    }
    if !settings.extras.tags.is_empty() || settings.extras.source_identity.is_some() {
        return Err(ConfigureError::TagsUnsupported);
    }
    let token_file = paths
        .token_dir
        .join(format!("web-identity-token-{profile}"));
    if let Some(clone_dir) = &paths.clone_dir {
        let clone = absolute(clone_dir);
        let target = absolute(&token_file);
        if target.starts_with(&clone) {
            return Err(ConfigureError::InsideCloneDir {
                path: token_file,
                clone_dir: clone_dir.clone(),
            });
        }
    }
    refuse_symlink(&paths.config_file)?;

    let existing = match fs::read_to_string(&paths.config_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(ConfigureError::Io {
                action: "reading",
                path: paths.config_file.clone(),
                source: e,
            });
        }
    };
    let mut file = ConfigFile::parse(&existing);

    // The profiles to write, in chain order; the last is the requested profile.
    let mut names: Vec<String> = Vec::new();
    if settings.chain.is_empty() {
        names.push(profile.to_owned());
    } else {
        names.push(format!("{profile}-web-identity"));
        names.extend((1..settings.chain.len()).map(|i| format!("{profile}-chain-{i}")));
        names.push(profile.to_owned());
    }
    let replaced = file.section_line(&section_for_profile(profile)).is_some();
    if !overwrite {
        for name in &names {
            if let Some(line) = file.section_line(&section_for_profile(name)) {
                return Err(ConfigureError::ProfileExists {
                    profile: name.clone(),
                    file: paths.config_file.clone(),
                    line,
                });
            }
        }
    }

    let token_path = token_file.display().to_string();
    let mut sections = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let mut entries: Vec<(&str, String)> = Vec::new();
        if index == 0 {
            entries.push(("role_arn", settings.role_arn.to_string()));
            entries.push(("web_identity_token_file", token_path.clone()));
        } else {
            entries.push(("role_arn", settings.chain[index - 1].to_string()));
            entries.push(("source_profile", names[index - 1].clone()));
            // Every SDK's assume-role profile reads `external_id` (AWS CLI/SDK shared config reference).
            if let Some(external_id) = settings.extras.external_id(index - 1) {
                entries.push(("external_id", external_id.to_owned()));
            }
        }
        entries.push(("role_session_name", settings.session_name.clone()));
        entries.push(("region", settings.region.clone()));
        let section = section_for_profile(name);
        file.set_marked_section(&section, &entries, MARKER);
        sections.push(section);
    }

    let manifest_file = manifest_path(&paths.token_dir, profile);
    // An earlier run's manifest: keep what it recorded as created, so a re-run can still remove it.
    let previous: Manifest = fs::read(&manifest_file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let mut created_dirs = create_private_dir(&paths.token_dir)?;
    // No trailing newline: botocore sends the file content verbatim as the WebIdentityToken.
    write_atomic(&token_file, settings.token.expose().as_bytes(), 0o600)?;
    let created_config_file = !paths.config_file.exists() || previous.created_config_file;
    if let Some(parent) = paths.config_file.parent() {
        created_dirs.extend(create_private_dir(parent)?);
    }
    write_atomic(&paths.config_file, file.render().as_bytes(), 0o600)?;

    let mut all_created = previous.created_dirs.clone();
    for dir in &created_dirs {
        if !all_created.contains(dir) {
            all_created.push(dir.clone());
        }
    }
    let mut all_sections = previous.sections.clone();
    for section in sections {
        if !all_sections.contains(&section) {
            all_sections.push(section);
        }
    }
    let manifest = Manifest {
        version: 1,
        profile: profile.to_owned(),
        config_file: paths.config_file.clone(),
        created_config_file,
        sections: all_sections,
        token_file: token_file.clone(),
        created_dirs: all_created,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ConfigureError::Io {
        action: "writing",
        path: manifest_file.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(&manifest_file, &json, 0o600)?;

    let helper_profiles = names[..names.len() - 1].to_vec();
    Ok(Report {
        profile: profile.to_owned(),
        helper_profiles,
        config_file: paths.config_file.clone(),
        token_file,
        replaced,
        manifest: manifest_file,
        created_dirs,
    })
}

/// `keyless configure --cleanup`: removes what the manifest of `profile` lists (the token file, the sections
/// still marked `# written by keyless`, the config file if keyless created it and it is now empty, the
/// manifest, and the directories keyless created once empty). A missing manifest means nothing to clean up.
pub fn cleanup(profile: &str, paths: &Paths) -> Result<CleanupReport, ConfigureError> {
    let manifest_file = manifest_path(&paths.token_dir, profile);
    let mut report = CleanupReport::default();
    let bytes = match fs::read(&manifest_file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(io("reading", &manifest_file)(e)),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| ConfigureError::Io {
        action: "reading",
        path: manifest_file.clone(),
        source: std::io::Error::other(e),
    })?;
    report.manifest = Some(manifest_file.clone());
    let remove_file = |path: &Path, report: &mut CleanupReport| match fs::remove_file(path) {
        Ok(()) => report.removed_files.push(path.to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => report.left.push(format!("{}: {e}", path.display())),
    };
    remove_file(&manifest.token_file, &mut report);
    match fs::read_to_string(&manifest.config_file) {
        Ok(text) => {
            let mut file = ConfigFile::parse(&text);
            for section in &manifest.sections {
                if file.remove_marked_section(section, MARKER) {
                    report.removed_sections.push(section.clone());
                }
            }
            if file.render().trim().is_empty() && manifest.created_config_file {
                remove_file(&manifest.config_file, &mut report);
            } else if !report.removed_sections.is_empty() {
                write_atomic(&manifest.config_file, file.render().as_bytes(), 0o600)?;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => report
            .left
            .push(format!("{}: {e}", manifest.config_file.display())),
    }
    remove_file(&manifest_file, &mut report);
    for dir in manifest.created_dirs.iter().rev() {
        match fs::remove_dir(dir) {
            Ok(()) => report.removed_dirs.push(dir.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Not empty: something else lives there now, which is not keyless's to remove.
            Err(_) => {}
        }
    }
    if manifest.token_file.exists() {
        report
            .left
            .push(format!("{} still exists", manifest.token_file.display()));
    }
    Ok(report)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::settings::{Inputs, resolve};
    use crate::token::tests::jwt;
    use std::os::unix::fs::PermissionsExt as _;

    fn settings(chain: &[&str]) -> Settings {
        let token = jwt(
            &serde_json::json!({"iss":"https://i","aud":"a","sub":"{r}:{s}","exp":9_999_999_999_i64}),
        );
        let env = Env::from_pairs([
            ("BITBUCKET_STEP_OIDC_TOKEN", token.expose()),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deploy"),
        ]);
        let inputs = Inputs {
            chain: chain.iter().map(|s| (*s).to_owned()).collect(),
            session_name: Some("build-1".into()),
            ..Inputs::default()
        };
        resolve(&inputs, &env, None, 1).unwrap()
    }

    fn paths(dir: &Path) -> Paths {
        Paths {
            config_file: dir.join("aws/config"),
            token_dir: dir.join("tokens"),
            clone_dir: Some(dir.join("clone")),
        }
    }

    #[test]
    fn writes_private_token_and_profile() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        fs::create_dir_all(p.config_file.parent().unwrap()).unwrap();
        fs::write(
            &p.config_file,
            "# keep me\n[profile other]\nregion = us-east-1\n",
        )
        .unwrap();
        let s = settings(&[]);
        let report = configure(&s, "ci", false, &p).unwrap();
        let token_meta = fs::metadata(&report.token_file).unwrap();
        assert_eq!(token_meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(&p.token_dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            fs::read_to_string(&report.token_file).unwrap().trim(),
            s.token.expose()
        );
        let text = fs::read_to_string(&p.config_file).unwrap();
        assert!(
            text.starts_with("# keep me\n[profile other]\nregion = us-east-1\n"),
            "{text}"
        );
        assert!(text.contains(&format!("[profile ci]  # written by keyless\nrole_arn = arn:aws:iam::123456789012:role/deploy\nweb_identity_token_file = {}\nrole_session_name = build-1\nregion = eu-west-1\n", report.token_file.display())), "{text}");

        // A second run refuses to clobber, then --overwrite replaces only that section.
        let err = configure(&s, "ci", false, &p).unwrap_err().to_string();
        assert!(
            err.contains("already exists") && err.contains("line 5") && err.contains("--overwrite"),
            "{err}"
        );
        let report = configure(&s, "ci", true, &p).unwrap();
        assert!(report.replaced);
        let again = fs::read_to_string(&p.config_file).unwrap();
        assert_eq!(again, text);
    }

    /// A shared `KEYLESS_TOKEN_DIR` keeps its mode; `cleanup` removes exactly what `configure` wrote.
    #[test]
    fn never_chmods_an_existing_directory_and_cleans_up_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = paths(dir.path());
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(shared.join("someone-elses-file"), "x").unwrap();
        p.token_dir = shared.clone();
        fs::create_dir_all(p.config_file.parent().unwrap()).unwrap();
        fs::write(&p.config_file, "[profile mine]\nregion = us-east-1\n").unwrap();
        let report = configure(
            &settings(&["arn:aws:iam::123456789012:role/next"]),
            "ci",
            false,
            &p,
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert!(report.created_dirs.is_empty(), "{:?}", report.created_dirs);
        let manifest = fs::metadata(&report.manifest).unwrap();
        assert_eq!(manifest.permissions().mode() & 0o777, 0o600);

        let cleaned = cleanup("ci", &p).unwrap();
        assert!(cleaned.left.is_empty(), "{:?}", cleaned.left);
        assert_eq!(
            cleaned.removed_sections,
            ["profile ci-web-identity", "profile ci"]
        );
        assert!(!report.token_file.exists() && !report.manifest.exists());
        assert_eq!(
            fs::read_to_string(&p.config_file).unwrap(),
            "[profile mine]\nregion = us-east-1\n"
        );
        assert!(shared.join("someone-elses-file").exists());
        // Nothing left: a second cleanup has nothing to do.
        assert_eq!(cleanup("ci", &p).unwrap(), CleanupReport::default());

        // Directories keyless created (and a config file it created) go too, deepest first.
        let fresh = paths(&dir.path().join("fresh"));
        let report = configure(&settings(&[]), "ci", false, &fresh).unwrap();
        assert!(!report.created_dirs.is_empty());
        for created in &report.created_dirs {
            assert_eq!(
                fs::metadata(created).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        let cleaned = cleanup("ci", &fresh).unwrap();
        assert!(cleaned.left.is_empty());
        assert!(!dir.path().join("fresh").exists(), "{cleaned:?}");
    }

    #[test]
    fn refuses_clone_dir_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = paths(dir.path());
        p.token_dir = dir.path().join("clone/.aws");
        let err = configure(&settings(&[]), "ci", false, &p).unwrap_err();
        assert!(
            matches!(err, ConfigureError::InsideCloneDir { .. }),
            "{err}"
        );
        assert!(!p.token_dir.exists());

        let p = paths(dir.path());
        fs::create_dir_all(p.config_file.parent().unwrap()).unwrap();
        fs::write(dir.path().join("real"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), &p.config_file).unwrap();
        let err = configure(&settings(&[]), "ci", false, &p).unwrap_err();
        assert!(matches!(err, ConfigureError::Symlink(_)), "{err}");
    }

    #[test]
    fn chain_uses_source_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let report = configure(
            &settings(&[
                "arn:aws:iam::111111111111:role/a",
                "arn:aws:iam::222222222222:role/b",
            ]),
            "x",
            false,
            &p,
        )
        .unwrap();
        assert_eq!(report.helper_profiles, vec!["x-web-identity", "x-chain-1"]);
        let file = ConfigFile::parse(&fs::read_to_string(&p.config_file).unwrap());
        assert_eq!(
            file.get("profile x", "role_arn").as_deref(),
            Some("arn:aws:iam::222222222222:role/b")
        );
        assert_eq!(
            file.get("profile x", "source_profile").as_deref(),
            Some("x-chain-1")
        );
        assert_eq!(
            file.get("profile x-chain-1", "source_profile").as_deref(),
            Some("x-web-identity")
        );
        assert!(
            file.get("profile x-web-identity", "web_identity_token_file")
                .is_some()
        );
    }

    #[test]
    fn external_ids_go_into_chain_profiles_and_tags_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let mut s = settings(&[
            "arn:aws:iam::111111111111:role/a",
            "arn:aws:iam::222222222222:role/b",
        ]);
        s.extras.external_ids = vec![None, Some("partner-7f3a".into())];
        configure(&s, "x", false, &p).unwrap();
        let file = ConfigFile::parse(&fs::read_to_string(&p.config_file).unwrap());
        assert_eq!(
            file.get("profile x", "external_id").as_deref(),
            Some("partner-7f3a")
        );
        assert_eq!(file.get("profile x-chain-1", "external_id"), None);
        s.extras.tags = vec![crate::tags::SessionTag {
            key: "Team".into(),
            value: "payments".into(),
            origin: crate::tags::TagOrigin::Flag,
        }];
        let err = configure(&s, "y", false, &p).unwrap_err();
        assert!(matches!(err, ConfigureError::TagsUnsupported), "{err}");
        assert!(err.to_string().contains("credential_process"), "{err}");
    }
}
