#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello", method = "GET")]
async fn hello(call: &mut Call) {}

fn main() {}
