//! Test harness for the casebot workspace.
//!
//! [`MotoServer`] starts [moto](https://docs.getmoto.org)'s server on 127.0.0.1 with a port of
//! its own, waits until it answers, and kills it when dropped. The real aws-sdk-rust clients
//! reach it through the standard endpoint override ([`MotoServer::env`] for a child process,
//! `MotoServer::sdk_config` (feature `aws`) in-process), with retries off so an unimplemented call fails fast.
//!
//! moto comes from the repository's `.venv` (created by `scripts/test`), from the Python named
//! by `CASEBOT_PYTHON`, or from `python3` on `PATH`. If none has moto, starting fails with a
//! message that says how to install it: a test that needs moto never passes without it.
//!
//! ```no_run
//! let moto = casebot_testkit::MotoServer::start();
//! let status = std::process::Command::new("my-binary").envs(moto.env()).status();
//! # let _ = status;
//! ```

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A directory of its own under the system's temporary directory, removed with everything in
/// it when dropped, so test runs leave nothing behind.
///
/// ```
/// let dir = casebot_testkit::TempDir::new("doc");
/// std::fs::write(dir.path().join("state.db"), b"").unwrap();
/// let path = dir.path().to_owned();
/// drop(dir);
/// assert!(!path.exists());
/// ```
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `casebot-<name>-<pid>-<n>`; panics if it cannot (a test cannot go on without it).
    #[must_use]
    pub fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("casebot-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        if let Err(err) = std::fs::create_dir_all(&path) {
            panic!("cannot create {}: {err}", path.display());
        }
        Self(path)
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Captures every `tracing` event of the current thread at TRACE level, as text, for tests
/// that check what reaches the logs (for example that no secret does). Use it in a
/// current-thread runtime (`#[tokio::test]`'s default) so spawned tasks log here too.
///
/// ```
/// let logs = casebot_testkit::LogCapture::start();
/// tracing::info!(answer = 42, "hello");
/// assert!(logs.text().contains("hello") && logs.text().contains("answer=42"));
/// ```
#[derive(Debug)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Starts capturing on this thread until the value is dropped.
    ///
    /// ```
    /// let logs = casebot_testkit::LogCapture::start();
    /// # drop(logs);
    /// ```
    #[must_use]
    pub fn start() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Writer(Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // libtest runs tests on threads of one process. While only one dispatcher is
        // registered, tracing-core asks just the *calling* thread's dispatcher whether a new
        // callsite is interesting, so a test thread without a subscriber could cache "never"
        // for a callsite this capture wants. A second, permanent dispatcher turns that
        // shortcut off; the rebuild then re-asks every callsite already cached.
        static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        Self {
            buffer,
            _guard: guard,
        }
    }

    /// Everything logged so far.
    ///
    /// ```
    /// let logs = casebot_testkit::LogCapture::start();
    /// assert!(logs.text().is_empty());
    /// ```
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }
}

/// The moto version the project pins (see `tests/moto/requirements.txt`).
pub const MOTO_VERSION: &str = "5.2.1";

/// How long moto may take to answer after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How to install moto, for error messages.
const INSTALL_HINT: &str = "moto is not installed. Run `scripts/test` from the repository root \
(it creates .venv and installs the pinned moto[server]), or: python3 -m venv .venv && \
.venv/bin/pip install -r tests/moto/requirements.txt";

/// Why moto could not be started.
///
/// ```
/// let err = casebot_testkit::MotoError::NotInstalled { python: "python3".into() };
/// assert!(err.to_string().contains("scripts/test"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MotoError {
    /// No Python with moto was found.
    #[error("{INSTALL_HINT} (looked for moto in `{python}`)")]
    NotInstalled {
        /// The Python interpreter that was tried.
        python: String,
    },
    /// The process could not be spawned or did not answer in time.
    #[error("moto did not start on 127.0.0.1:{port}: {reason}\n--- moto log ---\n{log}")]
    Start {
        /// The port it was started on.
        port: u16,
        /// What went wrong.
        reason: String,
        /// The end of moto's log.
        log: String,
    },
    /// An I/O error while preparing the start.
    #[error("could not prepare moto: {0}")]
    Io(#[from] std::io::Error),
}

/// A moto server on 127.0.0.1, killed when dropped.
///
/// ```no_run
/// # #[tokio::main] async fn main() {
/// let moto = casebot_testkit::MotoServer::start();
/// let config = moto.sdk_config().await;
/// let client = aws_sdk_secretsmanager::Client::new(&config);
/// # let _ = client; }
/// ```
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl fmt::Debug for MotoServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MotoServer")
            .field("addr", &self.addr)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGKILL: moto takes over a second to exit on SIGTERM and holds no state worth saving.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The Python to run moto with: `CASEBOT_PYTHON`, else the repository's `.venv`, else `python3`.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("CASEBOT_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = workspace_root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head.ends_with(b"200")
}

/// A JSON string literal (quotes, backslashes and control characters escaped).
fn json_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl MotoServer {
    /// Starts moto, or panics with instructions (for tests: a missing moto is a failure,
    /// never a skip).
    ///
    /// # Panics
    /// If moto is not installed or does not start; the message says how to install it.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// println!("{}", moto.endpoint_url());
    /// ```
    #[must_use]
    #[allow(clippy::panic)]
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(err) => panic!("{err}"),
        }
    }

    /// Starts moto on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// # Errors
    /// [`MotoError::NotInstalled`] if the Python found has no moto, [`MotoError::Start`] if it
    /// did not answer within 20 s.
    ///
    /// ```no_run
    /// match casebot_testkit::MotoServer::try_start() {
    ///     Ok(moto) => println!("moto at {}", moto.endpoint_url()),
    ///     Err(err) => eprintln!("{err}"),
    /// }
    /// ```
    pub fn try_start() -> Result<Self, MotoError> {
        Self::try_start_with_python(python())
    }

    /// Like [`try_start`](Self::try_start), with an explicit Python interpreter.
    ///
    /// # Errors
    /// As [`try_start`](Self::try_start).
    ///
    /// ```
    /// let err = casebot_testkit::MotoServer::try_start_with_python("/bin/false").unwrap_err();
    /// assert!(matches!(err, casebot_testkit::MotoError::NotInstalled { .. }));
    /// ```
    pub fn try_start_with_python(python: impl AsRef<Path>) -> Result<Self, MotoError> {
        let python = python.as_ref();
        let has_moto = Command::new(python)
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_moto {
            return Err(MotoError::NotInstalled {
                python: python.display().to_string(),
            });
        }
        let launcher = workspace_root().join("tests/moto/launch.py");
        // A port taken between the probe and moto's bind is retried with another.
        let mut last = None;
        for _ in 0..3 {
            match Self::spawn(python, &launcher) {
                Ok(server) => return Ok(server),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| MotoError::Io(std::io::Error::other("no attempt made"))))
    }

    fn spawn(python: &Path, launcher: &Path) -> Result<Self, MotoError> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log =
            std::env::temp_dir().join(format!("casebot-moto-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(python)
            .arg(launcher)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()?;
        let mut server = Self { child, addr, log };
        let started = Instant::now();
        loop {
            if answers(addr) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(server.start_error(format!("moto exited with {status}")));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(server.start_error(format!("no answer within {READY_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn start_error(&self, reason: String) -> MotoError {
        MotoError::Start {
            port: self.addr.port(),
            reason,
            log: log_tail(&self.log),
        }
    }

    /// Everything moto has logged so far (one line per request, among others).
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// assert!(moto.log().contains("Running on"));
    /// ```
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// assert!(moto.endpoint_url().starts_with("http://127.0.0.1:"));
    /// ```
    #[must_use]
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment variables that point an AWS SDK in a child process at this server:
    /// `AWS_ENDPOINT_URL`, dummy credentials, `AWS_REGION=us-east-1`, `AWS_MAX_ATTEMPTS=1`, and
    /// no instance metadata look-ups.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// let vars = moto.env();
    /// assert!(vars.iter().any(|(k, v)| *k == "AWS_MAX_ATTEMPTS" && v == "1"));
    /// ```
    #[must_use]
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// Wipes every backend (`POST /moto-api/reset`).
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` if moto did not answer 200.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// moto.reset().unwrap();
    /// ```
    pub fn reset(&self) -> std::io::Result<()> {
        self.post_json("/moto-api/reset", "")
    }

    /// POSTs `body` to `path` and expects HTTP 200.
    fn post_json(&self, path: &str, body: &str) -> std::io::Result<()> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes())?;
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head)?;
        if head.ends_with(b"200") {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("moto did not answer 200 to POST {path}"),
            ))
        }
    }

    /// How many times each Support operation was called since the start or the last
    /// [`reset_support_calls`](Self::reset_support_calls), by operation name (`describe_cases`,
    /// `describe_communications`, …).
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` if moto's answer is not the counts.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// let calls = moto.support_calls().unwrap();
    /// assert_eq!(calls.get("describe_cases"), None);
    /// ```
    pub fn support_calls(&self) -> std::io::Result<std::collections::BTreeMap<String, u64>> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /casebot/support/calls HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        serde_json::from_str(body)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Sets every Support call count back to zero.
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` if moto did not answer 200.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// moto.reset_support_calls().unwrap();
    /// ```
    pub fn reset_support_calls(&self) -> std::io::Result<()> {
        self.post_json("/casebot/support/calls", "{}")
    }

    /// Plays AWS's side of a case: adds a communication from "Amazon Web Services" and sets
    /// the case to `pending-customer-action` (casebot's Support extension, see
    /// `tests/moto/casebot_support.py`).
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` if moto did not answer 200 (unknown case).
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// let _ = moto.engineer_reply("case-123456789012-muzh-2026-0123456789abcdef", "We are on it.");
    /// ```
    pub fn engineer_reply(&self, case_id: &str, body: &str) -> std::io::Result<()> {
        let payload = format!(
            "{{\"caseId\":{},\"body\":{}}}",
            json_string(case_id),
            json_string(body)
        );
        self.post_json("/casebot/support/engineer-reply", &payload)
    }

    /// Makes CreateCase answer `seconds` late (casebot's Support extension): a slow AWS. The
    /// server answers other requests meanwhile.
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` if moto did not answer 200.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// moto.delay_create_case(12.0).unwrap();
    /// ```
    pub fn delay_create_case(&self, seconds: f64) -> std::io::Result<()> {
        self.post_json(
            "/casebot/support/delay",
            &format!("{{\"operation\":\"CreateCase\",\"seconds\":{seconds}}}"),
        )
    }

    /// Plays the account's support plan and IAM policy: `plan` `"basic"` makes every Support
    /// operation answer `SubscriptionRequiredException`; the operations in `deny` (such as
    /// `"CreateCase"`) answer `AccessDeniedException`. `("business", &[])` is the default.
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` if moto did not answer 200.
    ///
    /// ```no_run
    /// let moto = casebot_testkit::MotoServer::start();
    /// moto.set_account("business", &["ResolveCase"]).unwrap();
    /// ```
    pub fn set_account(&self, plan: &str, deny: &[&str]) -> std::io::Result<()> {
        let deny: Vec<String> = deny.iter().map(|op| format!("\"{op}\"")).collect();
        self.post_json(
            "/casebot/support/account",
            &format!("{{\"plan\":\"{plan}\",\"deny\":[{}]}}", deny.join(",")),
        )
    }

    /// An `SdkConfig` for this server: its endpoint, region us-east-1, dummy credentials and
    /// retries off (one attempt).
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let moto = casebot_testkit::MotoServer::start();
    /// let config = moto.sdk_config().await;
    /// assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
    /// # }
    /// ```
    #[cfg(feature = "aws")]
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint_url())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .retry_config(RetryConfig::disabled())
            .load()
            .await
    }
}
