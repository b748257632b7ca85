#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route]
async fn hello(call: &mut Call) {}

fn main() {}
