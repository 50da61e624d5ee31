//! Time behind a trait, so tests can drive the limiter with a [`FakeClock`]: the clock of
//! `fastllm-clock`, shared with `fastllm-router`.
//!
//! LiteLLM's v3 limiter reads `datetime.now().timestamp()`: windows use its integer part
//! (`now_int = int(now)`), while the parallel-request slots and the memory tier's key expiry
//! use the fractional value. The limiter reads [`Clock::now`], a [`Duration`](std::time::Duration)
//! since an arbitrary, fixed origin, and takes [`Duration::as_secs`](std::time::Duration::as_secs)
//! where LiteLLM takes `int(now)`: a monotonic clock for limits, never wall-clock time (it
//! never reads [`Clock::wall`]).
//!
//! The stores are generic over `C: Clock` (default [`MonotonicClock`]), not `dyn`: the clock
//! is read on every check, so the call stays static, and a store on a [`FakeClock`] says so in
//! its type.

/// The clock trait, the real clock, the fake one and the wall-clock reading, from
/// `fastllm-clock` (the router's are the same types). The stores take their clock as a type
/// parameter (`MemoryStore<C: Clock = MonotonicClock>`), not as a `dyn Clock`: it is read on
/// every check, so the call stays static.
pub use fastllm_clock::{Clock, FakeClock, SystemClock, WallTime};

/// The process's monotonic clock: [`SystemClock`], under the name this crate has always used.
pub use fastllm_clock::SystemClock as MonotonicClock;
