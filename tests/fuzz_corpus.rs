//! The fuzz targets' kept corpus and every input that once crashed one,
//! replayed through the same bodies (`lvsd::fuzzing`) on stable Rust: the
//! short fuzz smoke run of every test run. The corpus lives in
//! fuzz/corpus/TARGET/ (minimised after each campaign, see FUZZING.md) and
//! crash inputs in fuzz/regressions/TARGET/.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_replays_its_corpus_and_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut empty = Vec::new();
    for (name, body) in lvsd::fuzzing::TARGETS {
        let corpus = inputs(&root.join("corpus").join(name));
        if corpus.is_empty() {
            empty.push(*name);
        }
        let regressions = inputs(&root.join("regressions").join(name));
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // A panic names the input through the test's output.
            eprintln!("{name}: {}", path.display());
            body(&data);
        }
        println!(
            "{name}: {} corpus inputs, {} regressions replayed",
            corpus.len(),
            regressions.len()
        );
    }
    assert!(
        empty.is_empty(),
        "no corpus kept for {empty:?} (fuzz/corpus/TARGET)"
    );
}

/// Every fuzz binary is one of the targets (and the other way round).
#[test]
fn fuzz_binaries_and_targets_agree() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .expect("fuzz/Cargo.toml");
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "lvsd-fuzz")
        .collect();
    let mut targets: Vec<&str> = lvsd::fuzzing::TARGETS.iter().map(|(n, _)| *n).collect();
    let mut bins_sorted = bins.clone();
    bins_sorted.sort();
    targets.sort();
    assert_eq!(bins_sorted, targets);
}
