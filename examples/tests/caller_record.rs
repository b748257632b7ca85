//! The caller-record example, driven end to end by a scripted Asterisk.

#[allow(dead_code)]
#[path = "../caller_record.rs"]
mod caller_record;

use agi_runtime::testing::{CallSpec, ScriptedPeer};

#[tokio::test]
async fn get_caller_record_hands_the_record_to_the_dialplan() {
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
    let mut peer = ScriptedPeer::in_memory(caller_record::app(), &spec).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("SET VARIABLE CUSTOMER_FOUND 0", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
}

#[tokio::test]
async fn a_malformed_extension_never_reaches_the_handler() {
    let spec = CallSpec::new("/GetCallerRecord?extension=55x");
    let mut peer = ScriptedPeer::in_memory(caller_record::app(), &spec).await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("BAD_REQUEST"));
    assert_eq!(
        end.variable("FASTAGI_REASON"),
        Some("query argument `extension` = \"55x\": invalid digit found in string")
    );
}

#[tokio::test]
async fn customer_service_picks_the_queue_from_caller_id_and_language() {
    let spec = CallSpec::new("/CallerWantsCustomerService?lang=es").caller_id("5550100", "Alice");
    let mut peer = ScriptedPeer::in_memory(caller_record::app(), &spec).await.unwrap();
    peer.exchange("SET VARIABLE SERVICE_QUEUE support-gold-es", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));

    let spec = CallSpec::new("/CallerWantsCustomerService");
    let mut peer = ScriptedPeer::in_memory(caller_record::app(), &spec).await.unwrap();
    peer.exchange("SET VARIABLE SERVICE_QUEUE support-standard-en", "200 result=1").await.unwrap();
    peer.finish().await.unwrap();
}

#[tokio::test]
async fn a_caller_hanging_up_mid_call_ends_the_call_quietly() {
    let spec = CallSpec::new("/GetCallerRecord?extension=5551212");
    let mut peer = ScriptedPeer::in_memory(caller_record::app(), &spec).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.expect("SET VARIABLE CUSTOMER_FOUND 1").await.unwrap();
    peer.send("HANGUP").await.unwrap();
    peer.send("200 result=1").await.unwrap();
    // SET VARIABLE works on a dead channel, so the handler carries on to the end.
    peer.exchange(r#"SET VARIABLE CUSTOMER_NAME "Alice Martin""#, "200 result=1").await.unwrap();
    peer.exchange("SET VARIABLE CUSTOMER_TIER gold", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
}
