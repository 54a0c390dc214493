//! The `workspace:` section: the slug, the UUID and the issuer's TLS thumbprints.

use super::{SLUG, THUMBPRINT, Validator};
use crate::location::{Location, Spanned};
use crate::model::Workspace;
use crate::raw::RawWorkspace;

/// The workspace (empty fields where the file lacks them; each gap is reported).
pub(super) fn validate(v: &mut Validator, raw: Option<&Spanned<RawWorkspace>>) -> Workspace {
    let start = Location { line: 1, column: 1 };
    let raw_workspace = v.require(raw, start, "workspace");
    let unknown_slug = Spanned::new(String::new(), start);
    let slug = match raw_workspace {
        Some(w) => v.require(w.slug.as_ref(), w.location, "slug"),
        None => None,
    };
    let slug = slug.unwrap_or(&unknown_slug);
    if raw_workspace.is_some_and(|w| w.slug.is_some()) && !SLUG.is_match(&slug.value) {
        v.error(
            slug.location,
            format!(
                "workspace slug `{}` is not a Bitbucket workspace slug",
                slug.value
            ),
            "use the lowercase ID from `bitbucket.org/<slug>/`, not the display name",
        );
    }
    let workspace_uuid = match raw_workspace.map(|w| &w.uuid) {
        Some(Some(uuid)) => v.uuid(uuid, "workspace UUID").unwrap_or_default(),
        // No workspace at all is reported above.
        None => String::new(),
        Some(None) => {
            v.error(
                slug.location,
                "the workspace has no `uuid`",
                "add `uuid: \"{...}\"` under `workspace:` (Repository settings → OpenID Connect shows it), or run `keyless resolve`",
            );
            String::new()
        }
    };
    let no_thumbprints = Vec::new();
    let thumbprints = thumbprints(v, raw_workspace.map_or(&no_thumbprints, |w| &w.thumbprints));
    Workspace {
        slug: slug.value.clone(),
        uuid: workspace_uuid,
        thumbprints,
    }
}

/// `thumbprints:`: at most 5 (IAM's limit), each 40 hexadecimal characters, kept in lowercase.
fn thumbprints(v: &mut Validator, values: &[Spanned<String>]) -> Vec<String> {
    if values.len() > 5 {
        v.error(
            values[5].location,
            "more than 5 thumbprints",
            "IAM keeps at most 5; remove old ones",
        );
    }
    let mut thumbprints = Vec::new();
    for thumbprint in values {
        if THUMBPRINT.is_match(&thumbprint.value) {
            thumbprints.push(thumbprint.value.to_ascii_lowercase());
        } else {
            v.error(
                thumbprint.location,
                format!(
                    "thumbprint `{}` is not 40 hexadecimal characters",
                    thumbprint.value
                ),
                "compute it with `keyless thumbprint <issuer URL>` (colons removed)",
            );
        }
    }
    thumbprints
}
