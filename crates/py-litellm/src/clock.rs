//! The wall clock LiteLLM reads (`time.time()`, `datetime.now().timestamp()`), read natively
//! where the patched code can tell that is the clock in use.

use std::time::Duration;

/// The system clock's time since the Unix epoch (`time.time()`, `datetime.now().timestamp()`).
pub(crate) fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}
