#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello<T: std::str::FromStr>(call: &mut Call) {}

fn main() {}
