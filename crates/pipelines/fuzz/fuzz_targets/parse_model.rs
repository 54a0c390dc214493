//! Fuzz target: any text through parse, traversal, spans, validation, selection and rendering.
//! Properties: no panic; whatever parses renders to YAML that parses back to the same tree; the
//! JSON form round-trips.
#![no_main]

use keyless_pipelines::{PipelineFile, Target, parse, select_pipeline, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = parse(src) else {
        return;
    };
    for s in file.steps() {
        let _ = file.span(s.route);
        let _ = file.use_site_span(s.route);
        let _ = s
            .route
            .to_string()
            .parse::<keyless_pipelines::Route>()
            .map(|r| assert_eq!(&r, s.route));
    }
    let _ = validate(&file);
    for t in [
        Target::Branch("main".into()),
        Target::Tag("v1.2.3".into()),
        Target::PullRequest {
            source: "feature/a".into(),
            destination: "main".into(),
        },
        Target::Custom("deploy".into()),
    ] {
        let _ = select_pipeline(&file, &t);
    }
    let yaml = file.to_yaml_string();
    let again = parse(&yaml).expect("rendered YAML parses");
    assert_eq!(again.root(), file.root(), "render changed the tree");
    assert_eq!(again.to_yaml_string(), yaml, "render is not idempotent");
    let json = file.to_json();
    if let Ok(from_json) = PipelineFile::from_json(json.clone()) {
        assert_eq!(from_json.to_json(), json);
    }
});
