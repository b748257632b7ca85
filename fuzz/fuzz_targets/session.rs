//! A whole session in memory: a handler sends commands while the peer answers with the
//! fuzzer's bytes, then closes. Every command must end and the session must close.
#![no_main]

use std::time::Duration;

use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{AgiError, Router, handler_fn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<()>();
    let router = Router::new()
        .route(
            "/fuzz",
            handler_fn(move |call| {
                let done = done.clone();
                Box::pin(async move {
                    for round in 0..6 {
                        let _ = match round % 3 {
                            0 => call.noop().await,
                            1 => call.get_variable("X").await.map(drop),
                            _ => call.command(["DATABASE", "GET", "a b"]).await.map(drop),
                        };
                    }
                    let _ = done.send(());
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let data = data.to_vec();
    runtime.block_on(async move {
        tokio::time::timeout(Duration::from_secs(10), async move {
            let mut peer = ScriptedPeer::in_memory(router, &CallSpec::new("/fuzz")).await.unwrap();
            peer.send_bytes(&data).await.unwrap();
            peer.close().await.unwrap();
            while let Ok(Some(_)) = peer.next_command().await {}
            finished.recv().await.expect("the handler ran to its end");
        })
        .await
        .expect("the session ended in time");
    });
});
