//! Commands every session needs.

use crate::call::Call;
use crate::commands::types::{Digit, EscapeDigits, Playback};
use crate::error::{AgiError, AgiResult};
use crate::wire::Arg;

impl Call {
    /// `ANSWER`: answers the channel (nothing happens if it is already up).
    ///
    /// Fails with [`AgiError::UnexpectedReply`] on `result=-1`; needs a live channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.answer().await?;
    /// # Ok(()) }
    /// ```
    pub async fn answer(&mut self) -> AgiResult<()> {
        let reply = self.execute("ANSWER", false, &[]).await?;
        match reply.result_code() {
            Some(0) => Ok(()),
            _ => Err(AgiError::unexpected("ANSWER", &reply)),
        }
    }

    /// `HANGUP`: hangs up this channel. Asterisk then sends `HANGUP`, and the call
    /// continues in dead mode (dead-channel commands still work).
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.hangup().await?;
    /// assert!(call.set_variable("DONE", "1").await.is_ok());
    /// # Ok(()) }
    /// ```
    pub async fn hangup(&mut self) -> AgiResult<()> {
        let reply = self.execute("HANGUP", false, &[]).await?;
        match reply.result_code() {
            Some(1) => Ok(()),
            _ => Err(AgiError::unexpected("HANGUP", &reply)),
        }
    }

    /// `NOOP`: does nothing; works on a dead channel. Useful as a liveness probe.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.noop().await?;
    /// # Ok(()) }
    /// ```
    pub async fn noop(&mut self) -> AgiResult<()> {
        self.execute("NOOP", true, &[]).await.map(drop)
    }

    /// `VERBOSE message 1`: writes to the Asterisk console at verbosity 1; works on a
    /// dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.verbose("caller authenticated").await?;
    /// # Ok(()) }
    /// ```
    pub async fn verbose(&mut self, message: &str) -> AgiResult<()> {
        self.execute("VERBOSE", true, &[Arg::Text(message), Arg::Int(1)]).await.map(drop)
    }

    /// `GET VARIABLE name`: a channel variable, or `None` if it is not set; works on a
    /// dead channel.
    ///
    /// Asterisk truncates the value to 1023 bytes: use `GET FULL VARIABLE` for long
    /// values. A name ending in `)` calls a dialplan function (`LEN(abc)`).
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if let Some(status) = call.get_variable("DIALSTATUS").await? {
    ///     call.verbose(&status).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_variable(&mut self, name: &str) -> AgiResult<Option<String>> {
        let reply = self.execute("GET VARIABLE", true, &[Arg::Text(name)]).await?;
        match (reply.result_code(), reply.payload()) {
            (Some(1), Some(value)) => Ok(Some(value.to_owned())),
            (Some(0), _) => Ok(None),
            _ => Err(AgiError::unexpected("GET VARIABLE", &reply)),
        }
    }

    /// `SET VARIABLE name value`: sets a channel variable; works on a dead channel.
    ///
    /// The value is quoted as needed; a value with LF, CR or NUL is refused with
    /// [`AgiError::Command`] before anything is sent.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_variable("CUSTOMER_TIER", "gold \"plus\"").await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_variable(&mut self, name: &str, value: &str) -> AgiResult<()> {
        let reply = self.execute("SET VARIABLE", true, &[Arg::Text(name), Arg::Text(value)]).await?;
        match reply.result_code() {
            Some(1) => Ok(()),
            _ => Err(AgiError::unexpected("SET VARIABLE", &reply)),
        }
    }

    /// `STREAM FILE file escape_digits`: plays a sound file (name without extension).
    ///
    /// ```
    /// use agi_runtime::{EscapeDigits, Playback};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// match call.stream_file("welcome", EscapeDigits::ANY).await? {
    ///     Playback::Interrupted { digit, .. } => call.verbose(&format!("pressed {digit}")).await?,
    ///     Playback::Completed { .. } => {}
    ///     Playback::Failed { .. } => call.verbose("prompt missing").await?,
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stream_file(&mut self, file: &str, escape: EscapeDigits) -> AgiResult<Playback> {
        let mut digits = [0; 16];
        let escape = escape.render(&mut digits);
        let reply = self.execute("STREAM FILE", false, &[Arg::Text(file), Arg::Quoted(escape)]).await?;
        let endpos = reply.attribute("endpos").and_then(|p| p.parse().ok()).unwrap_or(0);
        match reply.result_code() {
            Some(0) => Ok(Playback::Completed { endpos }),
            Some(-1) => Ok(Playback::Failed { endpos }),
            Some(code) => match Digit::from_ascii_code(code) {
                Some(digit) => Ok(Playback::Interrupted { digit, endpos }),
                None => Err(AgiError::unexpected("STREAM FILE", &reply)),
            },
            None => Err(AgiError::unexpected("STREAM FILE", &reply)),
        }
    }
}
