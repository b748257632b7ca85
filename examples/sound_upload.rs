//! Moving audio with the sound-file transfer module (`res_agi-audiotx`):
//!
//! ```text
//! exten => 800,1,AGI(agi://127.0.0.1/announce?name=holiday-hours)
//! exten => 801,1,AGI(agi://127.0.0.1/voicemail-backup)
//! ```
//!
//! `announce` makes sure the prompt exists on the Asterisk host (uploading it from the
//! server's prompt library when it does not) and plays it. `voicemail-backup` records
//! the caller, fetches the recording from the Asterisk host and keeps it. Without the
//! module, Asterisk answers `510` and the handlers fall back gracefully.
//!
//! Run it with `cargo run --example sound-upload` (127.0.0.1:4573 unless an address is given).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agi_runtime::prelude::*;
use agi_runtime::{AgiError, RecordOptions, Recording, TransferError};

/// Recordings fetched from the Asterisk host, by name.
type Backups = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Prompts this server can provide, by name (GSM audio, here made-up bytes).
#[derive(Debug, Clone)]
pub(crate) struct Library {
    prompts: Arc<HashMap<String, Vec<u8>>>,
    backups: Backups,
}

impl Library {
    pub(crate) fn sample() -> Library {
        let holiday: Vec<u8> = (0..=255u8).cycle().take(3300).collect();
        Library { prompts: Arc::new(HashMap::from([("holiday-hours".to_owned(), holiday)])), backups: Arc::default() }
    }

    pub(crate) fn prompt(&self, name: &str) -> Option<&[u8]> {
        self.prompts.get(name).map(Vec::as_slice)
    }

    pub(crate) fn backups(&self) -> Vec<(String, Vec<u8>)> {
        self.backups.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

#[agi_route("/announce")]
async fn announce(call: &mut Call, name: String, library: State<Library>) -> AgiResult<()> {
    call.answer().await?;
    let remote = format!("custom/{name}.gsm");
    let present = match call.sound_file_exists(remote.as_str()).await {
        Ok(present) => present,
        Err(AgiError::Transfer(TransferError::ModuleNotLoaded)) => {
            // Without the module, only what is already on the host can play.
            tracing::warn!("the sound-file transfer module is not loaded on this Asterisk");
            true
        }
        Err(error) => return Err(error),
    };
    if !present {
        let Some(audio) = library.prompt(&name) else {
            return call.set_variable("ANNOUNCE", "unknown-prompt").await;
        };
        call.put_sound_file(remote.as_str(), audio).await?;
    }
    call.stream_file(format!("custom/{name}").as_str(), EscapeDigits::NONE).await?;
    call.set_variable("ANNOUNCE", "played").await
}

#[agi_route("/voicemail-backup")]
async fn voicemail_backup(call: &mut Call, library: State<Library>) -> AgiResult<()> {
    call.answer().await?;
    let uniqueid = call.env().uniqueid().unwrap_or("unknown").replace('.', "-");
    let path = format!("/var/spool/asterisk/backup/{uniqueid}");
    let options = RecordOptions::new().max_duration(Duration::from_secs(60)).beep();
    match call.record_file(path.as_str(), "gsm", EscapeDigits::ANY, options).await? {
        Recording::Interrupted { .. } | Recording::Completed { .. } => {}
        _ => return call.set_variable("BACKUP", "not-recorded").await,
    }
    let audio = call.get_sound_file(format!("{path}.gsm").as_str()).await?;
    let size = audio.len();
    if let Ok(mut backups) = library.backups.lock() {
        backups.push((uniqueid, audio));
    }
    call.set_variable("BACKUP", &format!("{size} bytes")).await
}

pub(crate) fn app(library: Library) -> Router {
    routes![announce, voicemail_backup].with_state(library)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4573".to_owned());
    let library = Library::sample();
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Server::bind(&addr).await?.serve_with_shutdown(app(library.clone()), stop).await?;
    for (name, audio) in library.backups() {
        println!("backed up {name}: {} bytes", audio.len());
    }
    Ok(())
}
