//! Self-registered handlers are checked for conflicts when the table is built (a test
//! binary of its own: registrations are global to a program).

use agi_runtime::prelude::*;

#[agi_route("/ping")]
async fn ping(call: &mut Call) -> AgiResult<()> {
    call.noop().await
}

mod elsewhere {
    use agi_runtime::prelude::*;

    #[agi_route("/ping")]
    async fn ping_again(call: &mut Call) -> AgiResult<()> {
        call.noop().await
    }
}

#[test]
fn a_duplicate_is_an_error_naming_both_handlers() {
    let err = Router::auto().unwrap_err().to_string();
    assert!(err.contains("ping_again") && err.contains("`ping`"), "{err}");
    assert!(err.contains("tests/auto_register_conflict.rs:"), "{err}");
}
