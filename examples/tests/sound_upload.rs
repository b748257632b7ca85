//! The sound-upload example against a scripted Asterisk that plays the transfer module.

#[allow(dead_code)]
#[path = "../sound_upload.rs"]
mod sound_upload;

use agi_runtime::testing::{CallSpec, ScriptedPeer, asterisk_words};
use sound_upload::Library;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn decode(line: &str) -> Vec<u8> {
    let values: Vec<u32> =
        line.bytes().filter(|&b| b != b'=').map(|b| ALPHABET.iter().position(|&a| a == b).unwrap() as u32).collect();
    let mut out = Vec::new();
    for chunk in values.chunks(4) {
        let n = chunk.iter().enumerate().fold(0, |n, (i, v)| n | v << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

#[tokio::test]
async fn a_missing_prompt_is_uploaded_then_played() {
    let library = Library::sample();
    let spec = CallSpec::new("/announce?name=holiday-hours");
    let mut peer = ScriptedPeer::in_memory(sound_upload::app(library.clone()), &spec).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("ISEXISTING SOUNDFILE \"custom/holiday-hours.gsm\"", "200 result=-1").await.unwrap();
    peer.exchange("PUT SOUNDFILE \"custom/holiday-hours.gsm\" 3300", "200 result=0").await.unwrap();
    let mut received = Vec::new();
    while received.len() < 3300 {
        let line = peer.next_command().await.unwrap().unwrap();
        assert!(line.len() <= 76, "a data line holds at most 57 bytes");
        received.extend(decode(&line));
    }
    assert_eq!(received, library.prompt("holiday-hours").unwrap());
    peer.send("200 result=0").await.unwrap();
    peer.exchange("STREAM FILE custom/holiday-hours \"\"", "200 result=0 endpos=26400").await.unwrap();
    peer.exchange("SET VARIABLE ANNOUNCE played", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
}

#[tokio::test]
async fn without_the_module_the_prompt_on_the_host_is_played() {
    let spec = CallSpec::new("/announce?name=holiday-hours");
    let mut peer = ScriptedPeer::in_memory(sound_upload::app(Library::sample()), &spec).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("ISEXISTING SOUNDFILE \"custom/holiday-hours.gsm\"", "510 Invalid or unknown command").await.unwrap();
    peer.exchange("STREAM FILE custom/holiday-hours \"\"", "200 result=0 endpos=26400").await.unwrap();
    peer.exchange("SET VARIABLE ANNOUNCE played", "200 result=1").await.unwrap();
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn a_recording_is_fetched_and_kept() {
    let library = Library::sample();
    let spec = CallSpec::new("/voicemail-backup").uniqueid("1700000000.42");
    let mut peer = ScriptedPeer::in_memory(sound_upload::app(library.clone()), &spec).await.unwrap();
    let recording: Vec<u8> = (0..200u32).map(|i| (i * 7 % 256) as u8).collect();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange(
        "RECORD FILE /var/spool/asterisk/backup/1700000000-42 gsm \"0123456789*#\" 60000 BEEP",
        "200 result=0 (timeout) endpos=1600",
    )
    .await
    .unwrap();
    peer.expect("GET SOUNDFILE \"/var/spool/asterisk/backup/1700000000-42.gsm\"").await.unwrap();
    peer.send("200 result=0 size=200").await.unwrap();
    for chunk in recording.chunks(57) {
        peer.send(&encode(chunk)).await.unwrap();
    }
    // The call puts the stream back in step with a token Asterisk echoes.
    let resync = peer.next_command().await.unwrap().unwrap();
    let words = asterisk_words(&resync);
    assert_eq!(words[..3], ["GET", "FULL", "VARIABLE"]);
    peer.send(&format!("200 result=1 ({})", words[3])).await.unwrap();
    peer.exchange("SET VARIABLE BACKUP \"200 bytes\"", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(library.backups(), [("1700000000-42".to_owned(), recording)]);
}
