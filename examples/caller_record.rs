//! The routes of the dialplan lines in the README:
//!
//! ```text
//! exten => 5551212,1,AGI(agi://127.0.0.1/GetCallerRecord?extension=${EXTEN})
//! exten => 5551213,1,AGI(agi://127.0.0.1/CallerWantsCustomerService?lang=${CHANNEL(language)})
//! ```
//!
//! `GetCallerRecord` looks the extension up in a small customer store and hands the
//! record to the dialplan in channel variables; `CallerWantsCustomerService` picks a
//! queue from the caller's number and language.
//!
//! Run it with `cargo run --example caller-record` (listens on 127.0.0.1:4573; pass
//! another address as the first argument, e.g. `0.0.0.0:4573`, to serve a real PBX).

use std::collections::HashMap;
use std::sync::Arc;

use agi_runtime::prelude::*;

/// One record of the customer store.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) name: &'static str,
    pub(crate) tier: &'static str,
    pub(crate) phone: &'static str,
}

/// The shared state: customers by extension, cheap to clone for each call.
#[derive(Debug, Clone)]
pub(crate) struct Customers(Arc<HashMap<u32, Customer>>);

impl Customers {
    pub(crate) fn sample() -> Customers {
        let records = [
            (5551212, Customer { name: "Alice Martin", tier: "gold", phone: "5550100" }),
            (5551234, Customer { name: "Bob \"the builder\" Stone", tier: "standard", phone: "5550101" }),
        ];
        Customers(Arc::new(records.into_iter().collect()))
    }

    fn by_extension(&self, extension: u32) -> Option<&Customer> {
        self.0.get(&extension)
    }

    fn by_phone(&self, phone: &str) -> Option<&Customer> {
        self.0.values().find(|c| c.phone == phone)
    }
}

/// `GetCallerRecord?extension=${EXTEN}`: the customer record, as channel variables.
#[agi_route("/GetCallerRecord")]
async fn get_caller_record(call: &mut Call, extension: u32, customers: State<Customers>) -> AgiResult<()> {
    call.answer().await?;
    match customers.by_extension(extension) {
        Some(customer) => {
            call.set_variable("CUSTOMER_FOUND", "1").await?;
            call.set_variable("CUSTOMER_NAME", customer.name).await?;
            call.set_variable("CUSTOMER_TIER", customer.tier).await
        }
        None => call.set_variable("CUSTOMER_FOUND", "0").await,
    }
}

/// `CallerWantsCustomerService?lang=xx`: the queue for this caller.
#[agi_route("/CallerWantsCustomerService")]
async fn customer_service(
    call: &mut Call,
    lang: Option<String>,
    caller: CallerId,
    customers: State<Customers>,
) -> AgiResult<()> {
    let customer = caller.number.as_deref().and_then(|number| customers.by_phone(number));
    let tier = customer.map_or("standard", |c| c.tier);
    let language = lang.as_deref().unwrap_or("en");
    call.set_variable("SERVICE_QUEUE", &format!("support-{tier}-{language}")).await
}

/// The route table with its state, as the server serves it (and the tests call it).
pub(crate) fn app() -> Router {
    routes![get_caller_record, customer_service].with_state(Customers::sample())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4573".to_owned());
    let server = Server::bind(&addr).await?;
    // Ctrl-C stops it; the graceful-shutdown example also handles SIGTERM.
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = server.serve_with_shutdown(app(), ctrl_c).await?;
    tracing::info!(cut = report.cut, "stopped");
    Ok(())
}
