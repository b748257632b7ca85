#![allow(unused)]
// Every mistake is reported at once, not only the first.
use agi_runtime::prelude::*;

#[agi_route("/customer/{id}")]
fn customer(#[arg(0)] exten: String, list: Vec<u8>) {}

fn main() {}
