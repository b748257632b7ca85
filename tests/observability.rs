//! What the server tells its operators: the metrics (feature `metrics`) and the
//! per-call tracing span.

mod support;

use std::time::Duration;

use agi_runtime::metrics::PrometheusRecorder;
use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{AgiError, Router, handler_fn};
use support::{Logs, Raw, normal_call, start, with_normal_route};

/// The tests of this file run one at a time: tracing caches whether a call site is
/// enabled process-wide, and a session logged on another thread without a subscriber
/// at the wrong moment would hide the span this file captures.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn router() -> Router {
    let router = Router::new()
        .route(
            "/inject",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    call.set_variable("X", "a\nNOOP").await
                })
            }),
        )
        .unwrap()
        .route(
            "/limited",
            handler_fn(|call| {
                Box::pin(async move {
                    call.set_command_timeout(Some(Duration::from_millis(500)));
                    call.answer().await
                })
            }),
        )
        .unwrap()
        .max_calls_for("/limited", 1)
        .unwrap()
        .route(
            "/hangup",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    call.noop().await?;
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    with_normal_route(router)
}

/// Every metric of the table in `agi_runtime::metrics`, driven by real sessions. The
/// recorder is installed for this thread only, and the current-thread runtime runs
/// every task of the test here.
#[tokio::test]
async fn every_metric_counts_what_happened() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let recorder = PrometheusRecorder::new();
    let _recording = metrics::set_default_local_recorder(&recorder);
    let server = start(router(), |s| s).await;

    normal_call(server.addr).await;

    // An argument with a line feed: refused by the encoder, reported as a failure.
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/inject")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("HANDLER_ERROR"));

    // A call that takes the route's only slot and times out; a second one is refused.
    let mut held = ScriptedPeer::connect(server.addr, &CallSpec::new("/limited")).await.unwrap();
    held.expect("ANSWER").await.unwrap();
    let mut refused = ScriptedPeer::connect(server.addr, &CallSpec::new("/limited")).await.unwrap();
    assert_eq!(refused.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("OVERLOADED"));
    held.expect_close().await.unwrap();
    drop(held);

    // No route; a hangup; garbage instead of an environment; a reply to nothing.
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/nowhere")).await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("NOT_FOUND"));
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/hangup")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.expect("NOOP").await.unwrap();
    peer.send("HANGUP").await.unwrap();
    peer.send("200 result=0").await.unwrap();
    peer.finish().await.unwrap();
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(raw.line().await, None);
    drop(raw);
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/hangup")).await;
    raw.expect("ANSWER").await;
    raw.send(b"200 result=0\n200 result=0\n").await.unwrap();
    assert_eq!(raw.line().await, None);
    drop(raw);

    server.idle().await;
    let text = recorder.render();
    for expected in [
        "agi_calls_accepted_total{route=\"/normal\"} 1\n",
        "agi_calls_accepted_total{route=\"/hangup\"} 2\n",
        "agi_calls_completed_total{route=\"/normal\",status=\"SUCCESS\"} 1\n",
        "agi_calls_completed_total{route=\"/inject\",status=\"HANDLER_ERROR\"} 1\n",
        "agi_calls_completed_total{route=\"/limited\",status=\"HANDLER_ERROR\"} 1\n",
        "agi_calls_completed_total{route=\"/hangup\",status=\"SUCCESS\"} 1\n",
        "agi_calls_completed_total{route=\"/hangup\",status=\"HANDLER_ERROR\"} 1\n",
        "agi_calls_active{route=\"/normal\"} 0\n",
        "agi_calls_active{route=\"/limited\"} 0\n",
        "agi_calls_refused_total{reason=\"route_limit\",route=\"/limited\"} 1\n",
        "agi_calls_refused_total{reason=\"not_found\",route=\"\"} 1\n",
        "agi_command_duration_seconds_count{command=\"GET VARIABLE\"} 1\n",
        "agi_command_duration_seconds_count{command=\"ANSWER\"} 4\n",
        "agi_command_rejections_total{command=\"SET VARIABLE\",reason=\"forbidden_byte\"} 1\n",
        "agi_hangups_total 1\n",
        "agi_protocol_errors_total{phase=\"environment\"} 1\n",
        "agi_protocol_errors_total{phase=\"call\"} 1\n",
        "agi_timeouts_total{phase=\"command\"} 1\n",
        "# TYPE agi_command_duration_seconds histogram\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_call_span_carries_route_uniqueid_channel_and_status() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = start(router(), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let spec = CallSpec::new("/normal").uniqueid("1795871406.77").channel("PJSIP/alice-0000002a");
    let mut peer = ScriptedPeer::connect(server.addr, &spec).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("GET VARIABLE X", "200 result=1 (x)").await.unwrap();
    peer.finish().await.unwrap();
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/nowhere").uniqueid("9.9")).await.unwrap();
    peer.finish().await.unwrap();
    server.idle().await;

    let spans: Vec<String> = logs.lines().into_iter().filter(|l| l.starts_with("SPAN agi_call")).collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for field in [
        "peer=127.0.0.1:",
        " uniqueid=1795871406.77",
        " channel=PJSIP/alice-0000002a",
        " route=/normal",
        " status=SUCCESS",
    ] {
        assert!(spans[0].contains(field), "{field:?} missing from {}", spans[0]);
    }
    assert!(spans[1].contains(" uniqueid=9.9") && spans[1].contains(" status=NOT_FOUND"), "{}", spans[1]);
    assert!(!spans[1].contains("route="), "an unrouted call has no route: {}", spans[1]);
    server.shutdown().await;
}
