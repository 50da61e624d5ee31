//! The Redis backend: [`RedisPool`], its [`RedisManager`], and the pooled [`RedisConnection`]
//! that puts the command timeout on every request.
//!
//! The driver types a caller needs (`cmd`, `pipe`, `Script`, `AsyncCommands`, ...) are
//! re-exported here, so code using this module builds against the same `redis` version.
//!
//! # Examples
//!
//! ```no_run
//! use fastllm_connpool::PoolConfig;
//! use fastllm_connpool::redis::{RedisPool, Script, cmd};
//!
//! # #[tokio::main]
//! # async fn main() -> fastllm_connpool::Result<()> {
//! let pool = RedisPool::from_url("redis://127.0.0.1:6379/0", PoolConfig::default())?;
//! let mut conn = pool.get().await?;
//!
//! conn.query::<()>(cmd("SET").arg("greeting").arg("hello")).await?;
//! let greeting: String = conn.query(cmd("GET").arg("greeting")).await?;
//! assert_eq!(greeting, "hello");
//!
//! let incr_by = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
//! let total: i64 = conn.invoke_script(incr_by.key("hits").arg(5)).await?;
//! assert!(total >= 5);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionLike;
use ::redis::{AsyncConnectionConfig, RedisFuture, RedisResult};

use crate::config::PoolConfig;
use crate::error::{Error, Operation, Result};
use crate::pool::{Object, Pool};
use crate::url::redact_url;
use crate::{Manager, ObjectMetrics, RecycleError, RecycleResult};

pub use ::redis::aio::MultiplexedConnection;
pub use ::redis::{
    AsyncCommands, Client, Cmd, FromRedisValue, Pipeline, RedisError, Script, ScriptInvocation,
    ToRedisArgs, Value, cmd, pipe,
};

/// A pool of Redis connections: [`Pool`] over [`RedisManager`]. Build it with
/// [`RedisPool::from_url`].
pub type RedisPool = Pool<RedisManager>;

/// A connection checked out of a [`RedisPool`]; derefs to [`RedisConnection`].
pub type PooledRedisConnection = Object<RedisManager>;

/// Opens and health-checks Redis connections for a [`Pool`].
///
/// - `create` connects to the URL (TCP, TLS if `rediss://`, `AUTH`, `SELECT`) within
///   [`PoolConfig::connect_timeout`]; failure is [`Error::Unavailable`] with the URL, password
///   redacted.
/// - `recycle` drops a connection that saw an I/O error or a timeout, and with
///   [`PoolConfig::recycle_check`] sends `PING` within [`PoolConfig::command_timeout`].
pub struct RedisManager {
    client: Client,
    url: Arc<str>,
    connect_timeout: Duration,
    command_timeout: Duration,
    recycle_check: bool,
}

impl fmt::Debug for RedisManager {
    // Hand-written: the driver's `Client` debug output would include the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisManager")
            .field("url", &self.url)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("recycle_check", &self.recycle_check)
            .finish_non_exhaustive()
    }
}

impl RedisManager {
    /// A manager for the Redis at `url` (`redis://[user][:password@]host[:port][/db]`,
    /// `rediss://...`, or `redis+unix:///path`), using `config`'s timeouts and recycle check.
    /// It does not connect yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `config` fails [`PoolConfig::validate`];
    /// [`Error::InvalidUrl`] when the URL does not parse.
    pub fn new(url: &str, config: &PoolConfig) -> Result<Self> {
        config.validate()?;
        let redacted: Arc<str> = redact_url(url).into();
        let client = Client::open(url).map_err(|source| Error::InvalidUrl {
            url: redacted.to_string(),
            source,
        })?;
        Ok(Self {
            client,
            url: redacted,
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            recycle_check: config.recycle_check,
        })
    }

    /// The URL this manager connects to, password redacted.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Manager for RedisManager {
    type Type = RedisConnection;
    type Error = Error;

    async fn create(&self) -> Result<RedisConnection> {
        // The driver's own response timeout is off: `RedisConnection` applies the command
        // timeout itself, so that it can report `Error::Timeout` and mark the connection.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None);
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|source| Error::Unavailable {
                url: self.url.to_string(),
                source,
            })?;
        Ok(RedisConnection {
            conn,
            url: Arc::clone(&self.url),
            command_timeout: self.command_timeout,
            broken: false,
        })
    }

    async fn recycle(&self, conn: &mut RedisConnection, _: &ObjectMetrics) -> RecycleResult<Error> {
        if conn.broken {
            return Err(RecycleError::message(
                "connection failed earlier (I/O error or timeout)",
            ));
        }
        if self.recycle_check {
            let reply: String = conn.query(&::redis::cmd("PING")).await?;
            if reply != "PONG" {
                return Err(RecycleError::message(format!(
                    "unexpected PING reply {reply:?}"
                )));
            }
        }
        Ok(())
    }
}

impl Pool<RedisManager> {
    /// A Redis pool for `url` (see [`RedisManager::new`] for the forms). No connection is
    /// opened until the first [`get`](Pool::get), so this works while Redis is still down.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `config` fails [`PoolConfig::validate`];
    /// [`Error::InvalidUrl`] when the URL does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use fastllm_connpool::{Error, PoolConfig};
    /// use fastllm_connpool::redis::RedisPool;
    ///
    /// let pool = RedisPool::from_url("redis://:s3cr3t@127.0.0.1:6379/0", PoolConfig::default())?;
    /// assert_eq!(pool.manager().url(), "redis://:***@127.0.0.1:6379/0");
    ///
    /// let bad = RedisPool::from_url("http://:s3cr3t@example", PoolConfig::default());
    /// let Err(err @ Error::InvalidUrl { .. }) = bad else { panic!("expected InvalidUrl") };
    /// assert!(!err.to_string().contains("s3cr3t"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_url(url: &str, config: PoolConfig) -> Result<Self> {
        let manager = RedisManager::new(url, &config)?;
        Pool::new(manager, config)
    }
}

/// A pooled Redis connection that bounds every request by the command timeout.
///
/// Use the typed methods ([`query`](Self::query), [`query_pipeline`](Self::query_pipeline),
/// [`invoke_script`](Self::invoke_script)) to get this crate's [`Error`]: a hung Redis gives
/// [`Error::Timeout`], a dropped connection [`Error::Unavailable`]. The connection also
/// implements the driver's `ConnectionLike`, so [`AsyncCommands`] and `query_async` work on it
/// with the same timeout (reported as a driver `RedisError` whose `is_timeout()` is true).
///
/// A request that times out or fails with an I/O error marks the connection broken, and the
/// pool drops it when it is returned instead of handing it out again.
pub struct RedisConnection {
    conn: MultiplexedConnection,
    url: Arc<str>,
    command_timeout: Duration,
    broken: bool,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("url", &self.url)
            .field("command_timeout", &self.command_timeout)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Runs one command and converts the reply to `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] ([`Operation::Command`]) when no reply came within the command
    /// timeout; [`Error::Unavailable`] when the connection failed (I/O); [`Error::Redis`] when
    /// Redis answered with an error or the reply does not convert to `T`.
    pub async fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> Result<T> {
        let outcome = tokio::time::timeout(self.command_timeout, cmd.query_async(&mut self.conn));
        let outcome = outcome.await;
        self.settle(outcome)
    }

    /// Runs a pipeline (or a `MULTI`/`EXEC` transaction built with
    /// [`Pipeline::atomic`]) and converts the replies to `T`.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query); the timeout covers the whole pipeline.
    pub async fn query_pipeline<T: FromRedisValue>(&mut self, pipeline: &Pipeline) -> Result<T> {
        let outcome =
            tokio::time::timeout(self.command_timeout, pipeline.query_async(&mut self.conn));
        let outcome = outcome.await;
        self.settle(outcome)
    }

    /// Runs a Lua script (`EVALSHA`, loading it first if Redis does not have it cached) and
    /// converts the reply to `T`.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query); the timeout covers the whole invocation, load included.
    pub async fn invoke_script<T: FromRedisValue>(
        &mut self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T> {
        let outcome = tokio::time::timeout(
            self.command_timeout,
            invocation.invoke_async(&mut self.conn),
        );
        let outcome = outcome.await;
        self.settle(outcome)
    }

    /// The limit each request on this connection gets.
    #[must_use]
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// Whether a request on this connection timed out or failed with an I/O error; a broken
    /// connection is dropped, not reused, when it goes back to the pool.
    #[must_use]
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection broken, so the pool drops it when it is returned (for example
    /// after a `SUBSCRIBE` or `CLIENT REPLY OFF` left it in a state others should not inherit).
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// The URL of the Redis this connection talks to, password redacted.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The driver's connection, for what the methods above do not cover.
    ///
    /// Requests sent through it get **no** command timeout and do not mark this connection
    /// broken; wrap them in [`query_with_timeout`] and call [`mark_broken`](Self::mark_broken)
    /// on I/O errors.
    pub fn driver_connection(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }

    fn settle<T>(
        &mut self,
        outcome: std::result::Result<RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) if breaks_connection(&source) => {
                self.broken = true;
                Err(Error::Unavailable {
                    url: self.url.to_string(),
                    source,
                })
            }
            Ok(Err(source)) => Err(Error::Redis(source)),
            Err(_elapsed) => {
                self.broken = true;
                Err(Error::Timeout {
                    operation: Operation::Command,
                    after: self.command_timeout,
                })
            }
        }
    }

    fn settle_driver<T>(
        &mut self,
        outcome: std::result::Result<RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> RedisResult<T> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                if breaks_connection(&err) {
                    self.broken = true;
                }
                Err(err)
            }
            Err(_elapsed) => {
                self.broken = true;
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis command timed out after {:?}", self.command_timeout),
                )
                .into())
            }
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let outcome =
                tokio::time::timeout(self.command_timeout, self.conn.req_packed_command(cmd)).await;
            self.settle_driver(outcome)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let outcome = tokio::time::timeout(
                self.command_timeout,
                self.conn.req_packed_commands(cmd, offset, count),
            )
            .await;
            self.settle_driver(outcome)
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// Runs any driver request (command, pipeline, script, `AsyncCommands` call) with a time limit,
/// mapping the outcome to this crate's [`Error`].
///
/// For requests on a plain driver connection; [`RedisConnection`]'s methods already do this.
///
/// # Errors
///
/// [`Error::Timeout`] ([`Operation::Command`]) when `request` did not finish within `after`;
/// otherwise the driver's error as [`Error::Redis`].
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use fastllm_connpool::redis::{Client, cmd, query_with_timeout};
///
/// # #[tokio::main]
/// # async fn main() -> fastllm_connpool::Result<()> {
/// let client = Client::open("redis://127.0.0.1/")?;
/// let mut conn = client.get_multiplexed_async_connection().await?;
/// let pong: String =
///     query_with_timeout(Duration::from_millis(200), cmd("PING").query_async(&mut conn)).await?;
/// assert_eq!(pong, "PONG");
/// # Ok(())
/// # }
/// ```
pub async fn query_with_timeout<T, F>(after: Duration, request: F) -> Result<T>
where
    F: Future<Output = RedisResult<T>>,
{
    match tokio::time::timeout(after, request).await {
        Ok(outcome) => outcome.map_err(Error::Redis),
        Err(_elapsed) => Err(Error::Timeout {
            operation: Operation::Command,
            after,
        }),
    }
}

/// Whether a driver error means the connection itself is no longer usable.
fn breaks_connection(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_timeout()
        || err.is_unrecoverable_error()
}
