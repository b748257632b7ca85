//! The captures of a real Asterisk 22.10.1, replayed through the **typed** commands:
//! each captured command the typed API can express is sent through its method, must
//! put the same words on the wire, and must give the typed result listed below for
//! the reply Asterisk really sent. The other commands (deliberately malformed ones,
//! `SET CALLERID` sent as two words, …) go through the raw `Call::command`.

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use agi_runtime::testing::{CallSpec, ScriptedPeer, asterisk_words};
use agi_runtime::{AgiError, ControlOptions, DigitTimeout, EscapeDigits, RecordOptions, Router, TddMode, handler_fn};
use support::Step;
use support::captures::{captures, env_block, exchanges};
use tokio::sync::mpsc;

const DEAD: &str = "511 Command Not Permitted on a dead channel or intercept routine";

/// The typed result of each captured command, for the reply it got.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("ANSWER", "200 result=0", "Ok(())"),
    ("ANSWER", DEAD, "Err(HungUp)"),
    ("ASYNCAGI BREAK", "200 result=0", "Ok(())"),
    ("CHANNEL STATUS", "200 result=4", "Ok(Ring)"),
    ("CHANNEL STATUS", "200 result=6", "Ok(Up)"),
    ("CHANNEL STATUS", DEAD, "Err(HungUp)"),
    ("CHANNEL STATUS Local/chanstatus@agi-tests-00000016;2", "200 result=6", "Ok(Some(Up))"),
    ("CHANNEL STATUS Local/nonexistent-0000;2", "200 result=-1", "Ok(None)"),
    (r#"CONTROL STREAM FILE tone1s """#, "200 result=0 endpos=-1", "Ok(Completed { endpos: End })"),
    ("DATABASE DEL agitest key1", "200 result=1", "Ok(())"),
    ("DATABASE DELTREE agitest", "200 result=0", "Ok(Deleted)"),
    ("DATABASE DELTREE agitest", "200 result=1", "Ok(NothingDeleted)"),
    ("DATABASE GET agitest key1", "200 result=1 (value one)", r#"Ok(Some("value one"))"#),
    ("DATABASE GET agitest nokey", "200 result=0", "Ok(None)"),
    ("DATABASE PUT agitest k2 v2", "200 result=1", "Ok(())"),
    (r#"DATABASE PUT agitest key1 "value one""#, "200 result=1", "Ok(())"),
    ("EXEC Hangup", "200 result=-1", "Ok(Hangup)"),
    ("EXEC NoSuchApp foo", "200 result=-2", r#"Err(UnknownApplication { application: "NoSuchApp" })"#),
    (r#"EXEC Set "EXECVAR=1,2""#, "200 result=0", "Ok(Continue)"),
    (r#"EXEC Verbose "1,dead exec""#, "200 result=0", "Ok(Continue)"),
    (r#"EXEC Verbose "1,hello from exec""#, "200 result=0", "Ok(Continue)"),
    ("EXEC Wait 0.5", "200 result=0", "Ok(Continue)"),
    ("GET DATA tone1s 1500 4", "200 result= (timeout)", r#"Ok(TimedOut(Digits("")))"#),
    ("GET DATA tone1s 2000 4", "200 result=12 (timeout)", r#"Ok(TimedOut(Digits("12")))"#),
    ("GET DATA tone1s 3000 4", "200 result=34", r#"Ok(Complete(Digits("34")))"#),
    (r#"GET FULL VARIABLE "${CALLERID(all)}""#, r#"200 result=1 ("Bob" <>)"#, r#"Ok("\"Bob\" <>")"#),
    (
        r#"GET FULL VARIABLE "${CHANNEL}""#,
        "200 result=1 (Local/getvar@agi-tests-0000000e;2)",
        r#"Ok("Local/getvar@agi-tests-0000000e;2")"#,
    ),
    (r#"GET FULL VARIABLE "${EPOCH}" Local/nonexistent-0000;2"#, "200 result=0", "Ok(None)"),
    (r#"GET FULL VARIABLE "${FOO}-${LEN(${FOO})}""#, "200 result=1 (bar baz-7)", r#"Ok("bar baz-7")"#),
    (r#"GET FULL VARIABLE "${NOT_SET_EITHER}""#, "200 result=1 ()", r#"Ok("")"#),
    (r#"GET OPTION tone1s "12" 500"#, "200 result=0 endpos=8000", "Ok(Completed { endpos: 8000 })"),
    ("GET VARIABLE AGISTATUS", "200 result=0", "Ok(None)"),
    (
        "GET VARIABLE CHANNEL",
        "200 result=1 (Local/hangup_idle@agi-tests-0000000c;2)",
        r#"Ok(Some("Local/hangup_idle@agi-tests-0000000c;2"))"#,
    ),
    ("GET VARIABLE EXECVAR", "200 result=1 (1,2)", r#"Ok(Some("1,2"))"#),
    ("GET VARIABLE FOO", "200 result=1 (bar baz)", r#"Ok(Some("bar baz"))"#),
    ("GET VARIABLE GOSUB_ARG", "200 result=1 (a|b)", r#"Ok(Some("a|b"))"#),
    ("GET VARIABLE GOSUB_RETVAL", "200 result=1 (ret-a)", r#"Ok(Some("ret-a"))"#),
    ("GET VARIABLE LEN(hello)", "200 result=1 (5)", r#"Ok(Some("5"))"#),
    ("GET VARIABLE NL", "200 result=1 (line1nline2)", r#"Ok(Some("line1nline2"))"#),
    ("GET VARIABLE NOT_SET_VAR", "200 result=0", "Ok(None)"),
    ("GET VARIABLE PLAYBACKSTATUS", "200 result=0", "Ok(None)"),
    ("GET VARIABLE PLAYBACKSTATUS", "200 result=1 (FAILED)", r#"Ok(Some("FAILED"))"#),
    ("GET VARIABLE Q1", r#"200 result=1 (a "quoted" \ value)"#, r#"Ok(Some("a \"quoted\" \\ value"))"#),
    ("GET VARIABLE Q2", "200 result=1 (a b)", r#"Ok(Some("a b"))"#),
    ("GET VARIABLE Q3", "200 result=1 ()", r#"Ok(Some(""))"#),
    ("GET VARIABLE Q4", "200 result=1 (abc de)", r#"Ok(Some("abc de"))"#),
    ("GET VARIABLE Q6", "200 result=1 (unterminated value)", r#"Ok(Some("unterminated value"))"#),
    ("GET VARIABLE Q7", "200 result=0", "Ok(None)"),
    (
        "GET VARIABLE Q8",
        r#"200 result=1 (we"ird \ (paren) ${X} ; "x")"#,
        r#"Ok(Some("we\"ird \\ (paren) ${X} ; \"x\""))"#,
    ),
    ("GET VARIABLE Q9", "200 result=1 (close)paren)", r#"Ok(Some("close)paren"))"#),
    ("GET VARIABLE X", "200 result=1 (1)", r#"Ok(Some("1"))"#),
    ("GOSUB sub-test nope 1", "200 result=-1 Gosub label not found", "Ok(LabelNotFound)"),
    (r#"GOSUB sub-test s 1 "a,b""#, "200 result=0 Gosub complete", "Ok(Completed)"),
    ("HANGUP", "200 result=1", "Ok(())"),
    ("NOOP", "200 result=0", "Ok(())"),
    ("RECEIVE CHAR 100", "200 result=-1 (hangup)", "Ok(Failed)"),
    ("RECEIVE TEXT 100", "200 result=-1", "Ok(None)"),
    (r##"RECORD FILE /nonexistent-dir/sub/rec5 wav "#" 1000"##, "200 result=-1 (writefile)", "Ok(Failed(CannotWrite))"),
    (
        r##"RECORD FILE /var/spool/asterisk/recording/rec1 wav "#" 10000"##,
        "200 result=35 (dtmf) endpos=6218",
        "Ok(Interrupted { digit: Pound, endpos: 6218 })",
    ),
    (
        r##"RECORD FILE /var/spool/asterisk/recording/rec2 wav "#" 2000"##,
        "200 result=0 (timeout) endpos=16160",
        "Ok(Completed { endpos: 16160 })",
    ),
    (
        r##"RECORD FILE /var/spool/asterisk/recording/rec3 wav "#" 1000 BEEP"##,
        "200 result=0 (timeout) endpos=8000",
        "Ok(Completed { endpos: 8000 })",
    ),
    (
        r##"RECORD FILE /var/spool/asterisk/recording/rec4 wav "#" 3000 0 s=1"##,
        "200 result=0 (timeout) endpos=24000",
        "Ok(Completed { endpos: 24000 })",
    ),
    (r#"SAY ALPHA abc """#, "200 result=0", "Ok(Completed)"),
    (r#"SAY DATE 0 """#, "200 result=-1", "Ok(Failed)"),
    (r#"SAY DIGITS 012345 "9""#, "200 result=57", "Ok(Interrupted(D9))"),
    (r#"SAY DIGITS 123 """#, "200 result=0", "Ok(Completed)"),
    (r#"SAY NUMBER 42 """#, "200 result=0", "Ok(Completed)"),
    (r#"SAY NUMBER 7 """#, "200 result=-1", "Ok(Failed)"),
    (r#"SAY TIME 0 """#, "200 result=-1", "Ok(Failed)"),
    ("SEND IMAGE logo", "200 result=0", "Ok(())"),
    (r#"SEND TEXT "hello""#, "200 result=0", "Ok(())"),
    ("SET AUTOHANGUP 0", "200 result=0", "Ok(())"),
    ("SET MUSIC off", "200 result=0", "Ok(())"),
    ("SET MUSIC on", "200 result=0", "Ok(())"),
    (r#"SET VARIABLE FOO "bar baz""#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE NL "line1\nline2""#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q1 "a \"quoted\" \\ value""#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q2 a\ b"#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q3 """#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q4 ab"c d"e"#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q6 "unterminated value"#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q8 "we\"ird \\ (paren) ${X} ; \"x\"""#, "200 result=1", "Ok(())"),
    (r#"SET VARIABLE Q9 "close)paren""#, "200 result=1", "Ok(())"),
    ("SET VARIABLE X 1", "200 result=1", "Ok(())"),
    (
        "SPEECH CREATE nosuchengine",
        "200 result=0",
        r#"Err(Failed { command: "SPEECH CREATE", reply: "200 result=0" })"#,
    ),
    ("SPEECH DESTROY", "200 result=0", "Ok(false)"),
    (r#"STREAM FILE no-such-file """#, "200 result=-1 endpos=0", "Ok(Failed { endpos: 0 })"),
    (r#"STREAM FILE tone1s """#, "200 result=0 endpos=8000", "Ok(Completed { endpos: 8000 })"),
    (r#"STREAM FILE tone1s """#, DEAD, "Err(HungUp)"),
    (r#"STREAM FILE tone3s """#, "200 result=-1 endpos=4160", "Ok(Failed { endpos: 4160 })"),
    (r#"STREAM FILE tone3s "" 16000"#, "200 result=0 endpos=24000", "Ok(Completed { endpos: 24000 })"),
    (
        r#"STREAM FILE tone3s "0123456789*#""#,
        "200 result=53 endpos=5760",
        "Ok(Interrupted { digit: D5, endpos: 5760 })",
    ),
    ("TDD MODE on", "200 result=0", "Ok(false)"),
    (r#"VERBOSE "Hello from FastAGI" 3"#, "200 result=1", "Ok(())"),
    ("WAIT FOR DIGIT 500", "200 result=0", "Ok(TimedOut)"),
    ("WAIT FOR DIGIT 5000", "200 result=42", "Ok(Digit(Star))"),
];

/// The commands Asterisk runs on a hung-up channel (AGI-PROTOCOL.md §4.3).
const DEAD_CAPABLE: &[&str] = &[
    "ASYNCAGI BREAK",
    "DATABASE DEL",
    "DATABASE DELTREE",
    "DATABASE GET",
    "DATABASE PUT",
    "EXEC",
    "GET FULL VARIABLE",
    "GET VARIABLE",
    "NOOP",
    "SET VARIABLE",
    "SPEECH DESTROY",
    "SPEECH UNLOAD GRAMMAR",
    "VERBOSE",
];

fn dead_capable(command: &str) -> bool {
    DEAD_CAPABLE.iter().any(|keywords| command == *keywords || command.starts_with(&format!("{keywords} ")))
}

fn ms(text: &str) -> Option<Duration> {
    text.parse().ok().map(Duration::from_millis)
}

/// The typed call for a captured command, if the typed API can express it.
fn typed_step(command: &str) -> Option<Step> {
    let words = asterisk_words(command);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let owned = |i: usize| w[i].to_owned();
    let escape = |text: &str| text.parse::<EscapeDigits>().ok();
    Some(match w.as_slice() {
        ["ANSWER"] => typed!(c => c.answer().await),
        ["ASYNCAGI", "BREAK"] => typed!(c => c.async_agi_break().await),
        ["CHANNEL", "STATUS"] => typed!(c => c.channel_status().await),
        ["CHANNEL", "STATUS", _] => {
            let channel = owned(2);
            typed!(c => c.channel_status_of(&channel).await)
        }
        ["CONTROL", "STREAM", "FILE", _, esc] => {
            let (file, esc) = (owned(3), escape(esc)?);
            typed!(c => c.control_stream_file(file.as_str(), esc, ControlOptions::new()).await)
        }
        ["DATABASE", "DEL", _, _] => {
            let (family, key) = (owned(2), owned(3));
            typed!(c => c.database_del(&family, &key).await)
        }
        ["DATABASE", "DELTREE", _] => {
            let family = owned(2);
            typed!(c => c.database_deltree(&family, None).await)
        }
        ["DATABASE", "GET", _, _] => {
            let (family, key) = (owned(2), owned(3));
            typed!(c => c.database_get(&family, &key).await)
        }
        ["DATABASE", "PUT", _, _, _] => {
            let (family, key, value) = (owned(2), owned(3), owned(4));
            typed!(c => c.database_put(&family, &key, &value).await)
        }
        ["EXEC", "Set", _] => {
            let data = owned(2);
            typed!(c => c.exec_raw("Set", &data).await)
        }
        ["EXEC", _] => {
            let app = owned(1);
            typed!(c => c.exec(&app, &[]).await)
        }
        ["EXEC", _, _] => {
            let (app, data) = (owned(1), owned(2));
            typed!(c => c.exec(&app, &data.split(',').collect::<Vec<_>>()).await)
        }
        ["GET", "DATA", _, timeout, max] => {
            let (file, timeout, max) = (owned(2), ms(timeout)?, max.parse().ok()?);
            typed!(c => c.get_data(file.as_str(), DigitTimeout::After(timeout), Some(max)).await)
        }
        ["GET", "FULL", "VARIABLE", _] => {
            let expression = owned(3);
            typed!(c => c.get_full_variable(&expression).await)
        }
        ["GET", "FULL", "VARIABLE", _, _] => {
            let (expression, channel) = (owned(3), owned(4));
            typed!(c => c.get_full_variable_of(&expression, &channel).await)
        }
        ["GET", "OPTION", _, esc, timeout] => {
            let (file, esc, timeout) = (owned(2), escape(esc)?, ms(timeout)?);
            typed!(c => c.get_option(file.as_str(), esc, DigitTimeout::After(timeout)).await)
        }
        ["GET", "VARIABLE", _] => {
            let name = owned(2);
            typed!(c => c.get_variable(&name).await)
        }
        ["GOSUB", _, _, priority, rest @ ..] if rest.len() <= 1 => {
            let (context, extension, priority) = (owned(1), owned(2), priority.parse::<u32>().ok()?);
            let args: Vec<String> = rest.iter().flat_map(|a| a.split(',')).map(str::to_owned).collect();
            typed!(c => c.gosub(&context, &extension, priority, &args.iter().map(String::as_str).collect::<Vec<_>>()).await)
        }
        ["HANGUP"] => typed!(c => c.hangup().await),
        ["NOOP"] => typed!(c => c.noop().await),
        ["RECEIVE", "CHAR", timeout] => {
            let timeout = ms(timeout)?;
            typed!(c => c.receive_char(Some(timeout)).await)
        }
        ["RECEIVE", "TEXT", timeout] => {
            let timeout = ms(timeout)?;
            typed!(c => c.receive_text(Some(timeout)).await)
        }
        ["RECORD", "FILE", _, _, esc, limit, rest @ ..] => {
            let (file, format, esc) = (owned(2), owned(3), escape(esc)?);
            let mut options = RecordOptions::new().max_duration(ms(limit)?);
            for word in rest {
                options = match *word {
                    "BEEP" => options.beep(),
                    word => match word.strip_prefix("s=") {
                        Some(secs) => options.silence(Duration::from_secs(secs.parse().ok()?)),
                        None => options.append_at(word.parse().ok()?),
                    },
                };
            }
            typed!(c => c.record_file(file.as_str(), &format, esc, options).await)
        }
        ["SAY", "ALPHA", _, esc] => {
            let (text, esc) = (owned(2), escape(esc)?);
            typed!(c => c.say_alpha(&text, esc).await)
        }
        ["SAY", "DATE", epoch, esc] => {
            let (epoch, esc) = (epoch.parse().ok()?, escape(esc)?);
            typed!(c => c.say_date(epoch, esc).await)
        }
        ["SAY", "DIGITS", _, esc] => {
            let (digits, esc) = (owned(2), escape(esc)?);
            typed!(c => c.say_digits(&digits, esc).await)
        }
        ["SAY", "NUMBER", number, esc] => {
            let (number, esc) = (number.parse().ok()?, escape(esc)?);
            typed!(c => c.say_number(number, esc).await)
        }
        ["SAY", "TIME", epoch, esc] => {
            let (epoch, esc) = (epoch.parse().ok()?, escape(esc)?);
            typed!(c => c.say_time(epoch, esc).await)
        }
        ["SEND", "IMAGE", _] => {
            let image = owned(2);
            typed!(c => c.send_image(&image).await)
        }
        ["SEND", "TEXT", _] => {
            let text = owned(2);
            typed!(c => c.send_text(&text).await)
        }
        ["SET", "AUTOHANGUP", "0"] => typed!(c => c.cancel_autohangup().await),
        ["SET", "MUSIC", "on"] => typed!(c => c.set_music_on(None).await),
        ["SET", "MUSIC", "off"] => typed!(c => c.set_music_off().await),
        ["SET", "VARIABLE", _, _] => {
            let (name, value) = (owned(2), owned(3));
            typed!(c => c.set_variable(&name, &value).await)
        }
        ["SPEECH", "CREATE", _] => {
            let engine = owned(2);
            typed!(c => c.speech_create(&engine).await)
        }
        ["SPEECH", "DESTROY"] => typed!(c => c.speech_destroy().await),
        ["STREAM", "FILE", _, esc] => {
            let (file, esc) = (owned(2), escape(esc)?);
            typed!(c => c.stream_file(file.as_str(), esc).await)
        }
        ["STREAM", "FILE", _, esc, offset] => {
            let (file, esc, offset) = (owned(2), escape(esc)?, offset.parse().ok()?);
            typed!(c => c.stream_file_from(file.as_str(), esc, offset).await)
        }
        ["TDD", "MODE", "on"] => typed!(c => c.set_tdd_mode(TddMode::On).await),
        ["VERBOSE", _, level] => {
            let (message, level) = (owned(1), level.parse().ok()?);
            typed!(c => c.verbose_at(&message, level).await)
        }
        ["WAIT", "FOR", "DIGIT", timeout] => {
            let timeout = ms(timeout)?;
            typed!(c => c.wait_for_digit(Some(timeout)).await)
        }
        _ => return None,
    })
}

/// The reply that decides a command's result: the first line that is neither the
/// `HANGUP` event nor GOSUB's provisional `100`.
fn final_reply(answer: &[String]) -> &str {
    answer.iter().map(String::as_str).find(|l| *l != "HANGUP" && !l.starts_with("100 ")).unwrap_or("")
}

#[tokio::test]
async fn every_captured_command_gives_its_typed_result() {
    let mut used = BTreeSet::new();
    let mut typed_count = 0;
    let mut raw = BTreeSet::new();
    for (name, capture) in captures() {
        let (_, start) = env_block(&capture);
        let (exchanges, before_first, _stop) = exchanges(&capture, start);
        let exchanges: Vec<_> = exchanges.into_iter().filter(|e| e.refused.is_none()).collect();

        let commands: Vec<String> = exchanges.iter().map(|e| e.command.clone()).collect();
        let (report, mut reports) = mpsc::unbounded_channel::<String>();
        let handler = handler_fn(move |call| {
            let commands = commands.clone();
            let report = report.clone();
            Box::pin(async move {
                for command in &commands {
                    let result = match typed_step(command) {
                        Some(step) => step(call).await,
                        None => format!("{:?}", call.command(asterisk_words(command)).await.map(drop)),
                    };
                    report.send(result).unwrap();
                }
                Ok::<(), AgiError>(())
            })
        });
        let path = format!("/{}", capture.script.split('?').next().unwrap());
        let router = Router::new().route(&path, handler).unwrap();
        let mut peer = ScriptedPeer::in_memory(router, &CallSpec::new(&path)).await.unwrap();
        let mut hung = !before_first.is_empty();
        for line in &before_first {
            peer.send(line).await.unwrap();
        }
        for exchange in &exchanges {
            let typed = typed_step(&exchange.command).is_some();
            // A typed command that needs a live channel is not sent once the call knows.
            let sent = !(typed && hung && !dead_capable(&exchange.command));
            if sent {
                let line = peer.next_command().await.unwrap().unwrap_or_else(|| panic!("{name}: server closed"));
                assert_eq!(asterisk_words(&line), asterisk_words(&exchange.command), "{name}: sent `{line}`");
                for line in &exchange.answer {
                    peer.send(line).await.unwrap();
                }
            }
            hung |= exchange.answer.iter().any(|l| l == "HANGUP" || l.starts_with("511 "));
            let got = reports.recv().await.unwrap();
            if !typed {
                raw.insert(exchange.command.clone());
                continue;
            }
            typed_count += 1;
            let key = (exchange.command.as_str(), final_reply(&exchange.answer));
            let want = EXPECTED
                .iter()
                .find(|(command, reply, _)| (*command, *reply) == key)
                .unwrap_or_else(|| panic!("{name}: no expected result for {key:?} (got {got})"));
            assert_eq!(got, want.2, "{name}: `{}` answered `{}` (sent: {sent})", key.0, key.1);
            used.insert((want.0, want.1));
        }
        peer.finish().await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let unused: Vec<_> = EXPECTED.iter().filter(|(c, r, _)| !used.contains(&(*c, *r))).collect();
    assert!(unused.is_empty(), "expected results no capture produced: {unused:?}");
    assert_eq!(typed_count, 140);
    // What only the raw API can send: malformed on purpose, or not how the typed API
    // would say it.
    assert_eq!(
        raw.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "DATABASE GET fam",
            "FOO BAR baz",
            "GET",
            "SAY NUMBER abc \"\"",
            "SET CALLERID \"Bob\" <5551234>",
            "SET VARIABLE Q5 \"x y\" extra",
            "SET VARIABLE Q7 tab\there",
            "SET VARIABLE onlyname",
            "Stream File",
            "WAIT FOR DIGIT",
            "noop",
        ]
    );
}
