//! The generic pool: [`Pool`] over any [`Manager`], handing out [`Object`]s.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{self, HookError, RecycleError, RecycleResult, TimeoutType};

use crate::config::PoolConfig;
use crate::error::{Error, Operation, PoolError, Result};
use crate::metrics::{Counters, PoolMetrics};
use crate::{Manager, ObjectId, ObjectMetrics, Status};

/// A bounded pool of connections made by a [`Manager`] `M`, built on deadpool.
///
/// [`Pool::get`] hands out an [`Object`], which goes back to the pool when dropped. Before an
/// idle connection is handed out again, the manager's `recycle` decides whether it is still
/// good (bounded by [`PoolConfig::command_timeout`]); a bad one is dropped and a new one made.
/// So the pool recovers by itself when its backend comes back after an outage.
///
/// Cloning is cheap and every clone shares the same connections and counters. The pool needs a
/// tokio runtime (with the time driver) wherever `get` is awaited.
///
/// The Redis pool (feature `redis`) is `RedisPool` = `Pool<RedisManager>`.
///
/// # Examples
///
/// Any backend works; here an in-memory "connection" stands in for a real one.
///
/// ```
/// use fastllm_connpool::{Manager, ObjectMetrics, Pool, PoolConfig, RecycleResult};
///
/// struct Counter;
///
/// impl Manager for Counter {
///     type Type = Vec<u8>;
///     type Error = std::io::Error;
///
///     async fn create(&self) -> Result<Vec<u8>, std::io::Error> {
///         Ok(Vec::new())
///     }
///
///     async fn recycle(&self, buf: &mut Vec<u8>, _: &ObjectMetrics) -> RecycleResult<std::io::Error> {
///         buf.clear();
///         Ok(())
///     }
/// }
///
/// # fn main() -> fastllm_connpool::Result<()> {
/// // The pool needs only tokio's time driver.
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// runtime.block_on(async {
///     let pool = Pool::new(Counter, PoolConfig::default().with_max_size(2))?;
///     {
///         let mut buf = pool.get().await.expect("in-memory create cannot fail");
///         buf.push(1);
///     } // dropped: back in the pool
///     let buf = pool.get().await.expect("reused");
///     assert!(buf.is_empty()); // recycled
///     assert_eq!(pool.metrics().created, 1);
///     assert_eq!(pool.metrics().checkouts, 2);
///     Ok(())
/// })
/// # }
/// ```
pub struct Pool<M: Manager> {
    inner: managed::Pool<Tracked<M>>,
    config: PoolConfig,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config,
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("status", &self.status())
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

impl<M: Manager> Pool<M> {
    /// Builds a pool around `manager`. No connection is opened until the first [`get`](Self::get).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `config` fails [`PoolConfig::validate`].
    pub fn new(manager: M, config: PoolConfig) -> Result<Self> {
        config.validate()?;
        let tracked = Tracked {
            manager,
            counters: Counters::default(),
            recycle_timeout: config.command_timeout,
        };
        let inner = managed::Pool::builder(tracked)
            .max_size(config.max_size)
            .wait_timeout(Some(config.wait_timeout))
            // No create timeout here: the manager bounds `create` by `connect_timeout` itself so
            // its error can say which backend did not answer. Recycle is bounded in `Tracked`,
            // where a timeout can be counted (deadpool drops it silently).
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| Error::Internal {
                message: err.to_string(),
            })?;
        Ok(Self { inner, config })
    }

    /// Checks out a connection, waiting up to [`PoolConfig::wait_timeout`] for a free slot.
    ///
    /// An idle connection is recycled (health-checked) first; if none is idle and the pool has
    /// room, a new one is opened. The [`Object`] goes back to the pool when dropped.
    ///
    /// Every step is bounded: the wait for a slot by `wait_timeout`, each recycle check by
    /// `command_timeout` (an idle connection that fails it is dropped and the next one tried),
    /// and opening a connection by the manager's `connect_timeout`.
    ///
    /// # Errors
    ///
    /// - [`PoolError::Timeout`] with [`Operation::Checkout`] when every slot stayed busy for
    ///   the whole wait timeout;
    /// - [`PoolError::Backend`] when a new connection could not be opened (for Redis:
    ///   `Error::Unavailable`);
    /// - [`PoolError::Closed`] after [`close`](Self::close).
    pub async fn get(&self) -> Result<Object<M>, PoolError<M::Error>> {
        let counters = &self.inner.manager().counters;
        match self.inner.get().await {
            Ok(inner) => {
                counters.record_checkout();
                Ok(Object { inner })
            }
            Err(err) => {
                let err = self.convert(err);
                if err.is_timeout() {
                    counters.record_timeout();
                } else {
                    counters.record_error();
                }
                Err(err)
            }
        }
    }

    /// The pool's current size: `max_size`, open connections (`size`), idle ones
    /// (`available`) and tasks waiting in [`get`](Self::get) (`waiting`).
    #[must_use]
    pub fn status(&self) -> Status {
        self.inner.status()
    }

    /// The pool's counters since it was built.
    #[must_use]
    pub fn metrics(&self) -> PoolMetrics {
        self.inner.manager().counters.snapshot()
    }

    /// The config the pool was built with.
    #[must_use]
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The manager the pool was built with.
    #[must_use]
    pub fn manager(&self) -> &M {
        &self.inner.manager().manager
    }

    /// Closes the pool: idle connections are dropped, waiting and future [`get`](Self::get)
    /// calls fail with [`PoolError::Closed`], and checked-out connections are dropped when
    /// returned.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn convert(&self, err: managed::PoolError<M::Error>) -> PoolError<M::Error> {
        match err {
            managed::PoolError::Timeout(kind) => {
                let (operation, after) = match kind {
                    TimeoutType::Wait => (Operation::Checkout, self.config.wait_timeout),
                    TimeoutType::Create => (Operation::Connect, self.config.connect_timeout),
                    TimeoutType::Recycle => (Operation::Recycle, self.config.command_timeout),
                };
                PoolError::Timeout { operation, after }
            }
            managed::PoolError::Backend(err) => PoolError::Backend(err),
            managed::PoolError::PostCreateHook(HookError::Backend(err)) => PoolError::Backend(err),
            managed::PoolError::Closed => PoolError::Closed,
            managed::PoolError::PostCreateHook(HookError::Message(message)) => {
                PoolError::Internal {
                    message: format!("post_create hook failed: {message}"),
                }
            }
            managed::PoolError::NoRuntimeSpecified => PoolError::Internal {
                message: "no async runtime specified".to_owned(),
            },
        }
    }
}

/// A checked-out connection: use it through `Deref`/`DerefMut` as `M::Type`; dropping it
/// returns it to its [`Pool`].
pub struct Object<M: Manager> {
    inner: managed::Object<Tracked<M>>,
}

impl<M: Manager> Deref for Object<M> {
    type Target = M::Type;

    fn deref(&self) -> &M::Type {
        &self.inner
    }
}

impl<M: Manager> DerefMut for Object<M> {
    fn deref_mut(&mut self) -> &mut M::Type {
        &mut self.inner
    }
}

impl<M: Manager> AsRef<M::Type> for Object<M> {
    fn as_ref(&self) -> &M::Type {
        self
    }
}

impl<M: Manager> AsMut<M::Type> for Object<M> {
    fn as_mut(&mut self) -> &mut M::Type {
        self
    }
}

impl<M> fmt::Debug for Object<M>
where
    M: Manager,
    M::Type: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("id", &Object::id(self))
            .field("connection", &**self)
            .finish()
    }
}

impl<M: Manager> Object<M> {
    /// A number identifying the underlying connection within its pool: a connection that is
    /// reused keeps its id, a new connection gets a larger one.
    #[must_use]
    pub fn id(this: &Self) -> ObjectId {
        managed::Object::id(&this.inner)
    }

    /// This connection's statistics: when it was created, last recycled, and how often.
    pub fn object_metrics(this: &Self) -> &ObjectMetrics {
        managed::Object::metrics(&this.inner)
    }
}

/// The manager deadpool actually drives: delegates to `M`, bounds recycle by the command
/// timeout, and counts.
struct Tracked<M> {
    manager: M,
    counters: Counters,
    recycle_timeout: Duration,
}

impl<M: Manager> managed::Manager for Tracked<M> {
    type Type = M::Type;
    type Error = M::Error;

    async fn create(&self) -> Result<M::Type, M::Error> {
        let conn = self.manager.create().await?;
        self.counters.record_created();
        Ok(conn)
    }

    async fn recycle(
        &self,
        conn: &mut M::Type,
        metrics: &ObjectMetrics,
    ) -> RecycleResult<M::Error> {
        let outcome =
            match tokio::time::timeout(self.recycle_timeout, self.manager.recycle(conn, metrics))
                .await
            {
                Ok(outcome) => outcome,
                Err(_elapsed) => Err(RecycleError::message(format!(
                    "recycle check timed out after {:?}",
                    self.recycle_timeout
                ))),
            };
        match &outcome {
            Ok(()) => self.counters.record_recycled(),
            Err(_) => self.counters.record_recycle_failure(),
        }
        outcome
    }

    fn detach(&self, conn: &mut M::Type) {
        self.manager.detach(conn);
    }
}
