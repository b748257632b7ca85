//! Variables and the Asterisk database (AstDB).

use crate::call::Call;
use crate::commands::parse;
use crate::error::{AgiError, AgiResult};
use crate::wire::{Arg, Response};

/// What `DATABASE DELTREE` did, with Asterisk's inverted result already turned around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TreeDeletion {
    /// At least one entry was deleted (Asterisk answers `result=0`).
    Deleted,
    /// Nothing was deleted: no entry matched, or the database failed (Asterisk answers
    /// `result=1` for both).
    NothingDeleted,
}

fn value(command: &str, reply: &Response<'_>) -> AgiResult<Option<String>> {
    match (reply.result_code(), reply.payload()) {
        (Some(1), Some(value)) => Ok(Some(value.to_owned())),
        (Some(0), _) => Ok(None),
        _ => Err(AgiError::unexpected(command, reply)),
    }
}

impl Call {
    /// `GET VARIABLE name`: a channel variable, or `None` if it is not set (an empty
    /// value is `Some("")`).
    ///
    /// A name ending in `)` calls a dialplan function: `LEN(abc)`, `CALLERID(num)`.
    /// Asterisk copies the value into a 1024-byte buffer, so **a value longer than 1023
    /// bytes comes back truncated**: use [`get_full_variable`](Call::get_full_variable)
    /// (`"${NAME}"`) for values that may be long. Works on a dead channel, so
    /// `DIALSTATUS` and the like can be read after a hangup.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if let Some(status) = call.get_variable("DIALSTATUS").await? {
    ///     call.verbose(&status).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_variable(&mut self, name: &str) -> impl Future<Output = AgiResult<Option<String>>> {
        self.typed("GET VARIABLE", true, &[Arg::Text(name)], |reply| value("GET VARIABLE", reply))
    }

    /// `GET FULL VARIABLE expression`: evaluates an expression with `${…}` variables,
    /// functions and `$[…]` arithmetic, as the dialplan would, with no length limit.
    ///
    /// An unset variable expands to nothing: the result is then `""`, not an error.
    /// The expression is evaluated, so **never pass caller-controlled text**: it could
    /// call any dialplan function (`${SHELL(…)}` where that module is loaded). Works on
    /// a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let caller = call.get_full_variable("${CALLERID(name)} <${CALLERID(num)}>").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_full_variable(&mut self, expression: &str) -> impl Future<Output = AgiResult<String>> {
        self.typed("GET FULL VARIABLE", true, &[Arg::Quoted(expression)], |reply| {
            value("GET FULL VARIABLE", reply)?.ok_or_else(|| AgiError::unexpected("GET FULL VARIABLE", reply))
        })
    }

    /// `GET FULL VARIABLE expression channel`: evaluates an expression on another
    /// channel, by its full name. `None` if no channel has that name. The same warning
    /// as for [`get_full_variable`](Call::get_full_variable) applies. Works on a dead
    /// channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let peer_status = call.get_full_variable_of("${DIALSTATUS}", "PJSIP/bob-00000012").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_full_variable_of(
        &mut self,
        expression: &str,
        channel: &str,
    ) -> impl Future<Output = AgiResult<Option<String>>> {
        self.typed("GET FULL VARIABLE", true, &[Arg::Quoted(expression), Arg::Text(channel)], |reply| {
            value("GET FULL VARIABLE", reply)
        })
    }

    /// `SET VARIABLE name value`: sets a channel variable (or writes a dialplan
    /// function: `CALLERID(name)`). Works on a dead channel.
    ///
    /// The value is quoted as needed; a value with LF, CR or NUL is refused with
    /// [`AgiError::Command`] before anything is sent.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_variable("CUSTOMER_TIER", "gold \"plus\"").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_variable(&mut self, name: &str, value: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("SET VARIABLE", true, &[Arg::Text(name), Arg::Text(value)], |reply| {
            parse::expect("SET VARIABLE", reply, 1, None)
        })
    }

    /// `DATABASE GET family key`: an AstDB value, or `None` if the key does not exist.
    /// No length limit. Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let forward_to = call.database_get("cfwd", "1001").await?;
    /// # Ok(()) }
    /// ```
    pub fn database_get(&mut self, family: &str, key: &str) -> impl Future<Output = AgiResult<Option<String>>> {
        self.typed("DATABASE GET", true, &[Arg::Text(family), Arg::Text(key)], |reply| value("DATABASE GET", reply))
    }

    /// `DATABASE PUT family key value`: stores an AstDB value.
    ///
    /// [`AgiError::Failed`] if the database refused it (`result=0`). Works on a dead
    /// channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.database_put("cfwd", "1001", "5551234").await?;
    /// # Ok(()) }
    /// ```
    pub fn database_put(&mut self, family: &str, key: &str, value: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("DATABASE PUT", true, &[Arg::Text(family), Arg::Text(key), Arg::Text(value)], |reply| {
            parse::expect("DATABASE PUT", reply, 1, Some(0))
        })
    }

    /// `DATABASE DEL family key`: deletes an AstDB key.
    ///
    /// `Ok(())` whether the key existed or not (Asterisk answers `result=1` for both);
    /// [`AgiError::Failed`] on a database error (`result=0`). Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.database_del("cfwd", "1001").await?;
    /// # Ok(()) }
    /// ```
    pub fn database_del(&mut self, family: &str, key: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("DATABASE DEL", true, &[Arg::Text(family), Arg::Text(key)], |reply| {
            parse::expect("DATABASE DEL", reply, 1, Some(0))
        })
    }

    /// `DATABASE DELTREE family [keytree]`: deletes a whole family, or the keys under
    /// `family/keytree`.
    ///
    /// **Asterisk's result is inverted** (since 1.8/10/11, 2012, and still in 23): it
    /// answers `result=0` when entries were deleted and `result=1` when nothing was,
    /// the opposite of its documentation. This method returns the real meaning:
    /// [`TreeDeletion::Deleted`] or [`TreeDeletion::NothingDeleted`] (which also covers
    /// a database error; Asterisk does not tell them apart). Works on a dead channel.
    ///
    /// ```
    /// use agi_runtime::TreeDeletion;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if call.database_deltree("session", Some("1001")).await? == TreeDeletion::NothingDeleted {
    ///     call.verbose("no session to clear").await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn database_deltree(&mut self, family: &str, keytree: Option<&str>) -> AgiResult<TreeDeletion> {
        let reply = match keytree {
            Some(tree) => self.execute("DATABASE DELTREE", true, &[Arg::Text(family), Arg::Text(tree)]).await?,
            None => self.execute("DATABASE DELTREE", true, &[Arg::Text(family)]).await?,
        };
        match reply.result_code() {
            Some(0) => Ok(TreeDeletion::Deleted),
            Some(1) => Ok(TreeDeletion::NothingDeleted),
            _ => Err(AgiError::unexpected("DATABASE DELTREE", &reply)),
        }
    }
}
