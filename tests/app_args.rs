//! `EXEC` and `GOSUB` arguments against an oracle: a transcription of Asterisk's
//! application argument splitter (`__ast_app_separate_args` in main/app.c,
//! AGI-PROTOCOL.md §1.2). Whatever the arguments hold, `EXEC` must deliver each one
//! intact to the application, and `GOSUB` must send exactly the argument lists the
//! subroutine would receive intact, refusing the others.

#[macro_use]
mod support;

use agi_runtime::testing::asterisk_words;
use support::start_steps;

/// `__ast_app_separate_args(buf, ',', remove_chars, array, arraylen)`, step by step on
/// a NUL-terminated buffer: `(`/`)` and `[`/`]` nest, `"` toggles quoting, `\` makes
/// the next byte literal; with `remove_chars` (`AST_STANDARD_APP_ARGS`) the quotes and
/// backslashes are removed, without it (`AST_STANDARD_RAW_ARGS`, used by `Gosub`) they
/// stay. At most `arraylen - 1` splits; a trailing delimiter gives a last empty piece.
/// `None` for a trailing lone backslash, which makes Asterisk read past the string.
fn separate_args(data: &str, remove_chars: bool, arraylen: usize) -> Option<Vec<String>> {
    let mut buf = data.as_bytes().to_vec();
    buf.push(0);
    let (mut paren, mut bracket, mut quote) = (0u32, 0u32, false);
    let mut starts = Vec::new();
    let mut scan = 0usize;
    let mut was_delim = None;
    while buf[scan] != 0 && starts.len() < arraylen - 1 {
        starts.push(scan);
        while buf[scan] != 0 {
            match buf[scan] {
                b'(' => paren += 1,
                b')' => paren = paren.saturating_sub(1),
                b'[' => bracket += 1,
                b']' => bracket = bracket.saturating_sub(1),
                b'"' => {
                    quote = !quote;
                    if remove_chars {
                        buf.remove(scan);
                        continue;
                    }
                }
                b'\\' => {
                    if remove_chars {
                        buf.remove(scan);
                    } else {
                        scan += 1;
                    }
                    if buf[scan] == 0 {
                        return None;
                    }
                }
                b',' if paren == 0 && bracket == 0 && !quote => {
                    was_delim = Some(scan);
                    buf[scan] = 0;
                    scan += 1;
                    break;
                }
                _ => {}
            }
            scan += 1;
        }
    }
    if buf[scan] != 0 || (scan > 0 && was_delim == Some(scan - 1)) {
        starts.push(scan);
    }
    let piece = |start: usize| {
        let end = start + buf[start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(buf[start..end].to_vec()).unwrap()
    };
    Some(starts.into_iter().map(piece).collect())
}

#[test]
fn the_oracle_splits_as_asterisk_documents() {
    let standard = |s| separate_args(s, true, 128).unwrap();
    assert_eq!(standard("one,two words,\"three,with comma\","), ["one", "two words", "three,with comma", ""]);
    assert_eq!(standard("a\\,b,c"), ["a,b", "c"]);
    assert_eq!(standard("f(a,b),[c,d]"), ["f(a,b)", "[c,d]"]);
    assert_eq!(standard(""), Vec::<String>::new());
    assert_eq!(standard(","), ["", ""]);
    let raw = |s| separate_args(s, false, 100).unwrap();
    assert_eq!(raw("\"a,b\",c\\,d"), ["\"a,b\"", "c\\,d"]);
    assert_eq!(separate_args("a,b,c,d", true, 3).unwrap(), ["a", "b", "c,d"]);
    assert_eq!(separate_args("a\\", false, 100), None);
    assert_eq!(separate_args("a\\\\\\", true, 100), None);
}

/// A small deterministic generator of argument lists full of the parser's specials.
struct Lists(u64);

impl Lists {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn list(&mut self) -> Vec<String> {
        const ALPHABET: [&str; 18] =
            [",", "|", "(", ")", "[", "]", "\"", "\\", " ", "a", "b", "$", "{", "}", "&", "é", "=", ";"];
        let args = self.next() % 5;
        (0..args)
            .map(|_| {
                let len = self.next() % 7;
                (0..len).map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize]).collect()
            })
            .collect()
    }
}

/// Hand-picked lists, then generated ones.
fn argument_lists(generated: usize) -> Vec<Vec<String>> {
    let picked: &[&[&str]] = &[
        &[],
        &[""],
        &["", ""],
        &["PJSIP/100", "30", "tT"],
        &["hello, world"],
        &["1", "say \"hi\" (now) | [x] \\o/"],
        &["(", ")", "[", "]", "\""],
        &["\\", "\\\\", "a\\"],
        &["\"a,b\"", "f(x,y)", "[p,q]"],
        &["${CALLERID(num)}", "a&b", "key=value;x"],
        &["trailing,", ",leading", ""],
        &["ünïcödé", "日本語,テキスト"],
    ];
    let mut lists: Vec<Vec<String>> = picked.iter().map(|l| l.iter().map(|a| (*a).to_owned()).collect()).collect();
    let mut generator = Lists(0x9e37_79b9_7f4a_7c15);
    lists.extend((0..generated).map(|_| generator.list()));
    lists
}

fn refs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// The option word of a sent `EXEC` / `GOSUB` line (`index` words in), if any.
fn word(line: &str, index: usize) -> String {
    asterisk_words(line).get(index).cloned().unwrap_or_default()
}

#[tokio::test]
async fn exec_delivers_every_argument_intact() {
    let lists = argument_lists(1500);
    let steps = lists.iter().cloned().map(|list| typed!(c => c.exec("App", &refs(&list)).await)).collect();
    let (mut peer, mut reports) = start_steps(steps).await;
    for list in &lists {
        let line = peer.next_command().await.unwrap().unwrap();
        let received = separate_args(&word(&line, 2), true, 128).unwrap();
        // One empty argument and none are the same to an application.
        let sent: &[String] = if list.len() == 1 && list[0].is_empty() { &[] } else { list };
        assert_eq!(received, sent, "`{line}`");
        peer.send("200 result=0").await.unwrap();
        assert_eq!(reports.recv().await.unwrap(), "Ok(Continue)");
    }
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn gosub_sends_exactly_the_arguments_that_arrive_intact() {
    let lists = argument_lists(1500);
    let steps = lists.iter().cloned().map(|list| typed!(c => c.gosub("sub", "s", 1, &refs(&list)).await)).collect();
    let (mut peer, mut reports) = start_steps(steps).await;
    let (mut sent, mut refused) = (0, 0);
    for list in &lists {
        let intact = list.is_empty() || separate_args(&list.join(","), false, 100).as_ref() == Some(list);
        if intact {
            let line = peer.next_command().await.unwrap().unwrap();
            let args = separate_args(&word(&line, 4), false, 100);
            assert_eq!(args.as_ref(), Some(list), "`{line}`");
            peer.send("100 result=0 Trying...").await.unwrap();
            peer.send("200 result=0 Gosub complete").await.unwrap();
            assert_eq!(reports.recv().await.unwrap(), "Ok(Completed)");
            sent += 1;
        } else {
            let report = reports.recv().await.unwrap();
            assert!(report.starts_with("Err(InvalidArgument("), "{list:?}: {report}");
            refused += 1;
        }
    }
    assert!(sent > 300 && refused > 300, "sent {sent}, refused {refused}: the generator needs more variety");
    peer.finish().await.unwrap();
}
