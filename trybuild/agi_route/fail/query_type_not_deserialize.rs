#![allow(unused)]
use agi_runtime::prelude::*;

struct Extension(u32);

#[agi_route("/hello")]
async fn hello(call: &mut Call, extension: Extension) {}

fn main() {}
