#![allow(unused)]
use agi_runtime::prelude::*;

fn main() {
    let _router: Router = routes!["/hello"];
}
