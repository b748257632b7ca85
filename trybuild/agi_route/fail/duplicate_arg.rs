#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, #[arg(1)] exten: String, #[arg(1)] again: String) {}

fn main() {}
