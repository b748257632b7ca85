//! The caller-record example, driven end to end by the fake Asterisk (and, where the
//! exact bytes matter, by a scripted one).

#[allow(dead_code)]
#[path = "../caller_record.rs"]
mod caller_record;

use agi_runtime::testing::{CallSpec, FakeAsterisk, ScriptedPeer};

#[tokio::test]
async fn get_caller_record_hands_the_record_to_the_dialplan() {
    let spec = CallSpec::new("/GetCallerRecord?extension=5551234");
    let report = FakeAsterisk::new(spec).call(caller_record::app()).await.unwrap();
    assert!(report.answered());
    assert_eq!(report.variable("CUSTOMER_FOUND"), Some("1"));
    assert_eq!(report.variable("CUSTOMER_NAME"), Some("Bob \"the builder\" Stone"));
    assert_eq!(report.variable("CUSTOMER_TIER"), Some("standard"));
    assert_eq!(report.status(), Some("SUCCESS"));
    assert_eq!(report.agi_status(), "SUCCESS");
}

#[tokio::test]
async fn a_name_with_quotes_is_quoted_on_the_wire() {
    let spec = CallSpec::new("/GetCallerRecord?extension=5551234");
    let mut peer = ScriptedPeer::in_memory(caller_record::app(), &spec).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("SET VARIABLE CUSTOMER_FOUND 1", "200 result=1").await.unwrap();
    peer.exchange(r#"SET VARIABLE CUSTOMER_NAME "Bob \"the builder\" Stone""#, "200 result=1").await.unwrap();
    peer.exchange("SET VARIABLE CUSTOMER_TIER standard", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
}

#[tokio::test]
async fn an_unknown_extension_is_reported_as_not_found_in_the_store() {
    let spec = CallSpec::new("/GetCallerRecord?extension=1");
    let report = FakeAsterisk::new(spec).call(caller_record::app()).await.unwrap();
    assert_eq!(report.variable("CUSTOMER_FOUND"), Some("0"));
    assert_eq!(report.variable("CUSTOMER_NAME"), None);
    assert_eq!(report.status(), Some("SUCCESS"));
}

#[tokio::test]
async fn a_malformed_extension_never_reaches_the_handler() {
    let spec = CallSpec::new("/GetCallerRecord?extension=55x");
    let report = FakeAsterisk::new(spec).call(caller_record::app()).await.unwrap();
    assert!(!report.answered(), "the handler did not run");
    assert_eq!(report.status(), Some("BAD_REQUEST"));
    assert_eq!(
        report.variable("FASTAGI_REASON"),
        Some("query argument `extension` = \"55x\": invalid digit found in string")
    );
}

#[tokio::test]
async fn customer_service_picks_the_queue_from_caller_id_and_language() {
    let spec = CallSpec::new("/CallerWantsCustomerService?lang=es").caller_id("5550100", "Alice");
    let report = FakeAsterisk::new(spec).call(caller_record::app()).await.unwrap();
    assert_eq!(report.variable("SERVICE_QUEUE"), Some("support-gold-es"));

    let spec = CallSpec::new("/CallerWantsCustomerService");
    let report = FakeAsterisk::new(spec).call(caller_record::app()).await.unwrap();
    assert_eq!(report.variable("SERVICE_QUEUE"), Some("support-standard-en"));
}

#[tokio::test]
async fn a_caller_hanging_up_mid_call_ends_the_call_quietly() {
    // The caller hangs up while the second command runs: HANGUP comes after its reply.
    let spec = CallSpec::new("/GetCallerRecord?extension=5551212");
    let report = FakeAsterisk::new(spec).hangup_at(2).call(caller_record::app()).await.unwrap();
    // SET VARIABLE works on a dead channel, so the handler carries on to the end.
    assert_eq!(report.variable("CUSTOMER_TIER"), Some("gold"));
    assert_eq!(report.status(), Some("SUCCESS"));
    assert!(report.hung_up());
    assert_eq!(report.agi_status(), "HANGUP");
    let lines: Vec<&str> = report.transcript().after_env().iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        lines[2..6],
        [
            "SET VARIABLE CUSTOMER_FOUND 1\n",
            "200 result=1\n",
            "SET VARIABLE CUSTOMER_NAME \"Alice Martin\"\n",
            "HANGUP\n"
        ]
    );
}

#[tokio::test]
async fn a_caller_who_hung_up_before_the_answer_is_not_answered() {
    let spec = CallSpec::new("/GetCallerRecord?extension=5551212");
    let fake = FakeAsterisk::new(spec).hangup_at(1).expect("ANSWER", "200 result=-1");
    let report = fake.call(caller_record::app()).await.unwrap();
    assert_eq!(report.status(), Some("HANDLER_ERROR"));
    assert_eq!(report.variable("FASTAGI_REASON"), Some("`ANSWER` failed: `200 result=-1`"));
    assert_eq!(report.variable("CUSTOMER_FOUND"), None);
    assert!(report.hung_up());
}
