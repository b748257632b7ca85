//! The environment parser on arbitrary bytes, with small caps and with the defaults.
#![no_main]

use agi_runtime::EnvLimits;
use agi_runtime::testing::fuzz::parse_env;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let small = EnvLimits { max_line: 64, max_lines: 8, max_bytes: 256 };
    if let Ok(env) = parse_env(data, small) {
        assert!(env.len() <= small.max_lines);
        let size: usize = env.iter().map(|(name, value)| name.len() + value.len()).sum();
        assert!(size <= small.max_bytes);
        assert!(env.path().starts_with('/'));
    }
    let _ = parse_env(data, EnvLimits::default());
});
