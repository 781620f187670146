//! What the state file keeps besides the bot's own rows: the sandbox's cases, so a restarted
//! sandbox still has them, and the schema version `case-bot doctor` shows.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Answer, Request, SqliteStore, schema, unexpected};
use crate::error::Error;
use crate::store::unix_ms;

impl SqliteStore {
    /// The sandbox's state as it was last saved here, if ever.
    ///
    /// # Errors
    /// [`Error::Store`] if the file cannot be read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = std::env::temp_dir().join(format!("casebot-doc-sb-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let store = case_bot_core::SqliteStore::open(dir.join("state.db")).unwrap();
    /// assert_eq!(store.sandbox_state().await.unwrap(), None);
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub async fn sandbox_state(&self) -> Result<Option<String>, Error> {
        match self
            .call("sandbox state", |conn| {
                conn.query_row("SELECT state FROM sandbox WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .optional()
                .map(Answer::Link)
            })
            .await?
        {
            Answer::Link(state) => Ok(state),
            other => Err(unexpected("sandbox state", &other)),
        }
    }

    /// A saver for [`Sandbox::with_saved`](support_commands::Sandbox::with_saved) that keeps
    /// the sandbox's state in this file. It queues the write without waiting: the database
    /// thread commits in order, so the state is in the file before any later call of the bot
    /// (the audit row or the case link of the command that changed it) is answered.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = std::env::temp_dir().join(format!("casebot-doc-sv-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let store = case_bot_core::SqliteStore::open(dir.join("state.db")).unwrap();
    /// let saver = store.sandbox_saver();
    /// saver(r#"{"cases":[]}"#.to_owned()).unwrap();
    /// assert_eq!(store.sandbox_state().await.unwrap().as_deref(), Some(r#"{"cases":[]}"#));
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    #[must_use]
    pub fn sandbox_saver(&self) -> support_commands::SandboxSaver {
        let requests = self.requests.clone();
        Arc::new(move |state: String| {
            let (reply, _unheard) = oneshot::channel();
            let statement = move |conn: &rusqlite::Connection| {
                conn.execute(
                    "INSERT INTO sandbox (id, state, saved_at_ms) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state, saved_at_ms = excluded.saved_at_ms",
                    params![state, unix_ms()],
                )
                .inspect_err(|err| tracing::error!(error = %err, "sandbox state not saved"))
                .map(|_| Answer::Done)
            };
            requests
                .send(Request::Run {
                    what: "sandbox state",
                    statement: Box::new(statement),
                    reply,
                })
                .map_err(|_| "the database thread has stopped".to_owned())
        })
    }

    /// The file's schema version (`PRAGMA user_version`), which this version of the bot
    /// writes when it opens the file.
    ///
    /// # Errors
    /// [`Error::Store`] if the file cannot be read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = std::env::temp_dir().join(format!("casebot-doc-sc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let store = case_bot_core::SqliteStore::open(dir.join("state.db")).unwrap();
    /// assert_eq!(store.schema_version().await.unwrap(), case_bot_core::SqliteStore::SCHEMA_VERSION);
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub async fn schema_version(&self) -> Result<i64, Error> {
        match self
            .call("schema version", |conn| {
                conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
                    .map(|v| Answer::Count(usize::try_from(v).unwrap_or(0)))
            })
            .await?
        {
            Answer::Count(version) => Ok(i64::try_from(version).unwrap_or(i64::MAX)),
            other => Err(unexpected("schema version", &other)),
        }
    }

    /// The schema version this build writes.
    ///
    /// ```
    /// assert!(case_bot_core::SqliteStore::SCHEMA_VERSION >= 1);
    /// ```
    pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;
}

/// What [`SqliteStore::inspect`] found at a state file's path.
///
/// ```
/// let found = case_bot_core::StateFile { exists: false, schema_version: None };
/// assert!(!found.exists);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct StateFile {
    /// Whether the file exists (`case-bot serve` creates it otherwise).
    pub exists: bool,
    /// Its schema version (`PRAGMA user_version`), when it exists.
    pub schema_version: Option<i64>,
}

impl SqliteStore {
    /// Checks the state file at `path` without changing it and without disturbing a bot that
    /// has it open: an existing file must be SQLite, undamaged and writable (a write
    /// transaction is begun and rolled back); a missing one must be creatable (a scratch file
    /// is made and removed beside it).
    ///
    /// # Errors
    /// [`Error::Store`] saying what is wrong.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("casebot-doc-in-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let found = case_bot_core::SqliteStore::inspect(dir.join("new.db")).unwrap();
    /// assert!(!found.exists);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn inspect(path: impl AsRef<std::path::Path>) -> Result<StateFile, Error> {
        let path = path.as_ref();
        if !path.exists() {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
                _ => std::path::PathBuf::from("."),
            };
            let scratch = dir.join(format!(".casebot-doctor-{}", std::process::id()));
            std::fs::write(&scratch, b"").map_err(|e| {
                Error::store(
                    "state file",
                    format!("{} is not writable: {e}", dir.display()),
                )
            })?;
            let _ = std::fs::remove_file(&scratch);
            return Ok(StateFile {
                exists: false,
                schema_version: None,
            });
        }
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::store("state file", e))?;
        let checked = (|| {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
            let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
            Ok::<_, rusqlite::Error>((check, version))
        })();
        let (check, version) = checked.map_err(|e| Error::store("state file", e))?;
        if check != "ok" {
            return Err(Error::store(
                "state file",
                format!("the file is damaged: {check}"),
            ));
        }
        Ok(StateFile {
            exists: true,
            schema_version: Some(version),
        })
    }
}
