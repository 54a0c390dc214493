//! Models of published modules that make Bitbucket OIDC roles: a `module` call whose `source` is one of these is
//! judged from its inputs, by keyless's own Terraform (in `models/`) that renders the trust policy the module would
//! render. Any other module from the registry or git is `unresolved-reference`, never a pass.
//!
//! A model is written for keyless's evaluator and holds only what decides trust (the inputs that reach the trust
//! policy, with the module's defaults; the role; the OIDC provider; the outputs a caller uses for trust). Each file
//! names the module files and version it follows. The list is published in docs/rules (`unresolved-reference`).
//!
//! Versions: a model of one major release of terraform-aws-modules/iam applies only when the call's `version`
//! constraint (or a git source's `?ref=`) allows no other major; without `version` Terraform installs the newest
//! release, which keyless cannot vouch for, so the call stays unresolved. The two Bitbucket modules publish no
//! release history keyless can check against; their models follow the commits named in their files and apply
//! to every version.

/// The directory prefix of a model's files (never a real directory: the name starts with a NUL).
pub const ROOT: &str = "\u{0}keyless-model";

/// Which releases a model follows.
#[derive(Debug, Clone, Copy)]
pub enum Versions {
    /// One major release (`5` for 5.x): the call must pin within it.
    Major(u64),
    /// Every release (the module publishes no history keyless can check against).
    Any,
}

/// One modelled module.
#[derive(Debug)]
pub struct Model {
    /// The registry address (`namespace/name/provider`).
    pub registry: &'static str,
    /// The repository the registry publishes (`github.com/owner/repo`), for `git::` and `github.com/` sources.
    pub repository: &'static str,
    /// The submodule path (`modules/iam-role`), empty for the root module.
    pub submodule: &'static str,
    pub versions: Versions,
    /// The model's files: (directory within the model, text). The first is the module itself; others are its own
    /// local submodules.
    pub files: &'static [(&'static str, &'static str)],
}

impl Model {
    /// The directory the model's files are read in.
    pub fn dir(&self, sub: &str) -> String {
        let mut dir = format!("{ROOT}/{}", self.registry);
        if !self.submodule.is_empty() {
            dir.push('/');
            dir.push_str(self.submodule);
        }
        if !sub.is_empty() {
            dir.push('/');
            dir.push_str(sub);
        }
        dir
    }

    /// How the module is named in messages (`terraform-aws-modules/iam/aws//modules/iam-role` 6.x).
    pub fn name(&self) -> String {
        let mut name = self.registry.to_owned();
        if !self.submodule.is_empty() {
            name.push_str("//");
            name.push_str(self.submodule);
        }
        match self.versions {
            Versions::Major(m) => format!("{name} {m}.x"),
            Versions::Any => name,
        }
    }
}

/// The modelled modules.
pub const MODELS: &[Model] = &[
    Model {
        registry: "terraform-aws-modules/iam/aws",
        repository: "github.com/terraform-aws-modules/terraform-aws-iam",
        submodule: "modules/iam-assumable-role-with-oidc",
        versions: Versions::Major(5),
        files: &[(
            "",
            include_str!("models/iam_assumable_role_with_oidc_v5.tf"),
        )],
    },
    Model {
        registry: "terraform-aws-modules/iam/aws",
        repository: "github.com/terraform-aws-modules/terraform-aws-iam",
        submodule: "modules/iam-role",
        versions: Versions::Major(6),
        files: &[("", include_str!("models/iam_role_v6.tf"))],
    },
    Model {
        registry: "calidae/bitbucket-oidc/aws",
        repository: "github.com/calidae/terraform-aws-bitbucket-oidc",
        submodule: "",
        versions: Versions::Any,
        files: &[("", include_str!("models/calidae_bitbucket_oidc.tf"))],
    },
    Model {
        registry: "pelotech/oidc-bitbucket/aws",
        repository: "github.com/pelotech/terraform-aws-oidc-bitbucket",
        submodule: "",
        versions: Versions::Any,
        files: &[
            ("", include_str!("models/pelotech_oidc_bitbucket.tf")),
            (
                "modules/aws-roles-oidc-bitbucket",
                include_str!("models/pelotech_oidc_bitbucket_roles.tf"),
            ),
        ],
    },
];

/// A module source split the way Terraform reads it: the package, the submodule after `//`, and a git `ref`.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    package: String,
    submodule: String,
    git_ref: Option<String>,
    git: bool,
}

fn parse_source(source: &str) -> Parsed {
    let mut s = source.trim();
    let git = s.starts_with("git::") || s.starts_with("github.com/");
    s = s.strip_prefix("git::").unwrap_or(s);
    for scheme in ["https://", "http://", "ssh://git@", "ssh://", "git@"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest;
            break;
        }
    }
    s = s.strip_prefix("registry.terraform.io/").unwrap_or(s);
    let (s, git_ref) = match s.split_once('?') {
        Some((path, query)) => (
            path,
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix("ref="))
                .map(str::to_owned),
        ),
        None => (s, None),
    };
    let (package, submodule) = match s.split_once("//") {
        Some((p, sub)) => (p, sub.trim_matches('/')),
        None => (s, ""),
    };
    // `git@github.com:owner/repo` is scp-like syntax.
    let package = package.replacen("github.com:", "github.com/", 1);
    let package = package
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_owned();
    Parsed {
        package,
        submodule: submodule.to_owned(),
        git_ref,
        git,
    }
}

/// The model for a module call, or why there is none (the reason `unresolved-reference` gives).
pub fn find(source: &str, version: Option<&str>) -> Result<&'static Model, String> {
    let parsed = parse_source(source);
    let model = MODELS
        .iter()
        .filter(|m| {
            let package = if parsed.git { m.repository } else { m.registry };
            package.eq_ignore_ascii_case(&parsed.package) && m.submodule == parsed.submodule
        })
        .find(|m| match m.versions {
            Versions::Any => true,
            Versions::Major(major) => {
                requested_major(&parsed, version).is_some_and(|got| got == major)
            }
        });
    if let Some(model) = model {
        return Ok(model);
    }
    let same_module: Vec<&Model> = MODELS
        .iter()
        .filter(|m| {
            (m.registry.eq_ignore_ascii_case(&parsed.package)
                || m.repository.eq_ignore_ascii_case(&parsed.package))
                && m.submodule == parsed.submodule
        })
        .collect();
    if same_module.is_empty() {
        return Err("keyless has no model of this module; see the list in docs/rules".into());
    }
    let modelled = same_module
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ");
    let asked = match (&parsed.git_ref, version) {
        (Some(r), _) if parsed.git => format!("ref `{r}`"),
        (_, Some(v)) => format!("version `{v}`"),
        _ => "no `version`: Terraform installs the newest release".to_owned(),
    };
    Err(format!(
        "{asked}; keyless models {modelled} only, pin a version within it"
    ))
}

/// The one major release a call can install, if its constraint allows only one.
fn requested_major(parsed: &Parsed, version: Option<&str>) -> Option<u64> {
    if parsed.git {
        // A git source installs the ref: a tag like `v6.2.0`; a branch or commit says nothing.
        let r = parsed.git_ref.as_deref()?;
        let (v, _) = parse_version(r.strip_prefix('v').unwrap_or(r))?;
        return Some(v[0]);
    }
    constraint_major(version?)
}

/// A version: its numbers (missing ones are 0), and whether the patch was written.
fn parse_version(text: &str) -> Option<([u64; 3], bool)> {
    let text = text.trim();
    // Pre-release and build suffixes do not move the major.
    let core = text.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut out = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        out[i] = p.parse().ok()?;
    }
    Some((out, parts.len() == 3))
}

/// The one major release a Terraform version constraint (`5.5.5`, `~> 5.52.1`, `>= 6.0, < 7.0`) allows, if only
/// one (<https://developer.hashicorp.com/terraform/language/expressions/version-constraints>).
fn constraint_major(constraint: &str) -> Option<u64> {
    let mut lower: Option<[u64; 3]> = None;
    // Exclusive upper bound.
    let mut upper: Option<[u64; 3]> = None;
    let raise = |lower: &mut Option<[u64; 3]>, v: [u64; 3]| {
        if lower.is_none_or(|l| v > l) {
            *lower = Some(v);
        }
    };
    let cap = |upper: &mut Option<[u64; 3]>, v: [u64; 3]| {
        if upper.is_none_or(|u| v < u) {
            *upper = Some(v);
        }
    };
    for part in constraint.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (op, rest) = ["~>", ">=", "<=", "!=", "=", ">", "<"]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", part));
        let (v, patch) = parse_version(rest)?;
        match op {
            "=" => {
                raise(&mut lower, v);
                cap(&mut upper, [v[0], v[1], v[2] + 1]);
            }
            ">=" => raise(&mut lower, v),
            ">" => raise(&mut lower, [v[0], v[1], v[2] + 1]),
            "<" => cap(&mut upper, v),
            "<=" => cap(&mut upper, [v[0], v[1], v[2] + 1]),
            "~>" => {
                raise(&mut lower, v);
                // `~> 5.52.1` allows 5.52.x; `~> 5.0` and `~> 5` allow 5.x.
                let bound = if patch {
                    [v[0], v[1] + 1, 0]
                } else {
                    [v[0] + 1, 0, 0]
                };
                cap(&mut upper, bound);
            }
            // `!=` excludes one version; it never narrows the range to one major.
            _ => {}
        }
    }
    let (lower, upper) = (lower?, upper?);
    (lower < upper && upper <= [lower[0] + 1, 0, 0]).then_some(lower[0])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_read_as_terraform_reads_them() {
        let p = parse_source("terraform-aws-modules/iam/aws//modules/iam-role");
        assert_eq!(
            (p.package.as_str(), p.submodule.as_str(), p.git),
            ("terraform-aws-modules/iam/aws", "modules/iam-role", false)
        );
        let p = parse_source(
            "git::https://github.com/terraform-aws-modules/terraform-aws-iam.git//modules/iam-role?ref=v6.1.0",
        );
        assert_eq!(
            p.package,
            "github.com/terraform-aws-modules/terraform-aws-iam"
        );
        assert_eq!(p.submodule, "modules/iam-role");
        assert_eq!(p.git_ref.as_deref(), Some("v6.1.0"));
        assert!(p.git);
        let p = parse_source("registry.terraform.io/calidae/bitbucket-oidc/aws");
        assert_eq!(p.package, "calidae/bitbucket-oidc/aws");
    }

    #[test]
    fn a_constraint_names_a_major_only_when_it_allows_no_other() {
        assert_eq!(constraint_major("5.5.5"), Some(5));
        assert_eq!(constraint_major("= 6.0.0"), Some(6));
        assert_eq!(constraint_major("~> 5.52.1"), Some(5));
        assert_eq!(constraint_major("~> 5.0"), Some(5));
        assert_eq!(constraint_major("~> 5"), Some(5));
        assert_eq!(constraint_major(">= 6.0, < 7.0"), Some(6));
        assert_eq!(constraint_major(">= 5.0"), None);
        assert_eq!(constraint_major(">= 5.0, < 7.0"), None);
        assert_eq!(constraint_major("< 6.0"), None);
        assert_eq!(constraint_major("latest"), None);
    }

    #[test]
    fn models_are_chosen_by_source_and_version() {
        let v5 = "terraform-aws-modules/iam/aws//modules/iam-assumable-role-with-oidc";
        assert!(find(v5, Some("5.5.5")).is_ok());
        let why = find(v5, Some("~> 4.0")).unwrap_err();
        assert!(why.contains("5.x"), "{why}");
        let why = find(v5, None).unwrap_err();
        assert!(why.contains("no `version`"), "{why}");
        let v6 = "git::https://github.com/terraform-aws-modules/terraform-aws-iam.git//modules/iam-role?ref=v6.2.0";
        assert_eq!(find(v6, None).unwrap().submodule, "modules/iam-role");
        let main = "git::https://github.com/terraform-aws-modules/terraform-aws-iam.git//modules/iam-role?ref=master";
        assert!(find(main, None).is_err());
        assert!(find("calidae/bitbucket-oidc/aws", None).is_ok());
        assert!(find("pelotech/oidc-bitbucket/aws", Some("0.1.0")).is_ok());
        assert!(
            find("someone/bitbucket-oidc/aws", None)
                .unwrap_err()
                .contains("no model")
        );
        // Every model parses as Terraform.
        for m in MODELS {
            for (_, text) in m.files {
                super::super::ast::parse_hcl(0, text).unwrap();
            }
        }
    }
}
