//! [`PoolConfig`]: size, timeouts and health checking, with validation.

use std::time::Duration;

use crate::error::{Error, Result};

/// The largest `max_size` a pool accepts: the most permits tokio's semaphore (which deadpool
/// uses to bound the pool) can hold.
pub const MAX_POOL_SIZE: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// How a [`Pool`](crate::Pool) sizes itself and how long anything may take.
///
/// Every timeout is finite: a hung backend turns into an error, never a hung caller. Build one
/// from [`PoolConfig::default`] and the `with_*` methods; [`Pool::new`](crate::Pool::new) calls
/// [`PoolConfig::validate`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fastllm_connpool::PoolConfig;
///
/// let config = PoolConfig::default()
///     .with_max_size(32)
///     .with_command_timeout(Duration::from_millis(250));
/// assert!(config.validate().is_ok());
/// assert!(PoolConfig::default().with_max_size(0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PoolConfig {
    /// The most connections open at once, in use or idle. Default 16.
    ///
    /// A Redis connection here is multiplexed, so each one carries many commands in flight; a
    /// small pool goes a long way.
    pub max_size: usize,
    /// How long opening one connection (TCP connect plus handshake) may take. Default 1 s.
    ///
    /// The [`Manager`](crate::Manager) applies it, so that it can say which backend it could not
    /// reach; the Redis backend's `RedisManager` does.
    pub connect_timeout: Duration,
    /// How long one command, pipeline or script (and the recycle health check) may take before
    /// it fails with [`Error::Timeout`]. Default 500 ms.
    pub command_timeout: Duration,
    /// How long [`Pool::get`](crate::Pool::get) waits for a free slot when all `max_size`
    /// connections are in use. Default 1 s. Zero means "don't wait": fail at once if none is
    /// free.
    pub wait_timeout: Duration,
    /// Whether a connection is health-checked (Redis: `PING`) each time it leaves the pool.
    /// Default `true`.
    ///
    /// Off saves a round trip per checkout; a connection that failed with an I/O error or a
    /// timeout is still dropped on return either way.
    pub recycle_check: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 16,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_millis(500),
            wait_timeout: Duration::from_secs(1),
            recycle_check: true,
        }
    }
}

impl PoolConfig {
    /// Sets [`max_size`](Self::max_size).
    #[must_use]
    pub const fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`command_timeout`](Self::command_timeout).
    #[must_use]
    pub const fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets [`wait_timeout`](Self::wait_timeout).
    #[must_use]
    pub const fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets [`recycle_check`](Self::recycle_check).
    #[must_use]
    pub const fn with_recycle_check(mut self, recycle_check: bool) -> Self {
        self.recycle_check = recycle_check;
        self
    }

    /// Checks that the config can build a pool.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first bad field: `max_size` outside
    /// `1..=`[`MAX_POOL_SIZE`], or a zero `connect_timeout` or `command_timeout` (a zero
    /// `wait_timeout` is allowed and means "don't wait").
    pub fn validate(&self) -> Result<()> {
        if self.max_size == 0 || self.max_size > MAX_POOL_SIZE {
            return Err(Error::InvalidConfig {
                field: "max_size",
                reason: format!(
                    "must be between 1 and {MAX_POOL_SIZE}, got {}",
                    self.max_size
                ),
            });
        }
        for (field, value) in [
            ("connect_timeout", self.connect_timeout),
            ("command_timeout", self.command_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::InvalidConfig {
                    field,
                    reason: "must be greater than zero".to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(config: PoolConfig) -> Option<&'static str> {
        match config.validate() {
            Ok(()) => None,
            Err(Error::InvalidConfig { field, .. }) => Some(field),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn default_is_valid() {
        let config = PoolConfig::default();
        assert_eq!(field_of(config), None);
        assert!(config.recycle_check);
        assert!(config.max_size >= 1);
    }

    #[test]
    fn max_size_bounds() {
        let base = PoolConfig::default();
        assert_eq!(field_of(base.with_max_size(0)), Some("max_size"));
        assert_eq!(field_of(base.with_max_size(1)), None);
        assert_eq!(field_of(base.with_max_size(MAX_POOL_SIZE)), None);
        assert_eq!(
            field_of(base.with_max_size(MAX_POOL_SIZE + 1)),
            Some("max_size")
        );
    }

    #[test]
    fn zero_timeouts() {
        let base = PoolConfig::default();
        assert_eq!(
            field_of(base.with_connect_timeout(Duration::ZERO)),
            Some("connect_timeout")
        );
        assert_eq!(
            field_of(base.with_command_timeout(Duration::ZERO)),
            Some("command_timeout")
        );
        // Zero wait means "fail at once when no slot is free", which is a valid choice.
        assert_eq!(field_of(base.with_wait_timeout(Duration::ZERO)), None);
    }

    #[test]
    fn error_message_names_field_and_value() {
        let err = PoolConfig::default()
            .with_max_size(0)
            .validate()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("max_size"), "{text}");
        assert!(text.contains("got 0"), "{text}");
    }

    #[test]
    fn builders_set_fields() {
        let config = PoolConfig::default()
            .with_max_size(3)
            .with_connect_timeout(Duration::from_millis(7))
            .with_command_timeout(Duration::from_millis(8))
            .with_wait_timeout(Duration::from_millis(9))
            .with_recycle_check(false);
        assert_eq!(config.max_size, 3);
        assert_eq!(config.connect_timeout, Duration::from_millis(7));
        assert_eq!(config.command_timeout, Duration::from_millis(8));
        assert_eq!(config.wait_timeout, Duration::from_millis(9));
        assert!(!config.recycle_check);
    }
}
