// Extractors by type, shared state, and a custom `#[from_call]` extractor.
use agi_runtime::prelude::*;
use agi_runtime::{FromCall, FromRef, PeerAddr, Rejection};

#[derive(Clone)]
struct AppState {
    db: Db,
}

#[derive(Clone)]
struct Db;

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Db {
        state.db.clone()
    }
}

struct Language(String);

impl<S> FromCall<S> for Language {
    fn from_call(call: &Call, _: &S) -> Result<Self, Rejection> {
        Ok(Language(call.env().language().unwrap_or("en").to_owned()))
    }
}

#[agi_route("/everything")]
async fn everything(
    call: &mut Call,
    db: State<Db>,
    app: State<AppState>,
    env: AgiEnv,
    caller: CallerId,
    args: Args,
    peer: PeerAddr,
    #[from_call] language: Language,
) -> AgiResult<()> {
    let _ = (db, app, env, caller, args, peer, language.0);
    call.noop().await
}

fn main() {
    let _router: Router = routes![everything].with_state(AppState { db: Db });
}
