#![allow(unused)]
use agi_runtime::prelude::*;

struct Service;

impl Service {
    #[agi_route("/hello")]
    async fn hello(&self, call: &mut Call) {}
}

fn main() {}
