//! A throwaway `redis-server` for the interop suites and the Redis bench.
//!
//! [`RedisServer::start`] runs `redis-server` on a free port on 127.0.0.1, without persistence
//! (`--save "" --appendonly no`), and waits until it answers `PING`. The binary is
//! `$REDIS_SERVER` if set, else `redis-server` on `PATH`; without one, starting panics with a
//! message saying how to install it (`apt-get install redis-server`): tests using it fail, they
//! never skip. The server is killed (SIGKILL) when the [`RedisServer`] is dropped.
//!
//! ```no_run
//! use fastllm_tests::RedisServer;
//!
//! let mut server = RedisServer::start();
//! let url = server.url(); // redis://127.0.0.1:<port>/0
//! server.kill(); // Redis goes away...
//! server.restart(); // ...and comes back on the same port, empty.
//! # drop(url);
//! ```
//!
//! Servers from Redis 7 on run with `--enable-debug-command local`, so tests can use
//! `DEBUG SLEEP` to hang the server.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first `PING`.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// The `redis-server` binary to run: `$REDIS_SERVER` if set, else `redis-server` on `PATH`.
///
/// # Panics
///
/// If there is none, with a message naming `apt-get install redis-server`.
pub fn redis_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "REDIS_SERVER={} does not exist; point it at a redis-server binary or unset it \
             (install one with `apt-get install redis-server`)",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found: these tests need a real Redis. Install it with \
                 `apt-get install redis-server` (Debian/Ubuntu), or set REDIS_SERVER to the \
                 path of a redis-server binary"
            )
        })
}

/// The major version the binary reports (`Redis server v=7.0.15 ...`).
fn major_version(binary: &Path) -> u32 {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", binary.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("v=")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|major| major.parse().ok())
        .unwrap_or_else(|| panic!("unexpected `redis-server --version` output: {text}"))
}

/// A port on 127.0.0.1 nothing listens on right now (bound and released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A `redis-server` child process on 127.0.0.1, killed on drop. No persistence.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    enable_debug_command: bool,
    port: u16,
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If there is no `redis-server` binary (see [`redis_server_binary`]), or it does not
    /// start within [`STARTUP_LIMIT`] (after a few tries on other ports).
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// As [`start`](Self::start), with `--requirepass password`; [`url`](Self::url) then
    /// carries the password.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_inner(Some(password))
    }

    fn start_inner(password: Option<&str>) -> Self {
        let binary = redis_server_binary();
        let enable_debug_command = major_version(&binary) >= 7;
        // Another process may grab the port between `free_port` and the server's bind: retry.
        let mut last_error = String::new();
        for _ in 0..5 {
            let mut server = Self {
                binary: binary.clone(),
                enable_debug_command,
                port: free_port(),
                password: password.map(str::to_owned),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// Starts the server process on `self.port` and waits until it answers PING.
    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "server already running");
        let mut command = Command::new(&self.binary);
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.enable_debug_command {
            // `DEBUG SLEEP` (to hang a server) is off by default since Redis 7.
            command.args(["--enable-debug-command", "local"]);
        }
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", self.binary.display()))?;
        self.child = Some(child);

        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited at startup ({status})",
                    self.port
                ));
            }
            if self.ping() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "redis-server on port {} did not answer PING within {STARTUP_LIMIT:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One blocking PING (with AUTH if needed) over a fresh socket.
    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let request = match &self.password {
            Some(password) => format!("AUTH {password}\r\nPING\r\n"),
            None => "PING\r\n".to_owned(),
        };
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if self.password.is_some() && (reader.read_line(&mut line).is_err() || line != "+OK\r\n") {
            return false;
        }
        line.clear();
        reader.read_line(&mut line).is_ok() && line == "+PONG\r\n"
    }

    /// Kills the server (SIGKILL) and reaps it; does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`kill`](Self::kill)), empty, and waits
    /// until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If the server is still running, or it does not come back within [`STARTUP_LIMIT`].
    pub fn restart(&mut self) {
        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart failed: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`, with the password if there is one.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `err` and its `source()`s, joined with `": "`, for assertions and messages.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
