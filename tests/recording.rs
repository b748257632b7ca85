//! Recording: the server writes matching calls as transcript files, within its bounds,
//! and a recorded call replays byte for byte against the same handlers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agi_runtime::prelude::*;
use agi_runtime::testing::{CallSpec, FakeAsterisk, Replay, Transcript};
use agi_runtime::{CallRecording, ShutdownReport};
use tokio::sync::oneshot;

#[agi_route("/menu")]
async fn menu(call: &mut Call, lang: Option<String>) -> AgiResult<()> {
    call.answer().await?;
    if let Playback::Interrupted { digit, .. } = call.stream_file("menu", EscapeDigits::ANY).await? {
        call.set_variable("CHOICE", &digit.to_string()).await?;
    }
    call.set_variable("LANG", lang.as_deref().unwrap_or("en")).await
}

#[agi_route("/other")]
async fn other(call: &mut Call) -> AgiResult<()> {
    call.noop().await
}

fn app() -> Router {
    routes![menu, other]
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("agi-recording-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<_> = match std::fs::read_dir(&self.0) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Serves `app()` recording as `recording` says, places `calls`, shuts down (which
/// waits for the recordings to be written).
async fn serve_and_call(recording: CallRecording, calls: Vec<FakeAsterisk>) -> ShutdownReport {
    let server = Server::bind("127.0.0.1:0").await.unwrap().record_calls(recording);
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_with_shutdown(app(), async move {
        let _ = stopped.await;
    }));
    for fake in calls {
        fake.call(addr).await.unwrap();
    }
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap()
}

fn load(path: &Path) -> Transcript {
    Transcript::load(path).unwrap()
}

#[tokio::test]
async fn matching_calls_are_recorded_and_replay_byte_for_byte() {
    let dir = TempDir::new("replay");
    let calls = vec![
        FakeAsterisk::new(CallSpec::new("/menu?lang=fr").uniqueid("1700000000.1")).digits("4"),
        FakeAsterisk::new(CallSpec::new("/other").uniqueid("1700000000.2")),
        FakeAsterisk::new(CallSpec::new("/menu").uniqueid("1700000000.3")).hangup_during("STREAM FILE"),
    ];
    serve_and_call(CallRecording::new(&dir.0).path_prefix("/menu"), calls).await;

    let files = dir.files();
    assert_eq!(files.len(), 2, "only the /menu calls: {files:?}");
    let first = load(files.iter().find(|f| f.to_string_lossy().ends_with("-1700000000.1.json")).unwrap());
    assert_eq!(first.script, "menu?lang=fr");
    assert_eq!(first.env_var("agi_uniqueid"), Some("1700000000.1"));
    assert_eq!(
        first.commands().collect::<Vec<_>>(),
        [
            "ANSWER",
            "STREAM FILE menu \"0123456789*#\"",
            "SET VARIABLE CHOICE 4",
            "SET VARIABLE LANG fr",
            "SET VARIABLE FASTAGI_STATUS SUCCESS"
        ]
    );
    // Every command answered, the server closes at once: Asterisk's final `HANGUP` and
    // close come after, unread.
    let tail: Vec<&str> = first.events[first.events.len() - 2..].iter().map(|e| e.data.as_str()).collect();
    assert_eq!(tail, ["200 result=1\n", "(server closes socket)"]);

    // Both recordings drive the same handlers again, with the recorded replies.
    for file in &files {
        let replay = Replay::load(file).unwrap();
        assert_eq!(replay.hazard(), None);
        let report = replay.run(app()).await.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(report.commands_checked(), replay.commands().len());
    }

    // A changed handler is caught by the recording of the hung-up call.
    let hung_up = files.iter().find(|f| f.to_string_lossy().ends_with("-1700000000.3.json")).unwrap();
    let replay = Replay::load(hung_up).unwrap().timeout(Duration::from_secs(5));
    let error = replay.run(routes![other, menu_without_lang]).await.unwrap_err();
    assert!(error.to_string().contains("SET VARIABLE LANG en"), "{error}");
}

#[agi_route("/menu")]
async fn menu_without_lang(call: &mut Call) -> AgiResult<()> {
    call.answer().await?;
    call.stream_file("menu", EscapeDigits::ANY).await?;
    Ok(())
}

#[tokio::test]
async fn recording_is_bounded_in_files_and_bytes() {
    let dir = TempDir::new("bounds");
    let calls = (0..3).map(|_| FakeAsterisk::new(CallSpec::new("/menu"))).collect();
    // Room for the environment block and the first command or two, not for the call.
    let max = CallSpec::new("/menu").env_block().len() + 30;
    serve_and_call(CallRecording::new(&dir.0).max_files(2).max_call_bytes(max), calls).await;
    let files = dir.files();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        let transcript = load(&file);
        let last = transcript.events.last().unwrap();
        assert_eq!(last.data, format!("(recording cut: over {max} bytes)"));
        assert!(Replay::new(transcript).run(app()).await.is_err(), "a cut recording does not replay");
    }
}

#[tokio::test]
async fn an_unwritable_directory_does_not_disturb_calls() {
    let dir = TempDir::new("unwritable");
    std::fs::write(&dir.0, b"a file where the directory should be").unwrap();
    let calls = vec![FakeAsterisk::new(CallSpec::new("/menu")).digits("1")];
    let report = serve_and_call(CallRecording::new(dir.0.join("sub")), calls).await;
    assert_eq!(report.cut, 0);
    let _ = std::fs::remove_file(&dir.0);
}
