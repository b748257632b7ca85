#![allow(unused)]
use agi_runtime::prelude::*;

struct CustomerId(u64);

#[agi_route("/customer/{id}")]
async fn customer(call: &mut Call, id: CustomerId) {}

fn main() {
    let _router: Router = routes![customer];
}
