// A route with its own limit of concurrent calls.
use agi_runtime::prelude::*;

#[agi_route("/report", max_calls = 20)]
async fn report(call: &mut Call) -> AgiResult<()> {
    call.answer().await
}

#[agi_route("/other",)]
async fn other(call: &mut Call) -> AgiResult<()> {
    call.answer().await
}

fn main() {
    let _router: Router = routes![report, other];
}
