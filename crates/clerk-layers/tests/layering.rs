//! The layers never import each other: a layer module names no other layer
//! module (only `builder.rs` and `lib.rs`, which assemble them, and the neutral
//! `extensions` module may be named).

use std::path::Path;

const LAYERS: &[&str] = &[
    "auth",
    "concurrency",
    "metrics",
    "rate_limit",
    "retry",
    "timeout",
    "trace",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_layer_module_names_another() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut checked = 0;
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let Some(own) = LAYERS.iter().find(|layer| {
            relative.starts_with(layer) || relative == Path::new(&format!("{layer}.rs"))
        }) else {
            continue;
        };
        checked += 1;
        let text = std::fs::read_to_string(&file).expect("read");
        for line in text.lines() {
            // Doc comments may link to other layers; code may not use them.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for other in LAYERS.iter().filter(|other| *other != own) {
                assert!(
                    !line.contains(&format!("crate::{other}")),
                    "{} uses the {other} layer: {line}",
                    relative.display()
                );
            }
        }
    }
    assert!(checked >= LAYERS.len(), "found only {checked} layer files");
}
