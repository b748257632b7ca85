//! A voice menu: prompts, digits with retries and timeouts, and a report to the dialplan.
//!
//! ```text
//! exten => 700,1,AGI(agi://127.0.0.1/ivr/main?retries=3)
//!  same => n,Goto(ivr-${IVR_CHOICE},s,1)   ; ivr-sales, ivr-support, ivr-operator
//! ```
//!
//! The caller hears `ivr/main-menu` and presses 1 (sales), 2 (support) or 0 (operator).
//! Silence or a wrong key plays a short notice and asks again, up to `retries` times;
//! then the call goes to the operator. Whatever happens — even when the caller hangs up
//! in the middle — the choice is written to the journal and to `IVR_CHOICE`, since both
//! work on a dead channel.
//!
//! Run it with `cargo run --example ivr-menu` (127.0.0.1:4573 unless an address is given).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agi_runtime::prelude::*;
use agi_runtime::{DataInput, DigitTimeout};

/// Where the menu is left, as the dialplan spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    Sales,
    Support,
    Operator,
}

impl Choice {
    fn from_key(key: &str) -> Option<Choice> {
        match key {
            "1" => Some(Choice::Sales),
            "2" => Some(Choice::Support),
            "0" => Some(Choice::Operator),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Choice::Sales => "sales",
            Choice::Support => "support",
            Choice::Operator => "operator",
        }
    }
}

/// Every menu outcome, by call: what a real service would write to its database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal(Arc<Mutex<Vec<(String, String)>>>);

impl Journal {
    fn record(&self, uniqueid: &str, outcome: &str) {
        if let Ok(mut entries) = self.0.lock() {
            entries.push((uniqueid.to_owned(), outcome.to_owned()));
        }
    }

    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        self.0.lock().map(|entries| entries.clone()).unwrap_or_default()
    }
}

/// How long the caller has to press a key after the prompt.
const KEY_TIMEOUT: Duration = Duration::from_secs(5);

#[agi_route("/ivr/main")]
async fn main_menu(call: &mut Call, #[query(default = 3)] retries: u8, journal: State<Journal>) -> AgiResult<()> {
    let result = run_menu(call, retries).await;
    // The cleanup runs on every path, hangup included.
    let outcome = match &result {
        Ok(choice) => choice.as_str(),
        Err(error) if error.is_hangup() => "hangup",
        Err(_) => "error",
    };
    journal.record(call.env().uniqueid().unwrap_or_default(), outcome);
    if call.set_variable("IVR_CHOICE", outcome).await.is_err() {
        tracing::debug!("the dialplan could not be told the choice");
    }
    result.map(drop)
}

async fn run_menu(call: &mut Call, retries: u8) -> AgiResult<Choice> {
    call.answer().await?;
    for _ in 0..retries.max(1) {
        let input = call.get_data("ivr/main-menu", DigitTimeout::After(KEY_TIMEOUT), Some(1)).await?;
        let notice = match input {
            DataInput::Complete(digits) | DataInput::TimedOut(digits) if !digits.is_empty() => {
                match Choice::from_key(digits.as_str()) {
                    Some(choice) => return Ok(choice),
                    None => "ivr/invalid-option",
                }
            }
            DataInput::Complete(_) | DataInput::TimedOut(_) => "ivr/no-input",
            // The prompt is missing or the caller left. Asterisk writes `HANGUP` after
            // the failed reply, so one more command tells which.
            DataInput::Failed => {
                call.noop().await?;
                return if call.is_hung_up() { Err(AgiError::HungUp) } else { Ok(Choice::Operator) };
            }
        };
        call.stream_file(notice, EscapeDigits::NONE).await?;
    }
    Ok(Choice::Operator)
}

pub(crate) fn app(journal: Journal) -> Router {
    routes![main_menu].with_state(journal)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4573".to_owned());
    let journal = Journal::default();
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Server::bind(&addr).await?.serve_with_shutdown(app(journal.clone()), stop).await?;
    for (uniqueid, outcome) in journal.entries() {
        println!("{uniqueid}\t{outcome}");
    }
    Ok(())
}
