// The function stays a function: it can be called directly (e.g. in unit tests).
use agi_runtime::prelude::*;

#[agi_route("/lookup/{id}")]
async fn lookup(call: &mut Call, id: u32, #[arg(1)] exten: String, lang: Option<String>) -> AgiResult<()> {
    let _ = (id, exten, lang);
    call.answer().await
}

async fn direct(call: &mut Call) -> AgiResult<()> {
    lookup(call, 7, "100".to_owned(), None).await
}

fn main() {
    let _ = direct;
    let _router: Router = routes![lookup];
}
