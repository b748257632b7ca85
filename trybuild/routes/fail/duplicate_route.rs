#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/{id}")]
async fn by_id(call: &mut Call, id: u64) {}

#[agi_route("/customer/{name}")]
async fn by_name(call: &mut Call, name: String) {}

fn main() {
    let _router: Router = routes![by_id, by_name];
}
