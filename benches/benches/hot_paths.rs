//! Micro-benchmarks of the per-call hot paths: `cargo bench -p agi-bench`.
//!
//! Each measures one step the server takes for every call (or every command), through
//! the public API where there is one, and otherwise through `agi_runtime::__bench`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use agi_bench::scenario::ENV_BLOCK;
use agi_runtime::__bench::{RouteLookup, encode_command};
use agi_runtime::prelude::*;
use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::wire::{Arg, DEFAULT_MAX_COMMAND_LINE, quote_arg};
use agi_runtime::{Handler, Outcome, Response, handler_fn};
use criterion::{Criterion, criterion_group, criterion_main};

fn env_parsing(c: &mut Criterion) {
    c.bench_function("env/parse asterisk 22 block", |b| {
        b.iter(|| AgiEnv::parse(black_box(ENV_BLOCK)).map(|env| black_box(env.query().len())))
    });
}

fn reply_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("reply");
    group.bench_function("GET VARIABLE payload", |b| {
        b.iter(|| Response::parse(black_box("result=1 (5551234)")).and_then(|r| r.payload().map(str::len)))
    });
    group.bench_function("STREAM FILE code and endpos", |b| {
        b.iter(|| {
            let r = Response::parse(black_box("result=0 endpos=8000"))?;
            Some((r.result_code()?, r.attribute("endpos")?.len()))
        })
    });
    group.finish();
}

fn command_encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let mut buf = Vec::with_capacity(128);
    group.bench_function("STREAM FILE welcome \"\"", |b| {
        b.iter(|| {
            encode_command(
                &mut buf,
                "STREAM FILE",
                black_box(&[Arg::Text("welcome"), Arg::Quoted("")]),
                DEFAULT_MAX_COMMAND_LINE,
            )
        })
    });
    group.bench_function("SET VARIABLE RESULT ok", |b| {
        b.iter(|| {
            encode_command(
                &mut buf,
                "SET VARIABLE",
                black_box(&[Arg::Text("RESULT"), Arg::Text("ok")]),
                DEFAULT_MAX_COMMAND_LINE,
            )
        })
    });
    group.bench_function("SET VARIABLE with a quoted value", |b| {
        let args = [Arg::Text("CUSTOMER_NAME"), Arg::Text("Bob \"the builder\" Stone")];
        b.iter(|| encode_command(&mut buf, "SET VARIABLE", black_box(&args), DEFAULT_MAX_COMMAND_LINE))
    });
    group.bench_function("STREAM FILE with an offset", |b| {
        let args = [Arg::Text("welcome"), Arg::Quoted("0123456789*#"), Arg::Int(16000)];
        b.iter(|| encode_command(&mut buf, "STREAM FILE", black_box(&args), DEFAULT_MAX_COMMAND_LINE))
    });
    group.bench_function("quote_arg (allocates its String)", |b| b.iter(|| quote_arg(black_box("a \"b\" c"))));
    group.finish();
}

#[agi_route("/bench")]
async fn bench(call: &mut Call, extension: u32, lang: Option<String>) {
    black_box((call.env().len(), extension, lang));
}

/// The generated code of `bench` up to the handler's body: the query decoded into
/// `extension: u32` and `lang: Option<String>`.
fn query_extraction(c: &mut Criterion) {
    let (mut call, _peer) =
        ScriptedPeer::with_call(&CallSpec::new("bench?extension=5551212&lang=en")).expect("a valid block");
    let handler = bench {};
    let mut cx = Context::from_waker(Waker::noop());
    c.bench_function("query/extension u32 + lang Option<String>", |b| {
        b.iter(|| {
            let future = pin!(Handler::<()>::call(&handler, &mut call, &()));
            match future.poll(&mut cx) {
                Poll::Ready(Outcome::Success) => {}
                other => panic!("the handler did not succeed at once: {other:?}"),
            }
        })
    });
}

fn route_matching(c: &mut Criterion) {
    let noop = || handler_fn(|call| Box::pin(async move { call.noop().await }));
    let mut router = Router::new();
    for route in [
        "/",
        "/bench",
        "/GetCallerRecord",
        "/CallerWantsCustomerService",
        "/customer/new",
        "/customer/{id}",
        "/customer/{id}/orders",
        "/queue/{name}/agents/{agent}",
        "/{tenant}/ivr/{menu}",
    ] {
        router = router.route(route, noop()).expect("valid routes");
    }
    let lookup = RouteLookup::new(router);
    let mut group = c.benchmark_group("route");
    for path in ["/bench", "/customer/42/orders", "/acme/ivr/main", "/no/such/route"] {
        group.bench_function(path, |b| b.iter(|| lookup.find(black_box(path))));
    }
    group.finish();
}

criterion_group!(benches, env_parsing, reply_parsing, command_encoding, query_extraction, route_matching);
criterion_main!(benches);
