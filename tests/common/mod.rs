//! Helpers shared by the test files (not every file uses every helper).

use std::path::PathBuf;

use agi_runtime::testing::Transcript;

/// The capture files of a real Asterisk 22.10.1, sorted by name.
#[allow(dead_code)]
pub(crate) fn capture_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agi-test-vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Every capture with its file name, sorted by name.
#[allow(dead_code)]
pub(crate) fn captures() -> Vec<(String, Transcript)> {
    capture_files()
        .into_iter()
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), Transcript::load(&path).unwrap()))
        .collect()
}
