//! The reply reader on arbitrary bytes: it classifies, parses and stops, never panics.
#![no_main]

use agi_runtime::testing::fuzz::{ReplyLine, read_replies};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = read_replies(data, 256);
    assert!(lines.len() <= data.iter().filter(|&&b| b == b'\n').count() + 1);
    for line in &lines[..lines.len().saturating_sub(1)] {
        assert!(!matches!(line, ReplyLine::Malformed | ReplyLine::TooLong));
    }
});
