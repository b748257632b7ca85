//! Property tests of everything that reads peer input or writes commands. The same
//! entry points are fuzzed by the cargo-fuzz targets in `fuzz/` (see `fuzz/README.md`).

use std::time::Duration;

use agi_runtime::testing::fuzz::{ReplyLine, encode, encode_words, parse_env, read_replies};
use agi_runtime::testing::{CallSpec, ScriptedPeer, asterisk_words};
use agi_runtime::wire::{Arg, LARGE_MAX_COMMAND_LINE};
use agi_runtime::{CommandError, EnvLimits, Response, Router, handler_fn};
use proptest::prelude::*;

/// Characters that matter to Asterisk's word splitter, plus anything at all.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec!['"', '\\', ' ', '\t', 'a', 'Z', '0', 'é', '€', ',', '(', ')', '$', '{']),
        1 => prop::sample::select(vec!['\n', '\r', '\0']),
        2 => any::<char>(),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..24).prop_map(|chars| chars.into_iter().collect())
}

fn forbidden(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0))
}

/// The checks every encoded line must pass: one LF, at its end; no CR or NUL; never the
/// failure marker; within the cap; and Asterisk reads back exactly `words`.
fn check_line(line: &[u8], words: &[String], max_line: usize) -> Result<(), TestCaseError> {
    prop_assert!(line.len() <= max_line, "{} bytes over {max_line}", line.len());
    prop_assert_eq!(line.last(), Some(&b'\n'));
    prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "exactly one command");
    prop_assert!(!line.iter().any(|&b| b == b'\r' || b == 0));
    prop_assert!(!(line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"failure")));
    let text = std::str::from_utf8(&line[..line.len() - 1]).expect("the encoder keeps UTF-8");
    prop_assert_eq!(asterisk_words(text), words);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn raw_words_are_read_back_exactly_or_refused(words in prop::collection::vec(tricky_string(), 1..8)) {
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        match encode_words(&refs, LARGE_MAX_COMMAND_LINE) {
            Ok(line) => {
                prop_assert!(!words.iter().any(|w| forbidden(w)));
                check_line(&line, &words, LARGE_MAX_COMMAND_LINE)?;
            }
            Err(CommandError::ForbiddenByte { index, .. }) => prop_assert!(forbidden(&words[index])),
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn typed_arguments_are_read_back_exactly_or_refused(
        keywords in prop::sample::select(vec!["NOOP", "SET VARIABLE", "STREAM FILE", "GET FULL VARIABLE", "EXEC"]),
        args in prop::collection::vec(
            prop_oneof![
                tricky_string().prop_map(|s| (0u8, s, 0i64)),
                tricky_string().prop_map(|s| (1u8, s, 0i64)),
                any::<i64>().prop_map(|n| (2u8, String::new(), n)),
            ],
            0..6,
        ),
    ) {
        let typed: Vec<Arg<'_>> = args
            .iter()
            .map(|(kind, text, n)| match kind {
                0 => Arg::Text(text),
                1 => Arg::Quoted(text),
                _ => Arg::Int(*n),
            })
            .collect();
        let expected: Vec<String> = keywords
            .split(' ')
            .map(str::to_owned)
            .chain(args.iter().map(|(kind, text, n)| if *kind == 2 { n.to_string() } else { text.clone() }))
            .collect();
        match encode(keywords, &typed, LARGE_MAX_COMMAND_LINE) {
            Ok(line) => check_line(&line, &expected, LARGE_MAX_COMMAND_LINE)?,
            Err(CommandError::ForbiddenByte { index, .. }) => prop_assert!(forbidden(&args[index].1)),
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn no_line_is_ever_longer_than_the_cap(words in prop::collection::vec(tricky_string(), 1..6), max_line in 8usize..120) {
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        match encode_words(&refs, max_line) {
            Ok(line) => check_line(&line, &words, max_line)?,
            Err(CommandError::LineTooLong { len, max, .. }) => prop_assert!(len > max && max == max_line),
            Err(CommandError::ForbiddenByte { index, .. }) => prop_assert!(forbidden(&words[index])),
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn the_env_parser_takes_any_bytes_within_its_caps(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        max_line in 1usize..64,
        max_lines in 1usize..16,
        max_bytes in 1usize..512,
    ) {
        let limits = EnvLimits { max_line, max_lines, max_bytes };
        if let Ok(env) = parse_env(&bytes, limits) {
            prop_assert!(env.len() <= max_lines);
            let size: usize = env.iter().map(|(n, v)| n.len() + v.len()).sum();
            prop_assert!(size <= max_bytes, "{size} bytes kept over {max_bytes}");
            prop_assert!(env.path().starts_with('/'));
            for (name, _) in env.iter() {
                prop_assert!(!name.is_empty());
            }
        }
    }

    #[test]
    fn well_formed_blocks_keep_every_first_value(
        vars in prop::collection::vec(("agi_[a-z_]{1,12}", "[^\n\r]{0,40}"), 0..30),
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut block = String::new();
        for (name, value) in &vars {
            block.push_str(&format!("{name}: {value}{end}"));
        }
        block.push_str(end);
        let env = parse_env(block.as_bytes(), EnvLimits::default()).unwrap();
        prop_assert_eq!(env.len(), vars.len());
        for (name, value) in &vars {
            let first = &vars.iter().find(|(n, _)| n == name).unwrap().1;
            prop_assert_eq!(env.get(name), Some(first.as_str()));
            let _ = value;
        }
    }

    #[test]
    fn the_reply_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), max_line in 1usize..300) {
        let lines = read_replies(&bytes, max_line);
        prop_assert!(lines.len() <= bytes.iter().filter(|&&b| b == b'\n').count() + 1);
        for line in &lines[..lines.len().saturating_sub(1)] {
            prop_assert!(!matches!(line, ReplyLine::Malformed | ReplyLine::TooLong), "the reader stops at {line:?}");
        }
    }

    #[test]
    fn reply_lines_built_from_pieces_parse_without_panicking(
        result in "[-0-9]{0,4}",
        rest in prop::collection::vec(prop::sample::select(vec!["(", ")", " ", "endpos=", "=", "timeout", "x"]), 0..12),
    ) {
        let line = format!("200 result={result} {}", rest.concat());
        let lines = read_replies(format!("{line}\n").as_bytes(), 1024);
        let is_success = matches!(&lines[..], [ReplyLine::Success { .. }]);
        prop_assert!(is_success, "{line:?} gave {lines:?}");
        let response = Response::parse(&line[4..]).unwrap();
        prop_assert_eq!(response.result(), result.as_str());
        let _ = (response.payload(), response.tag(), response.after_tag(), response.attribute("endpos"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The whole command reader, as a handler sees it: whatever Asterisk sends, each
    /// command ends (with a reply or an error), the handler runs to its end, and the
    /// session closes.
    #[test]
    fn a_session_survives_any_reply_bytes(
        chunks in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "200 result=0\n", "200 result=1 (v)\n", "HANGUP\n", "100 result=0 Trying...\n", "510 Invalid\n",
                    "511 Command Not Permitted on a dead channel\n", "520-Usage:\n", "520 End of proper usage.\n",
                    "200 result=\n", "\r\n", "\n",
                ]).prop_map(|s| s.as_bytes().to_vec()),
                prop::collection::vec(any::<u8>(), 0..40),
            ],
            0..12,
        ),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<String>();
        let router = Router::new()
            .route(
                "/fuzz",
                handler_fn(move |call| {
                    let done = done.clone();
                    Box::pin(async move {
                        let mut results = Vec::new();
                        for _ in 0..6 {
                            let result = match results.len() % 3 {
                                0 => call.noop().await.map(|()| String::new()),
                                1 => call.get_variable("X").await.map(|v| format!("{v:?}")),
                                _ => call.command(["DATABASE", "GET", "a b"]).await.map(|r| r.rest().to_owned()),
                            };
                            results.push(format!("{result:?}"));
                        }
                        done.send(results.join("|")).unwrap();
                        Ok::<(), agi_runtime::AgiError>(())
                    })
                }),
            )
            .unwrap();
        let outcome = runtime.block_on(async move {
            tokio::time::timeout(Duration::from_secs(10), async move {
                let mut peer = ScriptedPeer::in_memory(router, &CallSpec::new("/fuzz")).await.unwrap();
                for chunk in &chunks {
                    peer.send_bytes(chunk).await.unwrap();
                }
                peer.close().await.unwrap();
                // Read whatever the server sends until it closes.
                while let Ok(Some(_)) = peer.next_command().await {}
                finished.recv().await
            })
            .await
        });
        let report = outcome.expect("the session ended in time");
        prop_assert!(report.is_some(), "the handler did not run to its end");
    }
}
