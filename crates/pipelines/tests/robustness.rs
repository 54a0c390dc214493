//! No input makes the model panic: truncated and mutated corpus files either parse or fail with a
//! positioned error, and whatever parses can be traversed, validated, selected and rendered.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use keyless_pipelines::{Target, parse, select_pipeline, validate};

fn exercise(src: &str) {
    match parse(src) {
        Ok(file) => {
            let steps = file.steps();
            for s in &steps {
                let _ = file.span(s.route);
                let _ = file.use_site_span(s.route);
            }
            let _ = validate(&file);
            for t in [
                Target::Branch("main".into()),
                Target::Tag("v1.0.0".into()),
                Target::PullRequest {
                    source: "feature/x".into(),
                    destination: "main".into(),
                },
                Target::Custom("deploy".into()),
            ] {
                let _ = select_pipeline(&file, &t);
            }
            let yaml = file.to_yaml_string();
            let again = parse(&yaml)
                .unwrap_or_else(|e| panic!("render of a parsed file does not parse: {e}\n{yaml}"));
            assert_eq!(again.root(), file.root());
        }
        Err(e) => {
            assert!(
                e.line >= 1 && e.column >= 1,
                "error without a position: {e}"
            );
        }
    }
}

#[test]
fn mutated_corpus_files_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let inserts = [
        "\t", ":", " ", "- ", "*", "&a ", "<<: ", "{", "]", "\"", "'", "#", "\n", "é", "!!", "|",
        "? ",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut cases = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let boundaries: Vec<usize> = src
            .char_indices()
            .map(|(i, _)| i)
            .chain([src.len()])
            .collect();
        // Truncations.
        for k in (0..boundaries.len()).step_by(37) {
            exercise(&src[..boundaries[k]]);
            cases += 1;
        }
        // Insertions and deletions.
        for _ in 0..60 {
            let at = boundaries[(next() % boundaries.len() as u64) as usize];
            let mut m = src.clone();
            if next() % 3 == 0 {
                let end = boundaries.iter().copied().find(|b| *b > at).unwrap_or(at);
                m.replace_range(at..end, "");
            } else {
                m.insert_str(at, inserts[(next() % inserts.len() as u64) as usize]);
            }
            exercise(&m);
            cases += 1;
        }
    }
    assert!(cases > 2000, "{cases}");
}
