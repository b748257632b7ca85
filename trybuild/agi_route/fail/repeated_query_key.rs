#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/hello")]
async fn hello(call: &mut Call, lang: String, #[query(rename = "lang")] language: String) {}

fn main() {}
