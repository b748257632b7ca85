// Several handlers, from modules, with state, merged with a hand-built router.
use agi_runtime::prelude::*;
use agi_runtime::{handler_fn, RouterError};

mod menus {
    use agi_runtime::prelude::*;

    #[agi_route("/menu/{level}")]
    pub async fn menu(call: &mut Call, level: u8, db: State<u32>) -> AgiResult<()> {
        let _ = (level, db);
        call.answer().await
    }
}

#[agi_route("/menu/main")]
async fn main_menu(call: &mut Call) -> AgiResult<()> {
    call.answer().await
}

fn main() -> Result<(), RouterError> {
    let empty: Router = routes![];
    let by_hand: Router = Router::new().route("/ping", handler_fn(|call| Box::pin(async move { call.noop().await })))?;
    let _router: Router = routes![main_menu, menus::menu].with_state(7u32).merge(by_hand)?.merge(empty)?;
    Ok(())
}
