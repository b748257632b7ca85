#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/{id}")]
async fn customer(call: &mut Call, #[arg(1)] id: u64) {}

fn main() {}
