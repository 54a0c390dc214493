//! `unpinned-image`: build or service images without a tag, or tagged `latest`.

use super::prelude::*;

pub struct UnpinnedImage;

static META: RuleMeta = RuleMeta {
    id: "unpinned-image",
    summary: "the image is not pinned to a version",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Steps run inside their image with the step's secrets and OIDC token. An image without a tag or tagged \
          `latest` changes under you; a compromised or broken push runs in your pipeline the next time it starts.",
    fix: "Pin a version tag (`node:22.11.0`); under the pedantic persona, pin a digest (`node@sha256:…`).",
    autofix: false,
};

impl UnpinnedImage {
    fn check(&self, node: &Node, route: Route, what: &str, out: &mut Sink) {
        let (name, name_route) = match node.as_str() {
            Some(n) => (n, route),
            None => match node.get("name").and_then(Node::as_str) {
                Some(n) => (n, route.key("name")),
                None => return,
            },
        };
        if name.contains("@sha256:") || name.contains('$') {
            return;
        }
        let last = name.rsplit('/').next().unwrap_or(name);
        match last.split_once(':').map(|(_, t)| t) {
            None => out.push(
                self.finding()
                    .message(format!("{what} `{name}` has no tag, so it means `latest`"))
                    .at(name_route)
                    .label("no tag")
                    .help("pin a version tag"),
            ),
            Some("latest") => out.push(
                self.finding()
                    .message(format!("{what} `{name}` uses the `latest` tag"))
                    .at(name_route)
                    .label("`latest` moves")
                    .help("pin a version tag"),
            ),
            Some(_) => out.push(
                self.finding()
                    .message(format!("{what} `{name}` is pinned to a tag, not a digest"))
                    .at(name_route)
                    .label("tags can be re-pushed")
                    .severity(Severity::Info)
                    .persona(Persona::Pedantic)
                    .help("pin `<image>@sha256:<digest>`"),
            ),
        }
    }
}

impl Rule for UnpinnedImage {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        if let Some(image) = p.doc.root().get("image") {
            self.check(image, Route::root().key("image"), "the default image", out);
        }
        for e in p
            .doc
            .root()
            .get("definitions")
            .and_then(|d| d.get("services"))
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            let (n, Some(image)) = (e.key.as_str(), e.value.get("image")) else {
                continue;
            };
            let route = Route::root()
                .key("definitions")
                .key("services")
                .key(n)
                .key("image");
            self.check(image, route, &format!("service '{n}' image"), out);
        }
    }

    fn check_step(&self, step: &Step<'_>, p: &Pipeline<'_>, out: &mut Sink) {
        if let Some(image) = step.node.get("image") {
            // A step built from an anchor reports once, at the anchor's first user.
            let first_user = p.steps.iter().find(|s| {
                s.node
                    .get("image")
                    .is_some_and(|i| i.span() == image.span())
            });
            if first_user.is_some_and(|s| s.route == step.route) {
                self.check(
                    image,
                    step.key("image"),
                    &format!("the image of {}", step.describe()),
                    out,
                );
            }
        }
    }
}
