#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/orders")]
async fn orders(call: &mut Call, #[path] id: u64) {}

fn main() {}
