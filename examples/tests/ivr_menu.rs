//! The ivr-menu example, driven end to end by a scripted Asterisk.

#[allow(dead_code)]
#[path = "../ivr_menu.rs"]
mod ivr_menu;

use agi_runtime::testing::{CallSpec, Finished, ScriptedPeer};
use ivr_menu::Journal;

const PROMPT: &str = "GET DATA ivr/main-menu 5000 1";

async fn call(journal: &Journal, script: &str, steps: &[(&str, &str)]) -> Finished {
    let mut peer = ScriptedPeer::in_memory(ivr_menu::app(journal.clone()), &CallSpec::new(script)).await.unwrap();
    for (command, reply) in steps {
        peer.expect(command).await.unwrap();
        for line in reply.split('\n') {
            peer.send(line).await.unwrap();
        }
    }
    peer.finish().await.unwrap()
}

#[tokio::test]
async fn the_first_key_pressed_picks_the_department() {
    let journal = Journal::default();
    let end = call(
        &journal,
        "/ivr/main",
        &[("ANSWER", "200 result=0"), (PROMPT, "200 result=2"), ("SET VARIABLE IVR_CHOICE support", "200 result=1")],
    )
    .await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(journal.entries(), [("1795871406.5".to_owned(), "support".to_owned())]);
}

#[tokio::test]
async fn silence_and_wrong_keys_are_retried() {
    let journal = Journal::default();
    call(
        &journal,
        "/ivr/main?retries=3",
        &[
            ("ANSWER", "200 result=0"),
            (PROMPT, "200 result= (timeout)"),
            ("STREAM FILE ivr/no-input \"\"", "200 result=0 endpos=8000"),
            (PROMPT, "200 result=9"),
            ("STREAM FILE ivr/invalid-option \"\"", "200 result=0 endpos=8000"),
            (PROMPT, "200 result=1"),
            ("SET VARIABLE IVR_CHOICE sales", "200 result=1"),
        ],
    )
    .await;
    assert_eq!(journal.entries()[0].1, "sales");
}

#[tokio::test]
async fn the_operator_takes_callers_who_never_choose() {
    let journal = Journal::default();
    call(
        &journal,
        "/ivr/main?retries=2",
        &[
            ("ANSWER", "200 result=0"),
            (PROMPT, "200 result= (timeout)"),
            ("STREAM FILE ivr/no-input \"\"", "200 result=0 endpos=8000"),
            (PROMPT, "200 result= (timeout)"),
            ("STREAM FILE ivr/no-input \"\"", "200 result=0 endpos=8000"),
            ("SET VARIABLE IVR_CHOICE operator", "200 result=1"),
        ],
    )
    .await;
    assert_eq!(journal.entries()[0].1, "operator");
}

#[tokio::test]
async fn a_caller_hanging_up_mid_menu_still_gets_the_cleanup() {
    let journal = Journal::default();
    let end = call(
        &journal,
        "/ivr/main",
        &[
            ("ANSWER", "200 result=0"),
            // The caller hangs up during the prompt: the failed reply, then HANGUP.
            (PROMPT, "200 result=-1"),
            ("NOOP", "HANGUP\n200 result=0"),
            ("SET VARIABLE IVR_CHOICE hangup", "200 result=1"),
        ],
    )
    .await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANGUP"));
    assert_eq!(journal.entries()[0].1, "hangup");
}

#[tokio::test]
async fn a_missing_prompt_sends_the_caller_to_the_operator() {
    let journal = Journal::default();
    call(
        &journal,
        "/ivr/main",
        &[
            ("ANSWER", "200 result=0"),
            (PROMPT, "200 result=-1"),
            ("NOOP", "200 result=0"),
            ("SET VARIABLE IVR_CHOICE operator", "200 result=1"),
        ],
    )
    .await;
    assert_eq!(journal.entries()[0].1, "operator");
}
