//! The fake Asterisk answers like the real one: each captured scenario is set up on the
//! fake (the keys the caller pressed, the files that were missing, the hangup), the
//! captured command lines are written to it byte for byte, and every line it sends back
//! must be the line Asterisk 22.10.1 sent, in the same order (positions in sound files,
//! which depend on timing, aside). The `AGISTATUS` it reports must be the one the
//! capture's follow-up call saw.

mod support;

use std::time::Duration;

use agi_runtime::testing::{CallSpec, Direction, FakeAsterisk, Target, Transcript};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The scenario each capture's dialplan set up, on the fake.
fn scenario(extension: &str, fake: FakeAsterisk) -> Option<FakeAsterisk> {
    Some(match extension {
        "stream_dtmf" => fake.digits("5"),
        "stream_nofile" => fake.missing_sound("no-such-file"),
        "getdata_digits" => fake.digits("12"),
        "getdata_pound" => fake.digits("34#"),
        "hangup_idle" => fake.hangup_at(1),
        "hangup_stream" => fake.hangup_during("STREAM FILE"),
        "record_dtmf" => fake.digits("#"),
        "record_timeout" => fake.unwritable("/nonexistent-dir"),
        "saynumber" => fake.missing_sound("digits/7"),
        "saynumber_dtmf" => fake.digits("9"),
        "waitdigit" => fake.digits("*"),
        "gosub" => fake.subroutine("sub-test", "s", Some("ret-a")).variable("GOSUB_ARG", "a|b"),
        "exitonhangup" => fake.hangup_at(1).exit_on_hangup(),
        "nosighup" => fake.hangup_at(1).no_sighup(),
        // The test system had no date and time prompts.
        "misc" => fake.missing_sound("digits/day-4").missing_sound("digits/a-m"),
        "deadcmds" => fake.dead_from_start(),
        // The fake answers at once: it does not model new input cutting a prompt short.
        "interrupt" => return None,
        _ => fake,
    })
}

fn spec_of(capture: &Transcript) -> CallSpec {
    let env = |name: &str| capture.env_var(name).unwrap_or_default().to_owned();
    CallSpec::new(&capture.script)
        .channel(env("agi_channel"))
        .uniqueid(env("agi_uniqueid"))
        .context(env("agi_context"))
        .extension(env("agi_extension"))
}

/// A recorded reply line with positions in files (which depend on timing) blanked out.
fn normalized(line: &str) -> String {
    match line.find("endpos=") {
        Some(at) => {
            let (head, tail) = line.split_at(at + "endpos=".len());
            let digits = tail.chars().take_while(char::is_ascii_digit).count();
            if digits == 0 { line.to_owned() } else { format!("{head}N{}", &tail[digits..]) }
        }
        None => line.to_owned(),
    }
}

fn is_final(line: &str) -> bool {
    ["200 ", "510 ", "511 ", "520 "].iter().any(|code| line.starts_with(code))
}

/// Writes the captured commands to the fake one at a time, as the capture server did,
/// and returns every line the fake sent after the environment block.
async fn drive(capture: &Transcript, stream: tokio::io::DuplexStream) -> Vec<String> {
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.is_empty() {
            break;
        }
    }
    let mut received = Vec::new();
    // Commands written whose final reply has not been read yet.
    let mut outstanding = 0usize;
    for event in capture.after_env().iter().filter(|e| e.dir == Direction::FromServer) {
        while outstanding > 0 {
            let Some(line) = lines.next_line().await.unwrap() else { break };
            outstanding -= usize::from(is_final(&line));
            received.push(line);
        }
        let bytes = event.bytes();
        write.write_all(&bytes).await.unwrap();
        outstanding += bytes.iter().filter(|&&b| b == b'\n').count().max(1);
        if event.data.starts_with("failure") {
            break;
        }
    }
    let _ = write.shutdown().await;
    while let Ok(Some(line)) = lines.next_line().await {
        received.push(line);
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_answers_every_captured_command_as_asterisk_did() {
    let captures = support::captures::transcripts();
    let mut compared = 0;
    for (index, (name, capture)) in captures.iter().enumerate() {
        if capture.commands().next().is_none() {
            continue;
        }
        let extension = capture.env_var("agi_extension").unwrap_or_default();
        let extension = if extension == "h" { "deadcmds" } else { extension };
        let fake = FakeAsterisk::new(spec_of(capture)).hangup_notice_delay(Duration::from_secs(5));
        let Some(fake) = scenario(extension, fake) else { continue };
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let call = tokio::spawn(fake.call(Target::stream(theirs)));
        let received = drive(capture, ours).await;
        let report = call.await.unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));

        let expected: Vec<String> = capture
            .after_env()
            .iter()
            .filter(|e| e.dir == Direction::FromAsterisk && !e.is_eof())
            .map(|e| normalized(e.data.strip_suffix('\n').unwrap_or(&e.data)))
            .collect();
        let received: Vec<String> = received.iter().map(|l| normalized(l)).collect();
        assert_eq!(received, expected, "{name}");

        // The follow-up call of the capture carried the AGISTATUS Asterisk set.
        if let Some((next, report_capture)) = captures.get(index + 1)
            && next.contains("report")
        {
            let status = report_capture.env_var("agi_arg_1").unwrap_or_default();
            assert_eq!(report.agi_status(), status, "{name}: AGISTATUS");
        }
        compared += 1;
    }
    assert_eq!(compared, 32, "captures compared");
}

/// Plays a capture's command lines to `fake` and returns its report.
async fn play(capture: &Transcript, fake: FakeAsterisk) -> agi_runtime::testing::CallReport {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let call = tokio::spawn(fake.call(Target::stream(theirs)));
    drive(capture, ours).await;
    call.await.unwrap().unwrap()
}

#[tokio::test]
async fn the_fake_reports_what_a_real_asterisk_would_stumble_on() {
    let (_, pipeline) =
        support::captures::transcripts().into_iter().find(|(name, _)| name == "r1-70-pipeline.json").unwrap();
    let report = play(&pipeline, FakeAsterisk::new(spec_of(&pipeline))).await;
    assert_eq!(
        report.violations(),
        ["a command arrived before the reply to the previous one; Asterisk would leave it unread"]
    );

    let (_, long) =
        support::captures::transcripts().into_iter().find(|(name, _)| name == "r1-73-longline.json").unwrap();
    let report = play(&long, FakeAsterisk::new(spec_of(&long))).await;
    assert_eq!(
        report.violations(),
        ["a command line longer than 8191 bytes was cut there; Asterisk runs the rest as another command"]
    );
    assert_eq!(report.commands().len(), 3, "ANSWER, the first 8191 bytes, the rest");
}
