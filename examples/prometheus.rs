//! Serves the server's metrics for Prometheus, without an HTTP framework.
//!
//! ```text
//! cargo run --example prometheus
//! curl http://127.0.0.1:9573/metrics
//! ```
//!
//! The FastAGI server listens on 127.0.0.1:4573 (`AGI(agi://127.0.0.1/hello)`); the
//! metrics endpoint on 127.0.0.1:9573 answers every request with the text format (give
//! other addresses as the two arguments).
//! Prometheus scrapes with one short `GET` per interval, so reading the request head
//! and answering with `Connection: close` is all the HTTP this needs.

use std::time::Duration;

use agi_runtime::metrics::PrometheusRecorder;
use agi_runtime::{Router, Server, handler_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The FastAGI route this example serves: `AGI(agi://127.0.0.1/hello)`.
pub(crate) fn app() -> Router {
    Router::new()
        .route(
            "/hello",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    call.verbose("hello from FastAGI").await
                })
            }),
        )
        .expect("a valid route")
}

/// Answers every connection to `scrapes` with the metrics, until the process ends.
pub(crate) async fn serve_metrics(scrapes: TcpListener, recorder: PrometheusRecorder) {
    loop {
        let Ok((stream, _)) = scrapes.accept().await else { continue };
        let recorder = recorder.clone();
        tokio::spawn(async move {
            // A scraper that stalls is dropped rather than holding a task forever.
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &recorder)).await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = PrometheusRecorder::new();
    metrics::set_global_recorder(recorder.clone())?;
    let mut args = std::env::args().skip(1);
    let agi_addr = args.next().unwrap_or_else(|| "127.0.0.1:4573".to_owned());
    let metrics_addr = args.next().unwrap_or_else(|| "127.0.0.1:9573".to_owned());

    tokio::spawn(serve_metrics(TcpListener::bind(&metrics_addr).await?, recorder));
    let server = Server::bind(&agi_addr).await?;
    server.serve_with_shutdown(app(), async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await?;
    Ok(())
}

/// Reads the request head (up to its blank line, at most 8 KiB) and sends the metrics.
async fn answer(mut stream: TcpStream, recorder: &PrometheusRecorder) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8 * 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let body = recorder.render();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
