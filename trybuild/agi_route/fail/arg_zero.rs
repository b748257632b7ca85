#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, #[arg(0)] exten: String) {}

fn main() {}
