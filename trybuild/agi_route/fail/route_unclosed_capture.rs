#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/{id/orders")]
async fn orders(call: &mut Call, id: u64) {}

fn main() {}
