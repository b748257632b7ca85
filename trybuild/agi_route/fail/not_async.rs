#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
fn hello(call: &mut Call) {}

fn main() {}
