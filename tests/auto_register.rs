//! Handlers without state register themselves with the `auto-register` feature.

use agi_runtime::prelude::*;
use agi_runtime::testing::{CallSpec, ScriptedPeer};

#[agi_route("/ping")]
async fn ping(call: &mut Call) -> AgiResult<()> {
    call.noop().await
}

mod nested {
    use agi_runtime::prelude::*;

    #[agi_route("/caller/{id}")]
    async fn caller(call: &mut Call, id: u32, who: CallerId) -> AgiResult<()> {
        call.set_variable("SEEN", &format!("{id} {:?}", who.number)).await
    }
}

#[derive(Clone)]
struct Db(&'static str);

/// Takes state, so it cannot register itself: it goes through `routes![]`.
#[agi_route("/stateful")]
async fn stateful(call: &mut Call, db: State<Db>) -> AgiResult<()> {
    call.set_variable("DB", db.0.0).await
}

fn app() -> Router {
    Router::auto().unwrap().merge(routes![stateful].with_state(Db("main"))).unwrap()
}

#[test]
fn stateless_handlers_are_collected_and_stateful_ones_are_not() {
    let mut routes: Vec<(String, String)> =
        Router::auto().unwrap().routes().map(|(r, h)| (r.to_owned(), h.to_owned())).collect();
    routes.sort();
    assert_eq!(routes, [("/caller/{id}".to_owned(), "caller".to_owned()), ("/ping".to_owned(), "ping".to_owned())]);
}

#[tokio::test]
async fn collected_handlers_serve_calls_beside_listed_ones() {
    let mut peer = ScriptedPeer::in_memory(app(), &CallSpec::new("/caller/7").caller_id("100", "A")).await.unwrap();
    peer.exchange(r#"SET VARIABLE SEEN "7 Some(\"100\")""#, "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));

    let mut peer = ScriptedPeer::in_memory(app(), &CallSpec::new("/stateful")).await.unwrap();
    peer.exchange("SET VARIABLE DB main", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
}
