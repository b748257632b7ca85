#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("/caller record")]
async fn caller_record(call: &mut Call) {}

fn main() {}
