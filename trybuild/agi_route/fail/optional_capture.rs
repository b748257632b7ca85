#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/{id}")]
async fn customer(call: &mut Call, id: Option<u64>) {}

fn main() {}
