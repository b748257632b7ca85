#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, #[query(renamed = "ext")] extension: u32) {}

fn main() {}
