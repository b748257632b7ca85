#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer//orders")]
async fn orders(call: &mut Call) {}

fn main() {}
