//! The sound-file transfer extension (`PUT SOUNDFILE`, `GET SOUNDFILE`,
//! `ISEXISTING SOUNDFILE`) end to end, against a scripted Asterisk playing the module.
//!
//! The module's own source was never published. The peer here implements the server
//! side **as AGI-PROTOCOL.md §6.3 point 8 assumes it**: PUT answers `200 result=0`,
//! reads ⌈size/57⌉ base64 lines and answers `200 result=0` (or `-10` / `-11` before any
//! data); GET answers `200 result=0 size=N`, then the data lines and no trailer;
//! ISEXISTING answers `200 result=0` or `200 result=-1`.

#[macro_use]
mod support;

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use agi_runtime::testing::{ScriptedPeer, asterisk_words};
use support::{check_report, start_steps};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An independent base64 for the peer (the client has its own).
const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn to_base64(bytes: &[u8]) -> String {
    let mut bits = String::new();
    for byte in bytes {
        bits.push_str(&format!("{byte:08b}"));
    }
    while !bits.len().is_multiple_of(6) {
        bits.push('0');
    }
    let mut text: String = bits
        .as_bytes()
        .chunks(6)
        .map(|six| ALPHABET.as_bytes()[usize::from_str_radix(std::str::from_utf8(six).unwrap(), 2).unwrap()] as char)
        .collect();
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

fn from_base64(text: &str) -> Vec<u8> {
    let bits: String =
        text.trim_end_matches('=').chars().map(|c| format!("{:06b}", ALPHABET.find(c).expect("base64"))).collect();
    bits.as_bytes()
        .chunks_exact(8)
        .map(|eight| u8::from_str_radix(std::str::from_utf8(eight).unwrap(), 2).unwrap())
        .collect()
}

/// The data lines of a download, 57 bytes each, LF-terminated, in one string.
fn data_lines(data: &[u8]) -> String {
    data.chunks(57).map(|chunk| to_base64(chunk) + "\n").collect()
}

/// `size` bytes in which every value appears, in a scrambled order.
fn binary(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 167 + i / 256) % 256) as u8).collect()
}

async fn command(peer: &mut ScriptedPeer) -> Vec<String> {
    asterisk_words(&peer.next_command().await.unwrap().expect("a command"))
}

/// Plays the module for one upload: go-ahead, data lines (checked: 76 characters but
/// for the last), final status. Returns the name and the bytes.
async fn receive_upload(peer: &mut ScriptedPeer) -> (String, Vec<u8>) {
    let words = command(peer).await;
    assert_eq!(words[..2], ["PUT", "SOUNDFILE"], "{words:?}");
    let (name, size): (String, usize) = (words[2].clone(), words[3].parse().unwrap());
    // Stop-and-wait: nothing may come before the go-ahead.
    peer.expect_silence(Duration::from_millis(20)).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    let mut data = Vec::with_capacity(size);
    for i in 0..size.div_ceil(57) {
        let line = peer.next_command().await.unwrap().unwrap();
        let last = i + 1 == size.div_ceil(57);
        assert!(line.len() == 76 || (last && line.len() < 76 && line.len() % 4 == 0), "line {i}: {line:?}");
        data.extend(from_base64(&line));
    }
    assert_eq!(data.len(), size);
    peer.send("200 result=0").await.unwrap();
    (name, data)
}

/// Plays the module for one download of `data`, then answers the resynchronisation.
async fn send_download(peer: &mut ScriptedPeer, name: &str, data: &[u8]) {
    assert_eq!(command(peer).await, ["GET", "SOUNDFILE", name]);
    peer.send(&format!("200 result=0 size={}", data.len())).await.unwrap();
    for batch in data.chunks(57 * 128) {
        peer.send_bytes(data_lines(batch).as_bytes()).await.unwrap();
    }
    echo_resync(peer).await;
}

/// Answers the `GET FULL VARIABLE "<token>"` the client sends after a download.
async fn echo_resync(peer: &mut ScriptedPeer) {
    let words = command(peer).await;
    assert_eq!(words[..3], ["GET", "FULL", "VARIABLE"]);
    assert_eq!(words.len(), 4, "{words:?}");
    assert!(words[3].starts_with("agi-sync-"), "{words:?}");
    peer.send(&format!("200 result=1 ({})", words[3])).await.unwrap();
}

async fn expect_report(reports: &mut tokio::sync::mpsc::UnboundedReceiver<String>, want: &str) {
    let got = reports.recv().await.expect("a report");
    check_report(&got, want, "transfer");
}

/// A source that hands out at most 100 bytes per read.
struct Trickle<'a>(&'a [u8]);

impl AsyncRead for Trickle<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = self.0.len().min(100).min(buf.remaining());
        buf.put_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Poll::Ready(Ok(()))
    }
}

/// A destination that fails.
struct Broken;

impl AsyncWrite for Broken {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::other("disk full")))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

const SIZES: [usize; 8] = [0, 1, 56, 57, 58, 256, 57 * 512, (1 << 20) + 13];

#[tokio::test]
async fn binary_files_round_trip_through_the_module() {
    let mut steps = Vec::new();
    for size in SIZES {
        let name = format!("custom/file-{size}.bin");
        let data = binary(size);
        let [first, second, third] = [name.clone(), name.clone(), name.clone()];
        steps.push(typed!(c => c.sound_file_exists(first.as_str()).await));
        let upload = data.clone();
        steps.push(typed!(c => c.put_sound_file(second.as_str(), &upload).await));
        steps.push(typed!(c => c.sound_file_exists(third.as_str()).await));
        steps.push(typed!(c => c.get_sound_file(name.as_str()).await.map(|got| got == data)));
    }
    // Streaming both ways, with a source that trickles.
    let big = binary(200_000);
    let source = big.clone();
    steps.push(typed!(c => c.put_sound_file_from("stream.bin", Trickle(&source), source.len() as u64).await));
    steps.push(typed!(c => {
        let mut sink = Vec::new();
        let size = c.get_sound_file_to("stream.bin", &mut sink).await;
        (size, sink == big)
    }));
    let (mut peer, mut reports) = start_steps(steps).await;

    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for size in SIZES {
        let name = format!("custom/file-{size}.bin");
        assert_eq!(command(&mut peer).await, ["ISEXISTING", "SOUNDFILE", name.as_str()]);
        peer.send("200 result=-1").await.unwrap();
        expect_report(&mut reports, "Ok(false)").await;

        let (put_name, data) = receive_upload(&mut peer).await;
        assert_eq!(put_name, name);
        assert_eq!(data, binary(size), "upload of {size} bytes");
        files.insert(put_name, data);
        expect_report(&mut reports, "Ok(())").await;

        assert_eq!(command(&mut peer).await, ["ISEXISTING", "SOUNDFILE", name.as_str()]);
        peer.send("200 result=0").await.unwrap();
        expect_report(&mut reports, "Ok(true)").await;

        send_download(&mut peer, &name, &files[&name]).await;
        expect_report(&mut reports, "Ok(true)").await;
    }
    let (name, data) = receive_upload(&mut peer).await;
    assert_eq!((name.as_str(), data.len()), ("stream.bin", 200_000));
    expect_report(&mut reports, "Ok(())").await;
    send_download(&mut peer, "stream.bin", &data).await;
    expect_report(&mut reports, "(Ok(200000), true)").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn the_lines_sent_are_exact_and_names_are_checked() {
    let steps = vec![
        typed!(c => c.put_sound_file("my file.gsm", b"abc").await),
        typed!(c => c.put_sound_file("../outside.gsm", b"abc").await),
        typed!(c => c.get_sound_file("a/../../b.wav").await),
        typed!(c => c.sound_file_exists("").await),
        typed!(c => c.sound_file_exists("x\ny.gsm").await),
        typed!(c => c.get_sound_file("empty.wav").await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    peer.expect(r#"PUT SOUNDFILE "my file.gsm" 3"#).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    peer.expect("YWJj").await.unwrap();
    peer.send("200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    expect_report(
        &mut reports,
        r#"Err(InvalidArgument(InvalidArgument { what: "remote file name", value: "../outside.gsm"…"#,
    )
    .await;
    expect_report(&mut reports, r#"Err(InvalidArgument(InvalidArgument { what: "remote file name"…"#).await;
    expect_report(&mut reports, r#"Err(InvalidArgument(InvalidArgument { what: "remote file name", value: ""…"#).await;
    expect_report(
        &mut reports,
        r#"Err(InvalidArgument(InvalidArgument { what: "remote file name", value: "x\ny.gsm"…"#,
    )
    .await;
    peer.expect(r#"GET SOUNDFILE "empty.wav""#).await.unwrap();
    peer.send("200 result=0 size=0").await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Ok([])").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn a_missing_module_is_a_distinct_error_and_the_call_goes_on() {
    let steps = vec![
        typed!(c => c.sound_file_exists("x.gsm").await),
        typed!(c => c.put_sound_file("x.gsm", b"data").await),
        typed!(c => c.get_sound_file("x.gsm").await),
        typed!(c => c.noop().await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    for command in [r#"ISEXISTING SOUNDFILE "x.gsm""#, r#"PUT SOUNDFILE "x.gsm" 4"#, r#"GET SOUNDFILE "x.gsm""#] {
        peer.exchange(command, "510 Invalid or unknown command").await.unwrap();
        expect_report(&mut reports, "Err(Transfer(ModuleNotLoaded))").await;
    }
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn error_codes_are_typed_and_no_data_goes_out_without_the_go_ahead() {
    let steps = vec![
        typed!(c => c.put_sound_file("x.gsm", b"data").await),
        typed!(c => c.put_sound_file("x.gsm", b"data").await),
        typed!(c => c.put_sound_file("x.gsm", b"data").await),
        typed!(c => c.put_sound_file("x.gsm", b"data").await),
        typed!(c => c.get_sound_file("x.gsm").await),
        typed!(c => c.get_sound_file("x.gsm").await),
        typed!(c => c.noop().await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    for (reply, want) in [
        ("200 result=-10", "Err(Transfer(CannotCreateFile))"),
        ("200 result=-11", "Err(Transfer(CannotCreateDirectory))"),
        ("200 result=-3", "Err(Transfer(Refused { result: -3 }))"),
    ] {
        peer.expect(r#"PUT SOUNDFILE "x.gsm" 4"#).await.unwrap();
        peer.expect_silence(Duration::from_millis(20)).await.unwrap();
        peer.send(reply).await.unwrap();
        expect_report(&mut reports, want).await;
    }
    // A failure reported after the data; the stream is checked to be in step.
    peer.expect(r#"PUT SOUNDFILE "x.gsm" 4"#).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    peer.expect("ZGF0YQ==").await.unwrap();
    peer.send("200 result=-1").await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Err(Transfer(Failed { result: -1 }))").await;
    // GET refused: no data, no resynchronisation.
    peer.exchange(r#"GET SOUNDFILE "x.gsm""#, "200 result=-1").await.unwrap();
    expect_report(&mut reports, "Err(Transfer(Refused { result: -1 }))").await;
    // A go-ahead without a size: whatever follows is dropped up to the echo.
    peer.expect(r#"GET SOUNDFILE "x.gsm""#).await.unwrap();
    peer.send_bytes(b"200 result=0\nZGF0YQ==\n").await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, r#"Err(UnexpectedReply { command: "GET SOUNDFILE", reply: "200 result=0" })"#).await;
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn a_module_that_stops_reading_early_does_not_leave_the_call_out_of_step() {
    let steps = vec![typed!(c => c.put_sound_file("x.bin", &binary(57 * 3)).await), typed!(c => c.noop().await)];
    let (mut peer, mut reports) = start_steps(steps).await;
    peer.expect(r#"PUT SOUNDFILE "x.bin" 171"#).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    // The module reads one line, fails, and Asterisk takes the other two for commands.
    peer.next_command().await.unwrap().unwrap();
    peer.send("200 result=-1").await.unwrap();
    for _ in 0..2 {
        peer.next_command().await.unwrap().unwrap();
        peer.send("510 Invalid or unknown command").await.unwrap();
    }
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Err(Transfer(Failed { result: -1 }))").await;
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn too_much_data_is_an_error_and_the_stream_stays_in_step() {
    let steps = vec![
        typed!(c => c.get_sound_file("x.bin").await),
        typed!(c => c.get_sound_file("x.bin").await),
        typed!(c => c.get_sound_file("x.bin").await),
        typed!(c => c.noop().await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    // A line that goes past the announced size.
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=100").await.unwrap();
    peer.send_bytes(data_lines(&binary(114)).as_bytes()).await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Err(Transfer(TooMuchData { expected: 100 }))").await;
    // Whole lines after the announced size, and a trailer: dropped by the resynchronisation.
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=57").await.unwrap();
    peer.send_bytes(format!("{}200 result=0\n", data_lines(&binary(171))).as_bytes()).await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Err(Transfer(TooMuchData { expected: 57 }))").await;
    // A trailer alone is not an error.
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=3").await.unwrap();
    peer.send_bytes(b"QUJD\n200 result=0\n").await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Ok([65, 66, 67])").await;
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn too_little_data_ends_with_a_status_line_or_the_timeout() {
    let steps = vec![
        typed!(c => c.get_sound_file("x.bin").await),
        typed!(c => c.get_sound_file("x.bin").await),
        typed!(c => {
            c.set_data_timeout(Duration::from_millis(100));
            c.get_sound_file("x.bin").await
        }),
        typed!(c => c.noop().await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=200").await.unwrap();
    peer.send_bytes(format!("{}200 result=-1\n", data_lines(&binary(57))).as_bytes()).await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, r#"Err(Transfer(Aborted { expected: 200, received: 57, status: "200 result=-1" }))"#)
        .await;
    // A line that is not base64.
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=200").await.unwrap();
    peer.send_bytes(format!("{}not base64!\n", data_lines(&binary(57))).as_bytes()).await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "Err(Transfer(BadData { line: 2 }))").await;
    // The data stops: the line timeout breaks the call.
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=200").await.unwrap();
    peer.send_bytes(data_lines(&binary(57)).as_bytes()).await.unwrap();
    expect_report(&mut reports, r#"Err(Timeout { command: "GET SOUNDFILE", timeout: 100ms })"#).await;
    expect_report(&mut reports, "Err(Broken(…").await;
    // Nothing more is sent on a broken call.
    peer.expect_close().await.unwrap();
}

#[tokio::test]
async fn a_source_that_ends_early_costs_nothing_before_the_command_and_breaks_the_call_after() {
    let first_batch = 57 * 512;
    let steps = vec![
        typed!(c => c.put_sound_file_from("x.bin", &binary(10)[..], 20).await),
        typed!(c => c.noop().await),
        typed!(c => c.put_sound_file_from("y.bin", Trickle(&binary(first_batch + 10)), first_batch as u64 + 100).await),
        typed!(c => c.noop().await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    expect_report(&mut reports, "Err(Transfer(SourceTooShort { expected: 20, read: 10 }))").await;
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    peer.expect(&format!(r#"PUT SOUNDFILE "y.bin" {}"#, first_batch + 100)).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    for _ in 0..512 {
        peer.next_command().await.unwrap().unwrap();
    }
    let read = first_batch + 10;
    expect_report(
        &mut reports,
        &format!("Err(Transfer(SourceTooShort {{ expected: {}, read: {read} }}))", first_batch + 100),
    )
    .await;
    expect_report(&mut reports, "Err(Broken(…").await;
    peer.expect_close().await.unwrap();
}

#[tokio::test]
async fn a_failing_destination_leaves_the_call_in_step() {
    let steps = vec![typed!(c => c.get_sound_file_to("x.bin", Broken).await), typed!(c => c.noop().await)];
    let (mut peer, mut reports) = start_steps(steps).await;
    send_download(&mut peer, "x.bin", &binary(1000)).await;
    expect_report(&mut reports, "Err(Transfer(Destination(Custom { kind: Other, error: \"disk full\" })))").await;
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    expect_report(&mut reports, "Ok(())").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn a_hangup_during_a_download_is_recorded_and_the_data_still_counts() {
    let steps = vec![
        typed!(c => (c.get_sound_file("x.bin").await.map(|d| d.len()), c.is_hung_up())),
        typed!(c => c.get_variable("DIALSTATUS").await),
        typed!(c => c.stream_file("x", agi_runtime::EscapeDigits::NONE).await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    peer.expect(r#"GET SOUNDFILE "x.bin""#).await.unwrap();
    peer.send("200 result=0 size=570").await.unwrap();
    let lines = data_lines(&binary(570));
    let (first, rest) = lines.split_at(77 * 5);
    peer.send_bytes(format!("{first}HANGUP\n{rest}").as_bytes()).await.unwrap();
    echo_resync(&mut peer).await;
    expect_report(&mut reports, "(Ok(570), true)").await;
    peer.exchange("GET VARIABLE DIALSTATUS", "200 result=1 (ANSWER)").await.unwrap();
    expect_report(&mut reports, r#"Ok(Some("ANSWER"))"#).await;
    expect_report(&mut reports, "Err(HungUp)").await;
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn a_hangup_during_an_upload_ends_it() {
    // Asterisk says HANGUP before its final status: the upload still completes.
    let steps = vec![
        typed!(c => (c.put_sound_file("x.bin", &binary(100)).await, c.is_hung_up())),
        typed!(c => c.put_sound_file("y.bin", &binary(1 << 20)).await),
    ];
    let (mut peer, mut reports) = start_steps(steps).await;
    peer.expect(r#"PUT SOUNDFILE "x.bin" 100"#).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    peer.next_command().await.unwrap().unwrap();
    peer.next_command().await.unwrap().unwrap();
    peer.send("HANGUP").await.unwrap();
    peer.send("200 result=0").await.unwrap();
    expect_report(&mut reports, "(Ok(()), true)").await;
    // Asterisk goes away in the middle of the data.
    peer.expect(&format!(r#"PUT SOUNDFILE "y.bin" {}"#, 1 << 20)).await.unwrap();
    peer.send("200 result=0").await.unwrap();
    for _ in 0..100 {
        peer.next_command().await.unwrap().unwrap();
    }
    peer.send("HANGUP").await.unwrap();
    drop(peer);
    expect_report(&mut reports, "Err(Disconnected)").await;
}
