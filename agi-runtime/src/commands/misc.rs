//! Everything else: logging, liveness, text and images, AsyncAGI.

use crate::call::Call;
use crate::commands::parse;
use crate::error::AgiResult;
use crate::wire::Arg;

impl Call {
    /// `NOOP`: does nothing; useful as a liveness probe. Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.noop().await?;
    /// # Ok(()) }
    /// ```
    pub fn noop(&mut self) -> impl Future<Output = AgiResult<()>> {
        self.typed("NOOP", true, &[], |reply| parse::expect("NOOP", reply, 0, None))
    }

    /// `VERBOSE message 1`: writes `message` to the Asterisk console and log at
    /// verbosity 1. Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.verbose("caller authenticated").await?;
    /// # Ok(()) }
    /// ```
    pub fn verbose(&mut self, message: &str) -> impl Future<Output = AgiResult<()>> {
        self.verbose_at(message, 1)
    }

    /// `VERBOSE message level`: writes `message` at a verbosity level (shown when the
    /// console's `core set verbose` is at least `level`). Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.verbose_at("Hello from FastAGI", 3).await?; // VERBOSE "Hello from FastAGI" 3
    /// # Ok(()) }
    /// ```
    pub fn verbose_at(&mut self, message: &str, level: u8) -> impl Future<Output = AgiResult<()>> {
        self.typed("VERBOSE", true, &[Arg::Text(message), Arg::Int(level.into())], |reply| {
            parse::expect("VERBOSE", reply, 1, None)
        })
    }

    /// `SEND TEXT text`: sends a text message to the channel, on channels that carry
    /// text (SIP MESSAGE, IAX2, …); on others it is silently dropped.
    ///
    /// [`AgiError::Failed`](crate::AgiError::Failed) if sending failed (`result=-1`).
    /// Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.send_text("Your code is 4711").await?;
    /// # Ok(()) }
    /// ```
    pub fn send_text(&mut self, text: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("SEND TEXT", false, &[Arg::Quoted(text)], |reply| parse::expect("SEND TEXT", reply, 0, Some(-1)))
    }

    /// `SEND IMAGE image`: sends an image (by name, from the images directory) to
    /// channels that display them; on others it is silently dropped.
    ///
    /// [`AgiError::Failed`](crate::AgiError::Failed) only if the channel hung up
    /// meanwhile (`result=-1`). Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.send_image("logo").await?;
    /// # Ok(()) }
    /// ```
    pub fn send_image(&mut self, image: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("SEND IMAGE", false, &[Arg::Text(image)], |reply| parse::expect("SEND IMAGE", reply, 0, Some(-1)))
    }

    /// `ASYNCAGI BREAK`: ends an AsyncAGI session and returns the channel to the
    /// dialplan. Over FastAGI it has no effect (Asterisk answers and carries on); it
    /// exists for completeness. Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.async_agi_break().await?;
    /// # Ok(()) }
    /// ```
    pub fn async_agi_break(&mut self) -> impl Future<Output = AgiResult<()>> {
        self.typed("ASYNCAGI BREAK", true, &[], |reply| parse::expect("ASYNCAGI BREAK", reply, 0, None))
    }
}
