//! End-to-end tests of `#[agi_route]` handlers: typed extraction over loopback.

use std::sync::{Arc, Mutex};

use agi_runtime::prelude::*;
use agi_runtime::testing::{CallSpec, Finished, ScriptedPeer};

/// What handlers saw, in order, for the assertions.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[agi_route("/GetCallerRecord")]
async fn get_caller_record(call: &mut Call, extension: u32, lang: Option<String>, seen: State<Seen>) -> AgiResult<()> {
    seen.push(format!("extension={extension} lang={lang:?}"));
    call.answer().await
}

#[agi_route("/customer/{id}/orders")]
async fn orders(
    call: &mut Call,
    id: u64,
    limit: Option<u8>,
    #[arg(1)] exten: String,
    #[arg(2)] caller: Option<u32>,
    seen: State<Seen>,
) -> AgiResult<()> {
    seen.push(format!("id={id} limit={limit:?} exten={exten} caller={caller:?}"));
    call.noop().await
}

#[agi_route("/names/{name}")]
async fn names(
    call: &mut Call,
    name: String,
    #[query(rename = "n")] count: u32,
    #[query(default)] verbose: bool,
    #[query(default = 3)] retries: u8,
    seen: State<Seen>,
) {
    seen.push(format!("name={name} count={count} verbose={verbose} retries={retries}"));
    let _ = call.noop().await;
}

#[agi_route("/who")]
async fn who(call: &mut Call, caller: CallerId, env: AgiEnv, args: Args, seen: State<Seen>) -> Result<(), String> {
    seen.push(format!("{:?} {:?} {} {:?}", caller.number, caller.name, env.path(), args.0));
    call.noop().await.map_err(|e| e.to_string())
}

fn router(seen: &Seen) -> Router {
    routes![get_caller_record, orders, names, who].with_state(seen.clone())
}

async fn run(seen: &Seen, spec: CallSpec, script: &[(&str, &str)]) -> Finished {
    let mut peer = ScriptedPeer::in_memory(router(seen), &spec).await.unwrap();
    for (command, reply) in script {
        peer.exchange(command, reply).await.unwrap();
    }
    peer.finish().await.unwrap()
}

#[tokio::test]
async fn query_arguments_arrive_typed() {
    let seen = Seen::default();
    let end =
        run(&seen, CallSpec::new("/GetCallerRecord?extension=5551212&lang=es"), &[("ANSWER", "200 result=0")]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(seen.take(), ["extension=5551212 lang=Some(\"es\")"]);

    let end = run(&seen, CallSpec::new("GetCallerRecord?extension=7"), &[("ANSWER", "200 result=0")]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(seen.take(), ["extension=7 lang=None"]);
}

#[tokio::test]
async fn percent_encoded_values_are_decoded() {
    let seen = Seen::default();
    run(&seen, CallSpec::new("/GetCallerRecord?extension=%35%35&lang=es%20MX+x%C3%A9"), &[("ANSWER", "200 result=0")])
        .await;
    assert_eq!(seen.take(), ["extension=55 lang=Some(\"es MX xé\")"]);
    run(&seen, CallSpec::new("/names/Jos%C3%A9%20Garc%C3%ADa+x?n=1"), &[("NOOP", "200 result=0")]).await;
    assert_eq!(seen.take(), ["name=José García+x count=1 verbose=false retries=3"]);
    // Raw UTF-8 in the query, beside percent-encoded UTF-8: both arrive as sent.
    run(&seen, CallSpec::new("/GetCallerRecord?extension=9&lang=Zoë%20%C3%A9"), &[("ANSWER", "200 result=0")]).await;
    assert_eq!(seen.take(), ["extension=9 lang=Some(\"Zoë é\")"]);
}

#[tokio::test]
async fn a_missing_or_malformed_argument_is_a_bad_request_naming_it() {
    let seen = Seen::default();
    let end = run(&seen, CallSpec::new("/GetCallerRecord?lang=es"), &[]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("BAD_REQUEST"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("query argument `extension` is missing"));

    let end = run(&seen, CallSpec::new("/GetCallerRecord?extension=12a&lang=es"), &[]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("BAD_REQUEST"));
    assert_eq!(
        end.variable("FASTAGI_REASON"),
        Some("query argument `extension` = \"12a\": invalid digit found in string")
    );

    let end = run(&seen, CallSpec::new("/GetCallerRecord?extension=99999999999"), &[]).await;
    assert_eq!(
        end.variable("FASTAGI_REASON"),
        Some("query argument `extension` = \"99999999999\": number too large to fit in target type")
    );

    let end = run(&seen, CallSpec::new("/GetCallerRecord?extension=1&extension=2"), &[]).await;
    assert_eq!(
        end.variable("FASTAGI_REASON"),
        Some("query argument `extension` = \"extension=1&extension=2\": the key appears more than once")
    );
    assert!(seen.take().is_empty(), "no handler ran");
}

#[tokio::test]
async fn path_captures_and_dialplan_arguments_arrive_typed() {
    let seen = Seen::default();
    let spec = CallSpec::new("/customer/42/orders?limit=5").args(["5551212", "1001"]);
    let end = run(&seen, spec, &[("NOOP", "200 result=0")]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(seen.take(), ["id=42 limit=Some(5) exten=5551212 caller=Some(1001)"]);

    let spec = CallSpec::new("/customer/42/orders").arg("5551212");
    run(&seen, spec, &[("NOOP", "200 result=0")]).await;
    assert_eq!(seen.take(), ["id=42 limit=None exten=5551212 caller=None"]);

    let end = run(&seen, CallSpec::new("/customer/x42/orders").arg("1"), &[]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("BAD_REQUEST"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("path segment `id` = \"x42\": invalid digit found in string"));

    let end = run(&seen, CallSpec::new("/customer/42/orders"), &[]).await;
    assert_eq!(end.variable("FASTAGI_REASON"), Some("agi_arg_1 (`exten`) is missing"));

    let end = run(&seen, CallSpec::new("/customer/42/orders").args(["1", "not-a-number"]), &[]).await;
    assert_eq!(
        end.variable("FASTAGI_REASON"),
        Some("agi_arg_2 (`caller`) = \"not-a-number\": invalid digit found in string")
    );
    assert!(seen.take().is_empty());
}

#[tokio::test]
async fn renamed_and_defaulted_query_arguments() {
    let seen = Seen::default();
    run(&seen, CallSpec::new("/names/bob?n=2&verbose=true&retries=9"), &[("NOOP", "200 result=0")]).await;
    assert_eq!(seen.take(), ["name=bob count=2 verbose=true retries=9"]);
    let end = run(&seen, CallSpec::new("/names/bob?count=2"), &[]).await;
    assert_eq!(end.variable("FASTAGI_REASON"), Some("query argument `n` is missing"));
}

#[tokio::test]
async fn extractors_come_by_type() {
    let seen = Seen::default();
    let spec = CallSpec::new("/who").caller_id("5551212", "Alice").args(["a", ""]);
    let end = run(&seen, spec, &[("NOOP", "200 result=0")]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(seen.take(), ["Some(\"5551212\") Some(\"Alice\") /who [\"a\", \"\"]"]);
}

#[tokio::test]
async fn an_unknown_route_is_not_found() {
    let seen = Seen::default();
    let end = run(&seen, CallSpec::new("/NoSuchScript?x=1"), &[]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("NOT_FOUND"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("no route for `/NoSuchScript`"));
    let end = run(&seen, CallSpec::new("/customer/42/orders/extra"), &[]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("NOT_FOUND"));
}

#[tokio::test]
async fn a_handler_error_is_reported_with_its_text() {
    let seen = Seen::default();
    let end = run(&seen, CallSpec::new("/who"), &[("NOOP", "510 Invalid or unknown command")]).await;
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANDLER_ERROR"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("Asterisk does not know the command `NOOP` (510)"));
}

#[tokio::test]
async fn the_handler_stays_callable_as_written() {
    let seen = Seen::default();
    let (mut call, mut peer) = ScriptedPeer::with_call(&CallSpec::new("/GetCallerRecord")).unwrap();
    let (result, script) = tokio::join!(
        get_caller_record(&mut call, 100, Some("fr".into()), State(seen.clone())),
        peer.exchange("ANSWER", "200 result=0")
    );
    result.unwrap();
    script.unwrap();
    assert_eq!(seen.take(), ["extension=100 lang=Some(\"fr\")"]);
}

#[tokio::test]
async fn the_route_table_lists_every_handler() {
    let table: Vec<(String, String)> =
        router(&Seen::default()).routes().map(|(r, h)| (r.to_owned(), h.to_owned())).collect();
    assert_eq!(
        table,
        [
            ("/GetCallerRecord".to_owned(), "get_caller_record".to_owned()),
            ("/customer/{id}/orders".to_owned(), "orders".to_owned()),
            ("/names/{name}".to_owned(), "names".to_owned()),
            ("/who".to_owned(), "who".to_owned()),
        ]
    );
}

#[test]
fn merging_tables_reports_both_handlers_and_where_they_are() {
    #[agi_route("/GetCallerRecord")]
    async fn other_caller_record(call: &mut Call) {
        let _ = call;
    }
    let err = router(&Seen::default()).merge(routes![other_caller_record]).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("route `/GetCallerRecord` of `other_caller_record` (tests/dsl.rs:"), "{text}");
    assert!(text.contains("conflicts with `/GetCallerRecord` of `get_caller_record` (tests/dsl.rs:"), "{text}");
}

#[agi_route("/slow", max_calls = 1)]
async fn slow(call: &mut Call) -> AgiResult<()> {
    call.answer().await
}

#[tokio::test]
async fn a_route_limit_from_the_attribute_refuses_the_extra_call() {
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let serving = tokio::spawn(server.serve(routes![slow]));
    let mut held = ScriptedPeer::connect(addr, &CallSpec::new("/slow")).await.unwrap();
    held.expect("ANSWER").await.unwrap();
    let mut refused = ScriptedPeer::connect(addr, &CallSpec::new("/slow")).await.unwrap();
    let end = refused.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("OVERLOADED"));
    assert!(end.variable("FASTAGI_REASON").unwrap().contains("/slow"), "{end:?}");
    held.send("200 result=0").await.unwrap();
    assert_eq!(held.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    serving.abort();
}
