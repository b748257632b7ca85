//! The prometheus example: a call through its route shows up on its metrics endpoint.

#[allow(dead_code)]
#[path = "../prometheus.rs"]
mod prometheus;

use agi_runtime::metrics::PrometheusRecorder;
use agi_runtime::testing::{CallSpec, FakeAsterisk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn a_call_is_counted_and_served_to_a_scraper() {
    let recorder = PrometheusRecorder::new();
    metrics::set_global_recorder(recorder.clone()).unwrap();
    let scrapes = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = scrapes.local_addr().unwrap();
    tokio::spawn(prometheus::serve_metrics(scrapes, recorder));

    let report = FakeAsterisk::new(CallSpec::new("/hello")).call(prometheus::app()).await.unwrap();
    assert_eq!(report.status(), Some("SUCCESS"));

    let mut scraper = TcpStream::connect(addr).await.unwrap();
    scraper.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut response = String::new();
    scraper.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("agi_calls_accepted_total{route=\"/hello\"} 1\n"), "{response}");
    assert!(response.contains("agi_calls_completed_total{route=\"/hello\",status=\"SUCCESS\"} 1\n"), "{response}");
}
