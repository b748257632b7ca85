#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/{id}/orders/{id}")]
async fn orders(call: &mut Call, id: u64) {}

fn main() {}
