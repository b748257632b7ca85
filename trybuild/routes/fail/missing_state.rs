#![allow(unused)]
use agi_runtime::prelude::*;

#[derive(Clone)]
struct Db;

#[agi_route("/hello")]
async fn hello(call: &mut Call, db: State<Db>) {}

fn main() {
    let _router: Router = routes![hello];
}
