// The call as the only parameter, under any name, at the root route.
use agi_runtime::prelude::*;

#[agi_route("/")]
pub async fn root(c: &mut agi_runtime::Call) -> AgiResult<()> {
    c.answer().await
}

fn main() {
    let _router: Router = routes![root];
}
