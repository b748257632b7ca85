#![allow(unused)]
use agi_runtime::prelude::*;

struct Language(String);

#[agi_route("/hello")]
async fn hello(call: &mut Call, #[from_call] language: Language) {}

fn main() {
    let _router: Router = routes![hello];
}
