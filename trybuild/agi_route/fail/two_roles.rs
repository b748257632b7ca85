#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, #[arg(1)] #[query] extension: u32) {}

fn main() {}
