#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, (a, b): (u32, u32)) {}

fn main() {}
