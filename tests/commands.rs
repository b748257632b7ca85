//! Every typed command end to end: the exact line it sends for representative arguments
//! (empty, spaced, quoted, backslashed text), and its typed result for every reply form
//! of AGI-PROTOCOL.md §3.

#[macro_use]
mod support;

use std::time::Duration;

use agi_runtime::{
    ControlOptions, Digit, DigitTimeout, EscapeDigits, Gender, Priority, RecordOptions, SayCase, TddMode,
};
use support::{Case, case, run_steps};

const DEAD: &str = "511 Command Not Permitted on a dead channel or intercept routine";

fn digits(text: &str) -> EscapeDigits {
    text.parse().unwrap()
}

async fn run(cases: Vec<Case>) {
    let mut peer = run_steps(cases).await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn call_control() {
    run(vec![
        case(typed!(c => c.channel_status().await), Some("CHANNEL STATUS"), &["200 result=4"], "Ok(Ring)"),
        case(typed!(c => c.answer().await), Some("ANSWER"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.answer().await),
            Some("ANSWER"),
            &["200 result=-1"],
            r#"Err(Failed { command: "ANSWER", reply: "200 result=-1" })"#,
        ),
        case(typed!(c => c.channel_status().await), Some("CHANNEL STATUS"), &["200 result=6"], "Ok(Up)"),
        case(typed!(c => c.channel_status().await), Some("CHANNEL STATUS"), &["200 result=8"], "Ok(DialingOffHook)"),
        case(typed!(c => c.channel_status().await), Some("CHANNEL STATUS"), &["200 result=9"], "Ok(PreRing)"),
        case(typed!(c => c.channel_status().await), Some("CHANNEL STATUS"), &["200 result=12"], "Ok(Unknown(12))"),
        case(
            typed!(c => c.channel_status().await),
            Some("CHANNEL STATUS"),
            &["200 result=-1"],
            r#"Err(UnexpectedReply { command: "CHANNEL STATUS", reply: "200 result=-1" })"#,
        ),
        case(
            typed!(c => c.channel_status_of("Local/nonexistent-0000;2").await),
            Some("CHANNEL STATUS Local/nonexistent-0000;2"),
            &["200 result=-1"],
            "Ok(None)",
        ),
        case(
            typed!(c => c.channel_status_of("PJSIP/bob-00000012").await),
            Some("CHANNEL STATUS PJSIP/bob-00000012"),
            &["200 result=5"],
            "Ok(Some(Ringing))",
        ),
        case(
            typed!(c => c.hangup_channel("PJSIP/bob-00000012").await),
            Some("HANGUP PJSIP/bob-00000012"),
            &["200 result=1"],
            "Ok(true)",
        ),
        case(typed!(c => c.hangup_channel("nobody").await), Some("HANGUP nobody"), &["200 result=-1"], "Ok(false)"),
        case(
            typed!(c => c.set_autohangup(Duration::from_millis(1500)).await),
            Some("SET AUTOHANGUP 1.5"),
            &["200 result=0"],
            "Ok(())",
        ),
        case(
            typed!(c => c.set_autohangup(Duration::from_secs(90)).await),
            Some("SET AUTOHANGUP 90"),
            &["200 result=0"],
            "Ok(())",
        ),
        case(typed!(c => c.cancel_autohangup().await), Some("SET AUTOHANGUP 0"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.set_caller_id("Bob", "5551234").await),
            Some(r#"SET CALLERID "\"Bob\" <5551234>""#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(
            typed!(c => c.set_caller_id("", "").await),
            Some(r#"SET CALLERID "\"\" <>""#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(
            typed!(c => c.set_caller_id("O\"Brien", "1").await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "caller-id name", value: "O\"Brien"…"#,
        ),
        case(
            typed!(c => c.set_caller_id("x", "<1>").await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "caller-id number"…"#,
        ),
        case(
            typed!(c => c.set_caller_id(&"n".repeat(250), "5551234").await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "caller id"…"#,
        ),
        case(typed!(c => c.set_tdd_mode(TddMode::On).await), Some("TDD MODE on"), &["200 result=1"], "Ok(true)"),
        case(typed!(c => c.set_tdd_mode(TddMode::Mate).await), Some("TDD MODE mate"), &["200 result=0"], "Ok(false)"),
        case(typed!(c => c.set_tdd_mode(TddMode::Off).await), Some("TDD MODE off"), &["200 result=1"], "Ok(true)"),
        // Own hangup: the HANGUP notification follows, and the call goes dead.
        case(typed!(c => c.hangup().await), Some("HANGUP"), &["200 result=1"], "Ok(())"),
        case(typed!(c => c.noop().await), Some("NOOP"), &["HANGUP", "200 result=0"], "Ok(())"),
        case(typed!(c => c.answer().await), None, &[], "Err(HungUp)"),
    ])
    .await;
}

#[tokio::test]
async fn playback_and_prompts() {
    run(vec![
        case(
            typed!(c => c.stream_file("tone3s", EscapeDigits::ANY).await),
            Some(r#"STREAM FILE tone3s "0123456789*#""#),
            &["200 result=53 endpos=5760"],
            "Ok(Interrupted { digit: D5, endpos: 5760 })",
        ),
        case(
            typed!(c => c.stream_file("tone1s", EscapeDigits::NONE).await),
            Some(r#"STREAM FILE tone1s """#),
            &["200 result=0 endpos=8000"],
            "Ok(Completed { endpos: 8000 })",
        ),
        case(
            typed!(c => c.stream_file("no-such-file", EscapeDigits::NONE).await),
            Some(r#"STREAM FILE no-such-file """#),
            &["200 result=-1 endpos=0"],
            "Ok(Failed { endpos: 0 })",
        ),
        case(
            typed!(c => c.stream_file("custom/my prompt", digits("#")).await),
            Some(r##"STREAM FILE "custom/my prompt" "#""##),
            &["200 result=35 endpos=10"],
            "Ok(Interrupted { digit: Pound, endpos: 10 })",
        ),
        case(
            typed!(c => c.stream_file(r#"odd\"name"#, EscapeDigits::ALL).await),
            Some(r#"STREAM FILE "odd\\\"name" "0123456789*#ABCD""#),
            &["200 result=68 endpos=1"],
            "Ok(Interrupted { digit: D, endpos: 1 })",
        ),
        case(
            typed!(c => c.stream_file("tone1s", EscapeDigits::NONE).await),
            Some(r#"STREAM FILE tone1s """#),
            &["200 result=1 endpos=8000"],
            r#"Err(UnexpectedReply { command: "STREAM FILE", reply: "200 result=1 endpos=8000" })"#,
        ),
        case(
            typed!(c => c.stream_file("welcome.wav", EscapeDigits::NONE).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "sound file name", value: "welcome.wav"…"#,
        ),
        case(
            typed!(c => c.stream_file("../../../etc/passwd", EscapeDigits::NONE).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "sound file name"…"#,
        ),
        case(
            typed!(c => c.stream_file_from("tone3s", EscapeDigits::NONE, 16000).await),
            Some(r#"STREAM FILE tone3s "" 16000"#),
            &["200 result=0 endpos=24000"],
            "Ok(Completed { endpos: 24000 })",
        ),
        case(
            typed!(c => c.stream_file_from("gone", EscapeDigits::NONE, 16000).await),
            Some(r#"STREAM FILE gone "" 16000"#),
            &["200 result=-1 endpos=16000"],
            "Ok(Failed { endpos: 16000 })",
        ),
        case(
            typed!(c => c.control_stream_file("tone1s", EscapeDigits::NONE, ControlOptions::new()).await),
            Some(r#"CONTROL STREAM FILE tone1s """#),
            &["200 result=0 endpos=-1"],
            "Ok(Completed { endpos: End })",
        ),
        case(
            typed!(c => c.control_stream_file("tone1s", EscapeDigits::NONE, ControlOptions::new()).await),
            Some(r#"CONTROL STREAM FILE tone1s """#),
            &["200 result=0 endpos=2500"],
            "Ok(Completed { endpos: At(2.5s) })",
        ),
        case(
            typed!(c => c.control_stream_file(
                "vm-message",
                digits("#"),
                ControlOptions::new().skip(Duration::from_secs(5)).pause(Digit::D5).offset(Duration::from_millis(1500)),
            ).await),
            Some(r##"CONTROL STREAM FILE vm-message "#" 5000 # * "5" 1500"##),
            &["200 result=35 endpos=1200"],
            "Ok(Interrupted { digit: Pound, endpos: At(1.2s) })",
        ),
        case(
            typed!(c => c.control_stream_file(
                "vm-message",
                EscapeDigits::NONE,
                ControlOptions::new().forward(Digit::D6).rewind(Digit::D4),
            ).await),
            Some(r#"CONTROL STREAM FILE vm-message "" 3000 6 4"#),
            &["200 result=-1 endpos=0"],
            "Ok(Failed { endpos: At(0ns) })",
        ),
        case(
            typed!(c => c.control_stream_file(
                "vm-message",
                EscapeDigits::NONE,
                ControlOptions::new().offset(Duration::from_secs(2)),
            ).await),
            Some(r#"CONTROL STREAM FILE vm-message "" 3000 # * "" 2000"#),
            &["200 result=0 endpos=x"],
            r#"Err(UnexpectedReply { command: "CONTROL STREAM FILE", reply: "200 result=0 endpos=x" })"#,
        ),
        case(
            typed!(c => c.get_option("tone1s", digits("12"), DigitTimeout::After(Duration::from_millis(500))).await),
            Some(r#"GET OPTION tone1s "12" 500"#),
            &["200 result=0 endpos=8000"],
            "Ok(Completed { endpos: 8000 })",
        ),
        case(
            typed!(c => c.get_option("menu", digits("12"), DigitTimeout::Default).await),
            Some(r#"GET OPTION menu "12""#),
            &["200 result=50 endpos=1600"],
            "Ok(Interrupted { digit: D2, endpos: 1600 })",
        ),
        case(
            typed!(c => c.get_option("missing", EscapeDigits::ANY, DigitTimeout::Forever).await),
            Some(r#"GET OPTION missing "0123456789*#" -1"#),
            &["200 result=-1 endpos=0"],
            "Ok(Failed { endpos: 0 })",
        ),
        case(
            typed!(c => c.get_option("menu", digits("1"), DigitTimeout::After(Duration::ZERO)).await),
            Some(r#"GET OPTION menu "1" 0"#),
            &["200 result=0 endpos=800"],
            "Ok(Completed { endpos: 800 })",
        ),
        case(typed!(c => c.set_music_on(None).await), Some("SET MUSIC on"), &["200 result=0"], "Ok(())"),
        case(typed!(c => c.set_music_on(Some("jazz")).await), Some("SET MUSIC on jazz"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.set_music_on(Some("my class")).await),
            Some(r#"SET MUSIC on "my class""#),
            &["200 result=0"],
            "Ok(())",
        ),
        case(typed!(c => c.set_music_off().await), Some("SET MUSIC off"), &["200 result=0"], "Ok(())"),
    ])
    .await;
}

#[tokio::test]
async fn input() {
    let after = |ms| DigitTimeout::After(Duration::from_millis(ms));
    run(vec![
        case(
            typed!(c => c.get_data("tone1s", after(1500), Some(4)).await),
            Some("GET DATA tone1s 1500 4"),
            &["200 result= (timeout)"],
            r#"Ok(TimedOut(Digits("")))"#,
        ),
        case(
            typed!(c => c.get_data("tone1s", after(2000), Some(4)).await),
            Some("GET DATA tone1s 2000 4"),
            &["200 result=12 (timeout)"],
            r#"Ok(TimedOut(Digits("12")))"#,
        ),
        case(
            typed!(c => c.get_data("tone1s", after(3000), Some(4)).await),
            Some("GET DATA tone1s 3000 4"),
            &["200 result=34"],
            r#"Ok(Complete(Digits("34")))"#,
        ),
        case(typed!(c => c.get_data("pin", DigitTimeout::Default, None).await), Some("GET DATA pin"), &["200 result="], r#"Ok(Complete(Digits("")))"#),
        case(
            typed!(c => c.get_data("pin", DigitTimeout::Default, Some(6)).await),
            Some("GET DATA pin 0 6"),
            &["200 result=*9A"],
            r#"Ok(Complete(Digits("*9A")))"#,
        ),
        case(typed!(c => c.get_data("pin", DigitTimeout::Forever, None).await), Some("GET DATA pin -1"), &["200 result=-1"], "Ok(Failed)"),
        case(typed!(c => c.get_data("pin", after(0), None).await), Some("GET DATA pin 1"), &["200 result=5"], r#"Ok(Complete(Digits("5")))"#),
        case(
            typed!(c => c.get_data("pin", DigitTimeout::Default, Some(0)).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "maximum digit count"…"#,
        ),
        case(
            typed!(c => c.get_data("pin", DigitTimeout::Default, None).await),
            Some("GET DATA pin"),
            &["200 result=12x"],
            r#"Err(UnexpectedReply { command: "GET DATA", reply: "200 result=12x" })"#,
        ),
        case(
            typed!(c => c.wait_for_digit(Some(Duration::from_secs(5))).await),
            Some("WAIT FOR DIGIT 5000"),
            &["200 result=42"],
            "Ok(Digit(Star))",
        ),
        case(
            typed!(c => c.wait_for_digit(Some(Duration::from_millis(500))).await),
            Some("WAIT FOR DIGIT 500"),
            &["200 result=0"],
            "Ok(TimedOut)",
        ),
        case(typed!(c => c.wait_for_digit(None).await), Some("WAIT FOR DIGIT -1"), &["200 result=-1"], "Ok(Failed)"),
        case(typed!(c => c.wait_for_digit(Some(Duration::ZERO)).await), Some("WAIT FOR DIGIT 0"), &["200 result=1"], "Ok(Interrupted)"),
        case(
            typed!(c => c.record_file("/var/spool/asterisk/recording/rec1", "wav", digits("#"), RecordOptions::new().max_duration(Duration::from_secs(10))).await),
            Some(r##"RECORD FILE /var/spool/asterisk/recording/rec1 wav "#" 10000"##),
            &["200 result=35 (dtmf) endpos=6218"],
            "Ok(Interrupted { digit: Pound, endpos: 6218 })",
        ),
        case(
            typed!(c => c.record_file("rec3", "wav", digits("#"), RecordOptions::new().max_duration(Duration::from_secs(1)).beep()).await),
            Some(r##"RECORD FILE rec3 wav "#" 1000 BEEP"##),
            &["200 result=0 (timeout) endpos=8000"],
            "Ok(Completed { endpos: 8000 })",
        ),
        case(
            typed!(c => c.record_file("rec4", "wav", digits("#"), RecordOptions::new().max_duration(Duration::from_secs(3)).append_at(0).silence(Duration::from_secs(1))).await),
            Some(r##"RECORD FILE rec4 wav "#" 3000 0 s=1"##),
            &["200 result=0 (timeout) endpos=24000"],
            "Ok(Completed { endpos: 24000 })",
        ),
        case(
            typed!(c => c.record_file("rec5", "gsm", EscapeDigits::NONE, RecordOptions::new().beep().silence(Duration::from_millis(2500))).await),
            Some(r#"RECORD FILE rec5 gsm "" -1 BEEP s=3"#),
            &["200 result=-1 (hangup) endpos=4000"],
            "Ok(HungUp { endpos: 4000 })",
        ),
        case(
            typed!(c => c.record_file("/nonexistent-dir/sub/rec5", "wav", digits("#"), RecordOptions::new().max_duration(Duration::from_secs(1))).await),
            Some(r##"RECORD FILE /nonexistent-dir/sub/rec5 wav "#" 1000"##),
            &["200 result=-1 (writefile)"],
            "Ok(Failed(CannotWrite))",
        ),
        case(
            typed!(c => c.record_file("r", "wav", digits("#"), RecordOptions::new().append_at(800).beep().silence(Duration::from_secs(2))).await),
            Some(r##"RECORD FILE r wav "#" -1 800 BEEP s=2"##),
            &["200 result=35 (randomerror) endpos=0"],
            "Ok(InterruptedDuringBeep { digit: Pound })",
        ),
        case(
            typed!(c => c.record_file("r", "wav", EscapeDigits::NONE, RecordOptions::new()).await),
            Some(r#"RECORD FILE r wav "" -1"#),
            &["200 result=-1 (randomerror) endpos=0"],
            "Ok(Failed(Beep))",
        ),
        case(
            typed!(c => c.record_file("r", "wav", EscapeDigits::NONE, RecordOptions::new()).await),
            Some(r#"RECORD FILE r wav "" -1"#),
            &["200 result=-1 (waitfor) endpos=160"],
            "Ok(Failed(Wait { endpos: 160 }))",
        ),
        case(
            typed!(c => c.record_file("r", "wav", EscapeDigits::NONE, RecordOptions::new().silence(Duration::from_secs(1))).await),
            Some(r#"RECORD FILE r wav "" -1 s=1"#),
            &["200 result=-1"],
            "Ok(Failed(SilenceDetection))",
        ),
        case(
            typed!(c => c.record_file("r.wav", "wav", EscapeDigits::NONE, RecordOptions::new()).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "sound file name", value: "r.wav"…"#,
        ),
        case(
            typed!(c => c.receive_char(Some(Duration::from_millis(100))).await),
            Some("RECEIVE CHAR 100"),
            &["200 result=-1 (hangup)"],
            "Ok(Failed)",
        ),
        case(typed!(c => c.receive_char(None).await), Some("RECEIVE CHAR 0"), &["200 result=65"], "Ok(Char(65))"),
        case(typed!(c => c.receive_char(Some(Duration::ZERO)).await), Some("RECEIVE CHAR 1"), &["200 result=0 (timeout)"], "Ok(TimedOut)"),
        case(
            typed!(c => c.receive_char(None).await),
            Some("RECEIVE CHAR 0"),
            &["200 result=300"],
            r#"Err(UnexpectedReply { command: "RECEIVE CHAR", reply: "200 result=300" })"#,
        ),
        case(typed!(c => c.receive_text(Some(Duration::from_millis(100))).await), Some("RECEIVE TEXT 100"), &["200 result=-1"], "Ok(None)"),
        case(
            typed!(c => c.receive_text(None).await),
            Some("RECEIVE TEXT 0"),
            &["200 result=1 (hello (world) \"x\")"],
            r#"Ok(Some("hello (world) \"x\""))"#,
        ),
    ])
    .await;
}

#[tokio::test]
async fn say() {
    run(vec![
        case(
            typed!(c => c.say_number(42, EscapeDigits::NONE).await),
            Some(r#"SAY NUMBER 42 """#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_number(7, EscapeDigits::NONE).await),
            Some(r#"SAY NUMBER 7 """#),
            &["200 result=-1"],
            "Ok(Failed)",
        ),
        case(
            typed!(c => c.say_number(-15, digits("*")).await),
            Some(r#"SAY NUMBER -15 "*""#),
            &["200 result=42"],
            "Ok(Interrupted(Star))",
        ),
        case(
            typed!(c => c.say_number_with_gender(1, EscapeDigits::NONE, Gender::Feminine).await),
            Some(r#"SAY NUMBER 1 "" f"#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_number_with_gender(1, EscapeDigits::NONE, Gender::Common).await),
            Some(r#"SAY NUMBER 1 "" c"#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_digits("123", EscapeDigits::NONE).await),
            Some(r#"SAY DIGITS 123 """#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_digits("012345", digits("9")).await),
            Some(r#"SAY DIGITS 012345 "9""#),
            &["200 result=57"],
            "Ok(Interrupted(D9))",
        ),
        case(
            typed!(c => c.say_digits("12a", EscapeDigits::NONE).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "digit string", value: "12a"…"#,
        ),
        case(
            typed!(c => c.say_digits("", EscapeDigits::NONE).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "digit string"…"#,
        ),
        case(
            typed!(c => c.say_alpha("abc", EscapeDigits::NONE).await),
            Some(r#"SAY ALPHA abc """#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_alpha(r#"a "b" \c"#, EscapeDigits::ANY).await),
            Some(r#"SAY ALPHA "a \"b\" \\c" "0123456789*#""#),
            &["200 result=-1"],
            "Ok(Failed)",
        ),
        case(
            typed!(c => c.say_alpha("", EscapeDigits::NONE).await),
            Some(r#"SAY ALPHA "" """#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_alpha_with_case("aBc", EscapeDigits::NONE, SayCase::Upper).await),
            Some(r#"SAY ALPHA aBc "" u"#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_alpha_with_case("aBc", EscapeDigits::NONE, SayCase::Ignore).await),
            Some(r#"SAY ALPHA aBc "" n"#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_phonetic("XJ7", digits("#")).await),
            Some(r##"SAY PHONETIC XJ7 "#""##),
            &["200 result=35"],
            "Ok(Interrupted(Pound))",
        ),
        case(
            typed!(c => c.say_date(0, EscapeDigits::NONE).await),
            Some(r#"SAY DATE 0 """#),
            &["200 result=-1"],
            "Ok(Failed)",
        ),
        case(
            typed!(c => c.say_time(0, EscapeDigits::NONE).await),
            Some(r#"SAY TIME 0 """#),
            &["200 result=-1"],
            "Ok(Failed)",
        ),
        case(
            typed!(c => c.say_time(1_700_000_000, EscapeDigits::NONE).await),
            Some(r#"SAY TIME 1700000000 """#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_date(1 << 40, EscapeDigits::NONE).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "epoch"…"#,
        ),
        case(
            typed!(c => c.say_datetime(1 << 40, digits("#")).await),
            Some(r##"SAY DATETIME 1099511627776 "#""##),
            &["200 result=35"],
            "Ok(Interrupted(Pound))",
        ),
        case(
            typed!(c => c.say_datetime_with(0, EscapeDigits::NONE, "ABdY 'digits/at' IMp", Some("Europe/Paris")).await),
            Some(r#"SAY DATETIME 0 "" "ABdY 'digits/at' IMp" Europe/Paris"#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_datetime_with(0, EscapeDigits::NONE, "IMp", None).await),
            Some(r#"SAY DATETIME 0 "" "IMp""#),
            &["200 result=0"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.say_number(1, EscapeDigits::NONE).await),
            Some(r#"SAY NUMBER 1 """#),
            &["200 result=49"],
            "Ok(Interrupted(D1))",
        ),
        case(
            typed!(c => c.say_number(1, EscapeDigits::NONE).await),
            Some(r#"SAY NUMBER 1 """#),
            &["200 result=2"],
            r#"Err(UnexpectedReply { command: "SAY NUMBER", reply: "200 result=2" })"#,
        ),
    ])
    .await;
}

#[tokio::test]
async fn variables_and_database() {
    run(vec![
        case(
            typed!(c => c.get_variable("NOT_SET_VAR").await),
            Some("GET VARIABLE NOT_SET_VAR"),
            &["200 result=0"],
            "Ok(None)",
        ),
        case(
            typed!(c => c.get_variable("FOO").await),
            Some("GET VARIABLE FOO"),
            &["200 result=1 (bar baz)"],
            r#"Ok(Some("bar baz"))"#,
        ),
        case(typed!(c => c.get_variable("Q3").await), Some("GET VARIABLE Q3"), &["200 result=1 ()"], r#"Ok(Some(""))"#),
        case(
            typed!(c => c.get_variable("Q9").await),
            Some("GET VARIABLE Q9"),
            &["200 result=1 (close)paren)"],
            r#"Ok(Some("close)paren"))"#,
        ),
        case(
            typed!(c => c.get_variable("LEN(hello)").await),
            Some("GET VARIABLE LEN(hello)"),
            &["200 result=1 (5)"],
            r#"Ok(Some("5"))"#,
        ),
        case(
            typed!(c => c.get_variable("my var").await),
            Some(r#"GET VARIABLE "my var""#),
            &["200 result=1"],
            r#"Err(UnexpectedReply { command: "GET VARIABLE", reply: "200 result=1" })"#,
        ),
        case(
            typed!(c => c.get_full_variable("${FOO}-${LEN(${FOO})}").await),
            Some(r#"GET FULL VARIABLE "${FOO}-${LEN(${FOO})}""#),
            &["200 result=1 (bar baz-7)"],
            r#"Ok("bar baz-7")"#,
        ),
        case(
            typed!(c => c.get_full_variable("${NOT_SET_EITHER}").await),
            Some(r#"GET FULL VARIABLE "${NOT_SET_EITHER}""#),
            &["200 result=1 ()"],
            r#"Ok("")"#,
        ),
        case(
            typed!(c => c.get_full_variable("${CALLERID(all)}").await),
            Some(r#"GET FULL VARIABLE "${CALLERID(all)}""#),
            &["200 result=1 (\"Bob\" <>)"],
            r#"Ok("\"Bob\" <>")"#,
        ),
        case(
            typed!(c => c.get_full_variable_of("${EPOCH}", "Local/nonexistent-0000;2").await),
            Some(r#"GET FULL VARIABLE "${EPOCH}" Local/nonexistent-0000;2"#),
            &["200 result=0"],
            "Ok(None)",
        ),
        case(
            typed!(c => c.get_full_variable_of("${EPOCH}", "PJSIP/bob-1").await),
            Some(r#"GET FULL VARIABLE "${EPOCH}" PJSIP/bob-1"#),
            &["200 result=1 (1795871395)"],
            r#"Ok(Some("1795871395"))"#,
        ),
        case(
            typed!(c => c.set_variable("Q1", r#"a "quoted" \ value"#).await),
            Some(r#"SET VARIABLE Q1 "a \"quoted\" \\ value""#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(typed!(c => c.set_variable("Q3", "").await), Some(r#"SET VARIABLE Q3 """#), &["200 result=1"], "Ok(())"),
        case(typed!(c => c.set_variable("X", "1").await), Some("SET VARIABLE X 1"), &["200 result=1"], "Ok(())"),
        case(
            typed!(c => c.set_variable("NL", "line1\nline2").await),
            None,
            &[],
            r#"Err(Command(ForbiddenByte { command: "SET VARIABLE", index: 1, byte: LineFeed, position: 5 }))"#,
        ),
        case(
            typed!(c => c.database_put("agitest", "key1", "value one").await),
            Some(r#"DATABASE PUT agitest key1 "value one""#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(
            typed!(c => c.database_put("agitest", "k2", r#"back\slash"#).await),
            Some(r#"DATABASE PUT agitest k2 "back\\slash""#),
            &["200 result=0"],
            r#"Err(Failed { command: "DATABASE PUT", reply: "200 result=0" })"#,
        ),
        case(
            typed!(c => c.database_get("agitest", "key1").await),
            Some("DATABASE GET agitest key1"),
            &["200 result=1 (value one)"],
            r#"Ok(Some("value one"))"#,
        ),
        case(
            typed!(c => c.database_get("agitest", "nokey").await),
            Some("DATABASE GET agitest nokey"),
            &["200 result=0"],
            "Ok(None)",
        ),
        case(
            typed!(c => c.database_del("agitest", "key1").await),
            Some("DATABASE DEL agitest key1"),
            &["200 result=1"],
            "Ok(())",
        ),
        case(
            typed!(c => c.database_del("agitest", "key1").await),
            Some("DATABASE DEL agitest key1"),
            &["200 result=0"],
            r#"Err(Failed { command: "DATABASE DEL", reply: "200 result=0" })"#,
        ),
        // The inversion: 0 means entries were deleted.
        case(
            typed!(c => c.database_deltree("agitest", None).await),
            Some("DATABASE DELTREE agitest"),
            &["200 result=0"],
            "Ok(Deleted)",
        ),
        case(
            typed!(c => c.database_deltree("agitest", None).await),
            Some("DATABASE DELTREE agitest"),
            &["200 result=1"],
            "Ok(NothingDeleted)",
        ),
        case(
            typed!(c => c.database_deltree("agitest", Some("sub tree")).await),
            Some(r#"DATABASE DELTREE agitest "sub tree""#),
            &["200 result=0"],
            "Ok(Deleted)",
        ),
    ])
    .await;
}

#[tokio::test]
async fn speech() {
    run(vec![
        case(
            typed!(c => c.speech_create("nosuchengine").await),
            Some("SPEECH CREATE nosuchengine"),
            &["200 result=0"],
            r#"Err(Failed { command: "SPEECH CREATE", reply: "200 result=0" })"#,
        ),
        case(typed!(c => c.speech_create("unimrcp").await), Some("SPEECH CREATE unimrcp"), &["200 result=1"], "Ok(())"),
        case(typed!(c => c.speech_set("confidencethreshold", "500").await), Some("SPEECH SET confidencethreshold 500"), &["200 result=1"], "Ok(())"),
        case(
            typed!(c => c.speech_load_grammar("yesno", "/g/yes no.gram").await),
            Some(r#"SPEECH LOAD GRAMMAR yesno "/g/yes no.gram""#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(typed!(c => c.speech_activate_grammar("yesno").await), Some("SPEECH ACTIVATE GRAMMAR yesno"), &["200 result=1"], "Ok(())"),
        case(
            typed!(c => c.speech_recognize("say-yes-or-no", Some(Duration::from_secs(5))).await),
            Some("SPEECH RECOGNIZE say-yes-or-no 5"),
            &["200 result=1 (speech) endpos=0 results=2 score0=920 text0=\"yes \"please\"\" grammar0=yesno score1=100 text1=\"yeah\" grammar1=yesno"],
            r#"Ok(Speech { endpos: 0, results: [SpeechResult { score: 920, text: "yes \"please\"", grammar: "yesno" }, SpeechResult { score: 100, text: "yeah", grammar: "yesno" }] })"#,
        ),
        case(
            typed!(c => c.speech_recognize("p", None).await),
            Some("SPEECH RECOGNIZE p 0"),
            &["200 result=1 (speech) endpos=0 results=0 "],
            "Ok(Speech { endpos: 0, results: [] })",
        ),
        case(
            typed!(c => c.speech_recognize("p", Some(Duration::from_millis(1500))).await),
            Some("SPEECH RECOGNIZE p 2"),
            &["200 result=1 (digit) digit=# endpos=480"],
            "Ok(Digit { digit: Pound, endpos: 480 })",
        ),
        case(
            typed!(c => c.speech_recognize_from("p", Some(Duration::from_secs(3)), 800).await),
            Some("SPEECH RECOGNIZE p 3 800"),
            &["200 result=1 (timeout) endpos=8000"],
            "Ok(Timeout { endpos: 8000 })",
        ),
        case(
            typed!(c => c.speech_recognize("p", Some(Duration::from_secs(3))).await),
            Some("SPEECH RECOGNIZE p 3"),
            &["200 result=1 (hangup) endpos=10"],
            "Ok(HungUp { endpos: 10 })",
        ),
        case(
            typed!(c => c.speech_recognize("p", Some(Duration::from_secs(3))).await),
            Some("SPEECH RECOGNIZE p 3"),
            &["200 result=0"],
            r#"Err(Failed { command: "SPEECH RECOGNIZE", reply: "200 result=0" })"#,
        ),
        case(
            typed!(c => c.speech_recognize("p", Some(Duration::from_secs(3))).await),
            Some("SPEECH RECOGNIZE p 3"),
            &["200 result=0 endpos=0"],
            r#"Err(Failed { command: "SPEECH RECOGNIZE", reply: "200 result=0 endpos=0" })"#,
        ),
        case(
            typed!(c => c.speech_deactivate_grammar("yesno").await),
            Some("SPEECH DEACTIVATE GRAMMAR yesno"),
            &["200 result=0"],
            r#"Err(Failed { command: "SPEECH DEACTIVATE GRAMMAR", reply: "200 result=0" })"#,
        ),
        case(typed!(c => c.speech_unload_grammar("yesno").await), Some("SPEECH UNLOAD GRAMMAR yesno"), &["200 result=1"], "Ok(())"),
        case(typed!(c => c.speech_destroy().await), Some("SPEECH DESTROY"), &["200 result=1"], "Ok(true)"),
        case(typed!(c => c.speech_destroy().await), Some("SPEECH DESTROY"), &["200 result=0"], "Ok(false)"),
    ])
    .await;
}

#[tokio::test]
async fn dialplan_control() {
    run(vec![
        case(
            typed!(c => c.exec("NoSuchApp", &["foo"]).await),
            Some("EXEC NoSuchApp foo"),
            &["200 result=-2"],
            r#"Err(UnknownApplication { application: "NoSuchApp" })"#,
        ),
        case(
            typed!(c => c.exec("Verbose", &["1", "hello from exec"]).await),
            Some(r#"EXEC Verbose "1,hello from exec""#),
            &["200 result=0"],
            "Ok(Continue)",
        ),
        case(typed!(c => c.exec("Wait", &["0.5"]).await), Some("EXEC Wait 0.5"), &["200 result=0"], "Ok(Continue)"),
        case(
            typed!(c => c.exec_raw("Set", "EXECVAR=1,2").await),
            Some("EXEC Set EXECVAR=1,2"),
            &["200 result=0"],
            "Ok(Continue)",
        ),
        case(
            typed!(c => c.exec("Playback", &["hello, world"]).await),
            Some(r#"EXEC Playback "hello\\, world""#),
            &["200 result=0"],
            "Ok(Continue)",
        ),
        case(
            typed!(c => c.exec("Verbose", &["1", r#"say "hi" (now) | [x] \o/"#]).await),
            Some(r#"EXEC Verbose "1,say \\\"hi\\\" \\(now\\) \\| \\[x\\] \\\\o/""#),
            &["200 result=0"],
            "Ok(Continue)",
        ),
        case(typed!(c => c.exec("Answer", &[]).await), Some("EXEC Answer"), &["200 result=0"], "Ok(Continue)"),
        case(typed!(c => c.exec("Custom", &["x"]).await), Some("EXEC Custom x"), &["200 result=3"], "Ok(Other(3))"),
        case(typed!(c => c.exec("Custom", &["x"]).await), Some("EXEC Custom x"), &["200 result=2"], "Ok(Other(2))"),
        // An application returning 1: res_agi sends EXEC's usage block after the reply.
        case(
            typed!(c => c.exec("Custom", &["y"]).await),
            Some("EXEC Custom y"),
            &[
                "200 result=1",
                "520-Invalid command syntax.  Proper usage follows:",
                "Executes <replaceable>application</replaceable> with given <replaceable>options</replaceable>.",
                "520 End of proper usage.",
            ],
            "Ok(Other(1))",
        ),
        case(typed!(c => c.noop().await), Some("NOOP"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.gosub("sub-test", "s", 1, &["a", "b"]).await),
            Some("GOSUB sub-test s 1 a,b"),
            &["100 result=0 Trying...", "200 result=0 Gosub complete"],
            "Ok(Completed)",
        ),
        case(
            typed!(c => c.gosub("sub-test", "s", "start", &[]).await),
            Some("GOSUB sub-test s start"),
            &["100 result=0 Trying...", "200 result=0 Gosub complete (abnormal exit)"],
            "Ok(AbnormalExit)",
        ),
        case(
            typed!(c => c.gosub("sub-test", "nope", 1, &[]).await),
            Some("GOSUB sub-test nope 1"),
            &["200 result=-1 Gosub label not found"],
            "Ok(LabelNotFound)",
        ),
        case(
            typed!(c => c.gosub("sub-test", "s", 1, &[]).await),
            Some("GOSUB sub-test s 1"),
            &["200 result=-1 Gosub failed"],
            "Ok(Failed { result: -1 })",
        ),
        case(
            typed!(c => c.gosub("sub-test", "s", 1, &["with space", "\"q,r\"", "f(x,y)"]).await),
            Some(r#"GOSUB sub-test s 1 "with space,\"q,r\",f(x,y)""#),
            &["503 result=-2 Memory allocation failure"],
            r#"Err(Status { command: "GOSUB", code: 503, text: "result=-2 Memory allocation failure" })"#,
        ),
        case(
            typed!(c => c.gosub("sub-test", "s", 1, &["a,b"]).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "Gosub arguments", value: "a,b"…"#,
        ),
        case(
            typed!(c => c.gosub("sub-test", "s", 0, &[]).await),
            None,
            &[],
            r#"Err(InvalidArgument(InvalidArgument { what: "priority", value: "0"…"#,
        ),
        case(
            typed!(c => c.gosub("sub-test", "s", 1, &[]).await),
            Some("GOSUB sub-test s 1"),
            &["510 Invalid or unknown command"],
            r#"Err(InvalidCommand { command: "GOSUB" })"#,
        ),
        case(
            typed!(c => c.set_context("after-hours").await),
            Some("SET CONTEXT after-hours"),
            &["200 result=0"],
            "Ok(())",
        ),
        case(typed!(c => c.set_extension("100").await), Some("SET EXTENSION 100"), &["200 result=0"], "Ok(())"),
        case(typed!(c => c.set_extension("").await), Some(r#"SET EXTENSION """#), &["200 result=0"], "Ok(())"),
        case(typed!(c => c.set_priority(5).await), Some("SET PRIORITY 5"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.set_priority(Priority::Label("vip-path")).await),
            Some("SET PRIORITY vip-path"),
            &["520 Invalid command syntax.  Proper usage not available."],
            r#"Err(InvalidSyntax { command: "SET PRIORITY", usage: None })"#,
        ),
        // EXEC Hangup: -1, then the HANGUP notification; EXEC still works after it.
        case(typed!(c => c.exec("Hangup", &[]).await), Some("EXEC Hangup"), &["200 result=-1"], "Ok(Hangup)"),
        case(
            typed!(c => (c.noop().await, c.is_hung_up())),
            Some("NOOP"),
            &["HANGUP", "200 result=0"],
            "(Ok(()), true)",
        ),
        case(
            typed!(c => c.exec("Verbose", &["1", "dead exec"]).await),
            Some(r#"EXEC Verbose "1,dead exec""#),
            &["200 result=0"],
            "Ok(Continue)",
        ),
        case(typed!(c => c.gosub("sub-test", "s", 1, &[]).await), None, &[], "Err(HungUp)"),
    ])
    .await;
}

#[tokio::test]
async fn misc() {
    run(vec![
        case(typed!(c => c.noop().await), Some("NOOP"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.verbose("Hello from FastAGI").await),
            Some(r#"VERBOSE "Hello from FastAGI" 1"#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(
            typed!(c => c.verbose_at("Hello from FastAGI", 3).await),
            Some(r#"VERBOSE "Hello from FastAGI" 3"#),
            &["200 result=1"],
            "Ok(())",
        ),
        case(typed!(c => c.verbose_at("", 0).await), Some(r#"VERBOSE "" 0"#), &["200 result=1"], "Ok(())"),
        case(typed!(c => c.send_text("hello").await), Some(r#"SEND TEXT "hello""#), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.send_text(r#"a "quoted" \ text"#).await),
            Some(r#"SEND TEXT "a \"quoted\" \\ text""#),
            &["200 result=-1"],
            r#"Err(Failed { command: "SEND TEXT", reply: "200 result=-1" })"#,
        ),
        case(typed!(c => c.send_text("").await), Some(r#"SEND TEXT """#), &["200 result=0"], "Ok(())"),
        case(typed!(c => c.send_image("logo").await), Some("SEND IMAGE logo"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.send_image("logo").await),
            Some("SEND IMAGE logo"),
            &["200 result=-1"],
            r#"Err(Failed { command: "SEND IMAGE", reply: "200 result=-1" })"#,
        ),
        case(typed!(c => c.async_agi_break().await), Some("ASYNCAGI BREAK"), &["200 result=0"], "Ok(())"),
        case(
            typed!(c => c.command(["SOME", "NEW", "COMMAND", "an argument"]).await.map(|r| r.result().to_owned())),
            Some(r#"SOME NEW COMMAND "an argument""#),
            &["200 result=7 (extra)"],
            r#"Ok("7")"#,
        ),
    ])
    .await;
}

/// After a hangup, dead-capable commands still go out and the others fail at once with
/// the hang-up error, without a round trip (AGI-PROTOCOL.md §4.3).
#[tokio::test]
async fn after_a_hangup_only_dead_capable_commands_are_sent() {
    let esc = EscapeDigits::NONE;
    let secs = Some(Duration::from_secs(1));
    let mut cases = vec![case(typed!(c => c.answer().await), Some("ANSWER"), &["200 result=0", "HANGUP"], "Ok(())")];
    let live_only = vec![
        typed!(c => c.answer().await),
        typed!(c => c.hangup().await),
        typed!(c => c.hangup_channel("x").await),
        typed!(c => c.channel_status().await),
        typed!(c => c.channel_status_of("x").await),
        typed!(c => c.set_autohangup(Duration::from_secs(1)).await),
        typed!(c => c.cancel_autohangup().await),
        typed!(c => c.set_caller_id("a", "1").await),
        typed!(c => c.set_tdd_mode(TddMode::On).await),
        typed!(c => c.stream_file("x", esc).await),
        typed!(c => c.stream_file_from("x", esc, 1).await),
        typed!(c => c.control_stream_file("x", esc, ControlOptions::new()).await),
        typed!(c => c.get_option("x", esc, DigitTimeout::Default).await),
        typed!(c => c.set_music_on(None).await),
        typed!(c => c.set_music_off().await),
        typed!(c => c.get_data("x", DigitTimeout::Default, None).await),
        typed!(c => c.wait_for_digit(secs).await),
        typed!(c => c.record_file("x", "wav", esc, RecordOptions::new()).await),
        typed!(c => c.receive_char(secs).await),
        typed!(c => c.receive_text(secs).await),
        typed!(c => c.say_alpha("a", esc).await),
        typed!(c => c.say_alpha_with_case("a", esc, SayCase::All).await),
        typed!(c => c.say_date(0, esc).await),
        typed!(c => c.say_datetime(0, esc).await),
        typed!(c => c.say_datetime_with(0, esc, "IMp", None).await),
        typed!(c => c.say_digits("1", esc).await),
        typed!(c => c.say_number(1, esc).await),
        typed!(c => c.say_number_with_gender(1, esc, Gender::Neuter).await),
        typed!(c => c.say_phonetic("a", esc).await),
        typed!(c => c.say_time(0, esc).await),
        typed!(c => c.send_image("x").await),
        typed!(c => c.send_text("x").await),
        typed!(c => c.speech_create("x").await),
        typed!(c => c.speech_set("a", "b").await),
        typed!(c => c.speech_load_grammar("a", "b").await),
        typed!(c => c.speech_activate_grammar("a").await),
        typed!(c => c.speech_deactivate_grammar("a").await),
        typed!(c => c.speech_recognize("x", secs).await),
        typed!(c => c.speech_recognize_from("x", secs, 1).await),
        typed!(c => c.gosub("c", "s", 1, &[]).await),
        typed!(c => c.set_context("c").await),
        typed!(c => c.set_extension("s").await),
        typed!(c => c.set_priority(1).await),
    ];
    cases.extend(live_only.into_iter().map(|step| case(step, None, &[], "Err(HungUp)")));
    let dead_ok = [
        (typed!(c => c.noop().await), "NOOP", "200 result=0", "Ok(())"),
        (typed!(c => c.verbose("x").await), "VERBOSE x 1", "200 result=1", "Ok(())"),
        (typed!(c => c.async_agi_break().await), "ASYNCAGI BREAK", "200 result=0", "Ok(())"),
        (
            typed!(c => c.get_variable("DIALSTATUS").await),
            "GET VARIABLE DIALSTATUS",
            "200 result=1 (ANSWER)",
            r#"Ok(Some("ANSWER"))"#,
        ),
        (typed!(c => c.get_full_variable("${X}").await), r#"GET FULL VARIABLE "${X}""#, "200 result=1 ()", r#"Ok("")"#),
        (typed!(c => c.set_variable("X", "1").await), "SET VARIABLE X 1", "200 result=1", "Ok(())"),
        (typed!(c => c.database_put("f", "k", "v").await), "DATABASE PUT f k v", "200 result=1", "Ok(())"),
        (typed!(c => c.database_get("f", "k").await), "DATABASE GET f k", "200 result=1 (v)", r#"Ok(Some("v"))"#),
        (typed!(c => c.database_del("f", "k").await), "DATABASE DEL f k", "200 result=1", "Ok(())"),
        (typed!(c => c.database_deltree("f", None).await), "DATABASE DELTREE f", "200 result=1", "Ok(NothingDeleted)"),
        (typed!(c => c.exec("Verbose", &["1", "x"]).await), "EXEC Verbose 1,x", "200 result=0", "Ok(Continue)"),
        (typed!(c => c.speech_unload_grammar("g").await), "SPEECH UNLOAD GRAMMAR g", "200 result=0", r#"Err(Failed…"#),
        (typed!(c => c.speech_destroy().await), "SPEECH DESTROY", "200 result=0", "Ok(false)"),
        // Asterisk decides for the commands of other modules.
        (typed!(c => c.sound_file_exists("x.gsm").await), r#"ISEXISTING SOUNDFILE "x.gsm""#, DEAD, "Err(HungUp)"),
    ];
    cases.extend(dead_ok.into_iter().map(|(step, line, reply, want)| case(step, Some(line), &[reply], want)));
    run(cases).await;
}
