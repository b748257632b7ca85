#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call) -> u32 {
    7
}

fn main() {}
