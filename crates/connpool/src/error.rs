//! The crate's errors: [`Error`] for Redis and configuration, [`PoolError`] for the generic pool,
//! and the shape every store on the pool reports a failed backend with: [`BackendError`], and
//! [`Reported`] for a value that stands whatever the backend did.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "redis")]
use ::redis::RedisError;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What was being waited for when a timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Waiting for a free slot in a full pool ([`PoolConfig::wait_timeout`](crate::PoolConfig::wait_timeout)).
    Checkout,
    /// Opening a new connection ([`PoolConfig::connect_timeout`](crate::PoolConfig::connect_timeout)).
    Connect,
    /// Health-checking a connection before reuse ([`PoolConfig::command_timeout`](crate::PoolConfig::command_timeout)).
    Recycle,
    /// One command, pipeline or script ([`PoolConfig::command_timeout`](crate::PoolConfig::command_timeout)).
    Command,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Checkout => "checkout (waiting for a free connection)",
            Self::Connect => "connect",
            Self::Recycle => "recycle health check",
            Self::Command => "command",
        })
    }
}

/// Errors of the Redis backend (feature `redis`) and of configuration.
///
/// The underlying driver error stays reachable through [`std::error::Error::source`]; the
/// messages here never repeat it, so print the whole chain to see both. URLs in messages have
/// their password replaced by `***` (see [`redact_url`](crate::redact_url)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`PoolConfig`](crate::PoolConfig) field is out of range.
    #[error("invalid pool config: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The Redis URL did not parse.
    #[cfg(feature = "redis")]
    #[error("invalid redis url `{url}`")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// The driver's parse error.
        #[source]
        source: RedisError,
    },
    /// Redis could not be reached: the connection was refused, timed out, failed its handshake
    /// (e.g. a wrong password), or dropped while in use.
    ///
    /// The pool recovers by itself once Redis is back: the broken connection is dropped and the
    /// next checkout opens a new one.
    #[cfg(feature = "redis")]
    #[error("redis at {url} is unavailable")]
    Unavailable {
        /// The URL, password redacted.
        url: String,
        /// The driver's error (I/O, timeout, authentication, ...).
        #[source]
        source: RedisError,
    },
    /// Something took longer than its configured limit.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being waited for.
        operation: Operation,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// Redis answered a command with an error (wrong type, script error, ...), or the reply
    /// could not be converted to the requested type. The connection stays usable.
    #[cfg(feature = "redis")]
    #[error("redis command failed")]
    Redis(#[from] RedisError),
    /// The pool was closed with [`Pool::close`](crate::Pool::close).
    #[error("the connection pool is closed")]
    Closed,
    /// The pool reported a state this crate never sets up (no runtime, a hook failure).
    /// Seeing it is a bug in this crate.
    #[error("internal connection pool error: {message}")]
    Internal {
        /// Deadpool's description.
        message: String,
    },
}

/// Why [`Pool::get`](crate::Pool::get) returned no connection, generic over the backend's
/// error `E`.
///
/// For the Redis pool `E` is [`Error`], and `PoolError<Error>` converts into [`Error`] (so `?`
/// works in a function returning [`Result`]): backend errors come out as themselves, and the
/// rest as [`Error::Timeout`], [`Error::Closed`] or [`Error::Internal`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError<E> {
    /// A pool-level limit ran out, usually [`Operation::Checkout`]: every connection stayed in
    /// use for the whole [`PoolConfig::wait_timeout`](crate::PoolConfig::wait_timeout).
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being waited for.
        operation: Operation,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The backend's [`Manager::create`](crate::Manager::create) failed.
    #[error("could not open a pooled connection")]
    Backend(#[source] E),
    /// The pool was closed with [`Pool::close`](crate::Pool::close).
    #[error("the connection pool is closed")]
    Closed,
    /// The pool reported a state this crate never sets up (no runtime, a hook failure).
    /// Seeing it is a bug in this crate.
    #[error("internal connection pool error: {message}")]
    Internal {
        /// Deadpool's description.
        message: String,
    },
}

impl<E> PoolError<E> {
    /// Whether this is a [`PoolError::Timeout`].
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

impl From<PoolError<Error>> for Error {
    fn from(err: PoolError<Error>) -> Self {
        match err {
            PoolError::Timeout { operation, after } => Error::Timeout { operation, after },
            PoolError::Backend(inner) => inner,
            PoolError::Closed => Error::Closed,
            PoolError::Internal { message } => Error::Internal { message },
        }
    }
}

/// A store built on the pool (the rate limiter's `RedisStore`, the router's `RedisState`) could
/// not do what it was asked on Redis: the pool or Redis failed, or Redis answered something the
/// store cannot read.
///
/// Misuse (a bad configuration, arguments that do not fit) is each crate's own `Error`; this
/// is only for the backend. The message names the store and the operation (`"rate-limit
/// should_rate_limit on redis failed"`, `"router sync on redis failed"`); the pool's [`Error`],
/// and the driver's error under it, stay reachable through [`source`](std::error::Error::source).
///
/// Cloning is cheap: the pool's error is shared.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fastllm_connpool::{BackendError, Error, Operation};
///
/// let timeout = Error::Timeout { operation: Operation::Command, after: Duration::from_millis(5) };
/// let err = BackendError::failed("router", "sync", timeout);
/// assert_eq!(err.to_string(), "router sync on redis failed");
/// assert_eq!(err.operation(), "sync");
/// assert!(matches!(err.pool_error(), Some(Error::Timeout { .. })));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The pool or Redis failed: no connection ([`Error::Unavailable`]), a timeout
    /// ([`Error::Timeout`]), or an error reply ([`Error::Redis`]).
    #[error("{component} {operation} on redis failed")]
    Redis {
        /// The store (`"rate-limit"`, `"router"`).
        component: &'static str,
        /// What the store was doing (`"should_rate_limit"`, `"write_cooldown"`, ...).
        operation: &'static str,
        /// The pool's error.
        #[source]
        source: Arc<Error>,
    },
    /// Redis answered, but not with what the store's command or script returns (a key holding
    /// some other type or a non-number, or a reply of the wrong shape).
    #[error("{component} {operation} on redis: unexpected reply ({detail})")]
    Reply {
        /// The store.
        component: &'static str,
        /// What the store was doing.
        operation: &'static str,
        /// What was wrong with the reply.
        detail: String,
    },
}

impl BackendError {
    /// [`BackendError::Redis`]: `component`'s `operation` failed in the pool or on Redis.
    pub fn failed(
        component: &'static str,
        operation: &'static str,
        source: impl Into<Error>,
    ) -> Self {
        Self::Redis {
            component,
            operation,
            source: Arc::new(source.into()),
        }
    }

    /// [`BackendError::Reply`]: `component`'s `operation` got a reply it cannot read.
    pub fn unexpected_reply(
        component: &'static str,
        operation: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::Reply {
            component,
            operation,
            detail: detail.into(),
        }
    }

    /// The store that failed (`"rate-limit"`, `"router"`).
    #[must_use]
    pub fn component(&self) -> &'static str {
        match self {
            Self::Redis { component, .. } | Self::Reply { component, .. } => component,
        }
    }

    /// The operation that failed.
    #[must_use]
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Redis { operation, .. } | Self::Reply { operation, .. } => operation,
        }
    }

    /// The pool's error, when the failure came from the pool or Redis.
    #[must_use]
    pub fn pool_error(&self) -> Option<&Error> {
        match self {
            Self::Redis { source, .. } => Some(source),
            Self::Reply { .. } => None,
        }
    }
}

/// A value that stands whatever the backend did, and the backend's failure when it had one.
///
/// The stores on the pool decide some things without their backend: the router applies a
/// cooldown locally and then publishes it, and the rate limiter answers with its fail mode when
/// Redis cannot. They return the value together with what went wrong, rather than a `Result`
/// that would lose the value. `E` is [`BackendError`], or a store's richer failure around it
/// (the rate limiter's `Unverified` adds the fail mode that decided).
///
/// # Examples
///
/// ```
/// use fastllm_connpool::{BackendError, Reported};
///
/// let done: Reported<u32> = Reported::new(7, None);
/// assert!(done.backend_ok());
/// assert_eq!(done.into_result().unwrap(), 7);
///
/// let failed = Reported::new(7, Some(BackendError::unexpected_reply("router", "sync", "nil")));
/// assert!(!failed.backend_ok());
/// assert_eq!(failed.value, 7, "the value stands");
/// assert_eq!(failed.into_result().unwrap_err().operation(), "sync");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Reported<T, E = BackendError> {
    /// The value: decided locally, or by the store's rule for a failed backend.
    pub value: T,
    /// Why the backend failed, if it did.
    pub error: Option<E>,
}

impl<T, E> Reported<T, E> {
    /// `value`, with the backend's failure if there was one.
    pub fn new(value: T, error: Option<E>) -> Self {
        Self { value, error }
    }

    /// `value`, the backend having done its part.
    pub fn ok(value: T) -> Self {
        Self { value, error: None }
    }

    /// Whether the backend did its part (there is no error).
    #[must_use]
    pub fn backend_ok(&self) -> bool {
        self.error.is_none()
    }

    /// The value, or the backend's failure (dropping the value).
    ///
    /// # Errors
    ///
    /// The backend's failure, when there was one.
    pub fn into_result(self) -> std::result::Result<T, E> {
        match self.error {
            None => Ok(self.value),
            Some(error) => Err(error),
        }
    }

    /// The same report over `f(value)`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reported<U, E> {
        Reported {
            value: f(self.value),
            error: self.error,
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "redis")]
    use std::error::Error as _;
    #[cfg(feature = "redis")]
    use std::io;

    use super::*;

    #[test]
    #[cfg(feature = "redis")]
    fn pool_error_flattens_into_error() {
        let timeout: Error = PoolError::<Error>::Timeout {
            operation: Operation::Checkout,
            after: Duration::from_millis(5),
        }
        .into();
        assert!(matches!(
            timeout,
            Error::Timeout {
                operation: Operation::Checkout,
                ..
            }
        ));

        let source = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        let backend: Error = PoolError::Backend(Error::Unavailable {
            url: "redis://127.0.0.1:1/".into(),
            source,
        })
        .into();
        assert!(matches!(backend, Error::Unavailable { .. }));
        assert!(matches!(Error::from(PoolError::Closed), Error::Closed));
    }

    #[test]
    #[cfg(feature = "redis")]
    fn source_chain_is_kept() {
        let source = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        let err = PoolError::Backend(Error::Unavailable {
            url: "redis://127.0.0.1:1/".into(),
            source,
        });
        let unavailable = err.source().expect("backend error is the source");
        assert!(unavailable.to_string().contains("127.0.0.1:1"));
        let io = unavailable.source().expect("driver error is the source");
        assert!(io.to_string().to_lowercase().contains("refused"), "{io}");
    }

    #[test]
    fn backend_error_keeps_the_pool_error_as_source() {
        use std::error::Error as _;
        let err = BackendError::failed("rate-limit", "should_rate_limit", Error::Closed);
        assert_eq!(
            err.to_string(),
            "rate-limit should_rate_limit on redis failed"
        );
        assert_eq!(err.component(), "rate-limit");
        assert!(matches!(err.pool_error(), Some(Error::Closed)));
        let source = err.source().expect("the pool error is the source");
        assert_eq!(source.to_string(), "the connection pool is closed");
        let reply = BackendError::unexpected_reply("router", "increment_usage", "nil");
        assert_eq!(
            reply.to_string(),
            "router increment_usage on redis: unexpected reply (nil)"
        );
        assert!(reply.pool_error().is_none() && reply.source().is_none());
        assert_eq!(reply.clone().operation(), "increment_usage");
    }

    #[test]
    fn reported_keeps_the_value() {
        let failed: Reported<u8> =
            Reported::new(1, Some(BackendError::unexpected_reply("r", "o", "x")));
        assert!(!failed.backend_ok());
        let mapped = failed.map(|v| v + 1);
        assert_eq!(mapped.value, 2);
        assert!(mapped.into_result().is_err());
        assert_eq!(Reported::<u8>::ok(3).into_result().unwrap(), 3);
    }

    #[test]
    fn timeout_message_reads_well() {
        let err = Error::Timeout {
            operation: Operation::Command,
            after: Duration::from_millis(200),
        };
        assert_eq!(err.to_string(), "command timed out after 200ms");
        assert!(
            PoolError::<Error>::Timeout {
                operation: Operation::Checkout,
                after: Duration::from_secs(1),
            }
            .is_timeout()
        );
    }
}
