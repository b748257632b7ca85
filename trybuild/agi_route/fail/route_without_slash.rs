#![allow(unused)]
use agi_runtime::prelude::*;

#[agi_route("GetCallerRecord")]
async fn get_caller_record(call: &mut Call) {}

fn main() {}
