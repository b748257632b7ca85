//! The command encoder against Asterisk's own word splitter: the words of any command
//! that is sent are read back exactly, as exactly one command.
#![no_main]

use agi_runtime::testing::asterisk_words;
use agi_runtime::testing::fuzz::encode_words;
use agi_runtime::wire::DEFAULT_MAX_COMMAND_LINE;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Words are separated by 0x01 in the input (any other byte can be inside a word).
    let text = String::from_utf8_lossy(data);
    let words: Vec<&str> = text.split('\u{1}').take(100).collect();
    let Ok(line) = encode_words(&words, DEFAULT_MAX_COMMAND_LINE) else {
        return;
    };
    assert!(line.len() <= DEFAULT_MAX_COMMAND_LINE);
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(line.last(), Some(&b'\n'));
    assert!(!line.iter().any(|&b| b == b'\r' || b == 0));
    assert!(!(line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"failure")));
    let sent = std::str::from_utf8(&line[..line.len() - 1]).unwrap();
    assert_eq!(asterisk_words(sent), words);
});
