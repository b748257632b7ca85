//! Zero-downtime restart: a new server binds the same port (`SO_REUSEPORT`) while the
//! old one drains, under a steady stream of calls, and no call is refused.

mod support;

use agi_runtime::Server;
use support::{PATIENCE, handover, named_router, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_takes_over_the_port_while_the_old_one_drains_and_no_call_is_refused() {
    let old = Server::bind_reuse_port("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = old.local_addr().unwrap();
    let old = serve(old.shutdown_grace(PATIENCE), named_router("old"));
    let new = handover(addr, old, async move {
        // The new version starts on the same port; the kernel spreads calls over both.
        serve(Server::bind_reuse_port(addr).unwrap(), named_router("new"))
    })
    .await;
    new.shutdown().await;
}
