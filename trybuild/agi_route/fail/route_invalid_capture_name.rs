#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/customer/{1st}")]
async fn customer(call: &mut Call) {}

fn main() {}
