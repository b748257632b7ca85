#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, #[arg] exten: String) {}

fn main() {}
