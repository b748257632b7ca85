#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/report", max_calls = 0)]
async fn report(call: &mut Call) {}

fn main() {}
