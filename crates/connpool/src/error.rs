//! The crate's errors: [`Error`] for Redis and configuration, [`PoolError`] for the generic pool.

use std::fmt;
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
