// Path captures matched by name or `#[path]`, and `agi_arg_N` parameters.
use agi_runtime::prelude::*;

#[agi_route("/customer/{id}/orders/{order}")]
async fn order(
    call: &mut Call,
    id: u64,
    #[path] order: String,
    #[arg(1)] exten: String,
    #[arg(2)] caller: Option<u32>,
    #[arg(127)] last: Option<std::net::IpAddr>,
) -> AgiResult<()> {
    let _ = (id, order, exten, caller, last);
    call.noop().await
}

fn main() {
    let _router: Router = routes![order];
}
