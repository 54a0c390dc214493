//! The anchor-holder definition against the real files of `../shared/corpus/pipelines`: every file whose
//! unknown top-level keys only hold anchors used elsewhere (as Atlassian's pipe template writes them) is found,
//! and an unknown key that holds no anchor (a typo) is not.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use keyless_pipelines::{TOP_LEVEL_KEYS, parse};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/pipelines")
}

#[test]
fn corpus_anchor_holders_are_exactly_the_anchor_only_keys() {
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut other_unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut read = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Files the parser refuses are the real-pipelines issue's; they have no holders to find here.
        let Ok(file) = parse(&std::fs::read_to_string(&path).unwrap()) else {
            continue;
        };
        read += 1;
        let found: Vec<String> = file.anchor_holders().into_iter().map(|h| h.key).collect();
        for e in file.root().as_map().unwrap() {
            let key = e.key.to_string();
            if TOP_LEVEL_KEYS.contains(&key.as_str()) {
                continue;
            }
            if found.contains(&key) {
                holders.entry(name.clone()).or_default().push(key);
            } else {
                other_unknown.entry(name.clone()).or_default().push(key);
            }
        }
    }
    assert!(read >= 150, "read only {read} corpus files");
    let prefix = |m: &BTreeMap<String, Vec<String>>| -> Vec<(String, Vec<String>)> {
        m.iter()
            .map(|(k, v)| (k.split("__").next().unwrap().to_string(), v.clone()))
            .collect()
    };
    assert_eq!(
        prefix(&holders),
        vec![
            ("053".to_string(), vec!["commonBuildAndDeploy".to_string()]),
            (
                "165".to_string(),
                vec!["test".to_string(), "push".to_string()]
            ),
            (
                "166".to_string(),
                vec!["test".to_string(), "push".to_string()]
            ),
            (
                "194".to_string(),
                vec![
                    "release-dev".to_string(),
                    "lint".to_string(),
                    "push".to_string()
                ],
            ),
            ("202".to_string(), vec!["test".to_string()]),
            ("214".to_string(), vec!["aws-login".to_string()]),
        ],
        "anchor holders in the corpus"
    );
    // `simage:` is a typo of `image:` holding a plain string: an unknown key, not a holder. 037 writes its branch
    // `develop:` (twice: the last wins, as in Bitbucket) at the top level, with no `pipelines:` around it.
    assert_eq!(
        prefix(&other_unknown),
        vec![
            ("037".to_string(), vec!["develop".to_string()]),
            ("141".to_string(), vec!["simage".to_string()])
        ]
    );
}
