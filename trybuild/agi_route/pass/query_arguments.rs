// Required, optional, renamed and defaulted query arguments.
use agi_runtime::prelude::*;

#[agi_route("/GetCallerRecord")]
async fn get_caller_record(
    call: &mut Call,
    extension: u32,
    lang: Option<String>,
    #[query(rename = "max")] limit: Option<u8>,
    #[query(default)] verbose: bool,
    #[query(default = 3)] retries: u8,
    #[query(default = String::from("en"))] fallback: String,
    r#type: Option<String>,
) -> AgiResult<()> {
    let _ = (extension, lang, limit, verbose, retries, fallback, r#type);
    call.answer().await
}

fn main() {
    let _router: Router = routes![get_caller_record];
}
