//! No allocation per command: a call that sends more commands allocates no more.
//!
//! The server runs in this thread (a current-thread runtime) and so does the scripted
//! Asterisk, which reads and writes from fixed buffers: the counting allocator's
//! per-thread counters see the server's allocations only.

use std::net::SocketAddr;

use agi_bench::alloc::{AllocStats, Counting};
use agi_runtime::prelude::*;
use agi_runtime::{EscapeDigits, StatusReporting};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Sends `rounds` times: a bare SET VARIABLE, a quoted one, a STREAM FILE with an
/// empty escape set, and a GET VARIABLE of an unset variable.
#[agi_route("/commands")]
async fn commands(call: &mut Call, rounds: u32) -> AgiResult<()> {
    for _ in 0..rounds {
        call.set_variable("PLAIN", "value").await?;
        call.set_variable("QUOTED", "two \"quoted\" words").await?;
        call.stream_file("welcome", EscapeDigits::NONE).await?;
        assert_eq!(call.get_variable("UNSET").await?, None);
    }
    Ok(())
}

/// Plays one call with a scripted Asterisk that answers every command; returns how
/// many commands it answered.
async fn play(addr: SocketAddr, rounds: u32) -> usize {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut block = [0u8; 128];
    let script = b"agi_network: yes\nagi_network_script: commands?rounds=";
    block[..script.len()].copy_from_slice(script);
    let mut len = script.len();
    for digit in rounds.to_string().bytes() {
        block[len] = digit;
        len += 1;
    }
    block[len..len + 2].copy_from_slice(b"\n\n");
    stream.write_all(&block[..len + 2]).await.unwrap();
    let mut buf = [0u8; 256];
    let (mut filled, mut answered) = (0, 0);
    loop {
        let n = stream.read(&mut buf[filled..]).await.unwrap();
        if n == 0 {
            return answered;
        }
        filled += n;
        while let Some(lf) = buf[..filled].iter().position(|&b| b == b'\n') {
            let reply: &[u8] = match &buf[..lf] {
                line if line.starts_with(b"SET VARIABLE") => b"200 result=1\n",
                line if line.starts_with(b"STREAM FILE") => b"200 result=0 endpos=8000\n",
                line if line.starts_with(b"GET VARIABLE") => b"200 result=0\n",
                line => panic!("unexpected command {:?}", String::from_utf8_lossy(line)),
            };
            stream.write_all(reply).await.unwrap();
            answered += 1;
            buf.copy_within(lf + 1..filled, 0);
            filled -= lf + 1;
        }
    }
}

#[test]
fn commands_allocate_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::from_listener(listener).status_reporting(StatusReporting::disabled());
        tokio::spawn(server.serve(routes![commands]));

        let allocated = |rounds| {
            let before = AllocStats::current();
            let answered = play(addr, rounds);
            async move {
                let answered = answered.await;
                // The server ends its task once the connection is closed: let it.
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                (answered, AllocStats::current().since(before))
            }
        };
        let _ = allocated(1).await; // the first call sizes what is reused later
        let (few, short) = allocated(2).await;
        let (many, long) = allocated(12).await;
        assert_eq!((few, many), (8, 48));
        assert!(short.calls() > 5, "the server's allocations are not counted: {short}");
        assert_eq!(
            long.calls(),
            short.calls(),
            "40 more commands cost {} more allocations ({short} then {long})",
            long.calls() as i64 - short.calls() as i64
        );
    });
}
