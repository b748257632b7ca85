// Every return form: nothing, `AgiResult<()>`, and `Result<(), E>` with a displayable `E`,
// named or `impl Display`, written out or handed in by a `macro_rules!` macro.
use agi_runtime::prelude::*;

#[agi_route("/unit")]
async fn unit(call: &mut Call) {
    let _ = call;
}

#[agi_route("/explicit-unit")]
async fn explicit_unit(call: &mut Call) -> () {
    let _ = call;
}

#[agi_route("/agi-result")]
async fn agi_result(call: &mut Call) -> AgiResult<()> {
    call.answer().await
}

#[agi_route("/string-error")]
async fn string_error(call: &mut Call) -> Result<(), String> {
    call.answer().await.map_err(|e| e.to_string())
}

#[agi_route("/boxed-error")]
async fn boxed_error(call: &mut Call) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    call.answer().await?;
    Ok(())
}

#[agi_route("/opaque-error")]
async fn opaque_error(call: &mut Call) -> Result<(), impl std::fmt::Display + use<>> {
    call.answer().await.map_err(|e| e.to_string())
}

macro_rules! handler_returning {
    ($name:ident, $route:literal, $ret:ty) => {
        #[agi_route($route)]
        async fn $name(call: &mut Call) -> $ret {
            call.answer().await.map_err(|e| e.to_string())
        }
    };
}

handler_returning!(from_a_macro, "/from-a-macro", Result<(), impl std::fmt::Display + use<>>);

fn main() {
    let _router: Router =
        routes![unit, explicit_unit, agi_result, string_error, boxed_error, opaque_error, from_a_macro];
}
