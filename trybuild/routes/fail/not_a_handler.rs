#![allow(unused)]
use agi_runtime::prelude::*;

async fn plain(call: &mut Call) {}

fn main() {
    let _router: Router = routes![plain];
}
