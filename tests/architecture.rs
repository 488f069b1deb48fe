//! The invariants ARCHITECTURE.md states about dependencies, checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn sources_under(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn views_never_decode() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![(
        "src/view.rs".to_string(),
        std::fs::read_to_string(root.join("src/view.rs")).unwrap(),
    )];
    sources_under(&root.join("src/view"), &mut files);
    assert!(files.len() > 3);
    for (path, text) in files {
        for forbidden in [
            "crate::decode",
            "crate::flow",
            "crate::application",
            "crate::pipeline",
        ] {
            assert!(
                !text.contains(forbidden),
                "{path} uses {forbidden}: views read the model only"
            );
        }
    }
}

#[test]
fn decoders_never_render() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src/decode", "src/flow", "src/application"] {
        sources_under(&root.join(dir), &mut files);
    }
    for (path, text) in files {
        for forbidden in [
            "crate::view",
            "crate::dissect::build",
            "println!",
            "ratatui",
        ] {
            assert!(
                !text.contains(forbidden),
                "{path} uses {forbidden}: decoders never render"
            );
        }
    }
}
