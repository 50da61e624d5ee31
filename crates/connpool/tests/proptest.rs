//! Properties of password redaction and config validation.

use std::time::Duration;

use fastllm_connpool::{Error, MAX_POOL_SIZE, PoolConfig, redact_url};
use proptest::prelude::*;

proptest! {
    /// Whatever the password, it is replaced whole and nothing else changes.
    #[test]
    fn userinfo_password_never_survives(
        user in "[a-z]{0,8}",
        password in "\\PC{1,24}",
        port in 1u16..,
        db in 0u8..16,
    ) {
        let url = format!("redis://{user}:{password}@cache.internal:{port}/{db}");
        let redacted = redact_url(&url);
        prop_assert_eq!(redacted, format!("redis://{user}:***@cache.internal:{port}/{db}"));
    }

    /// Passwords in the query are masked, other parameters kept in order.
    #[test]
    fn query_password_never_survives(password in "[^&#]{1,24}", db in 0u8..16) {
        let url = format!("redis+unix:///run/redis.sock?db={db}&pass={password}&protocol=resp3");
        prop_assert_eq!(
            redact_url(&url),
            format!("redis+unix:///run/redis.sock?db={db}&pass=***&protocol=resp3")
        );
    }

    /// Redaction never grows a secret-free URL or panics on arbitrary input.
    #[test]
    fn arbitrary_input_does_not_panic(input in "\\PC{0,64}") {
        let out = redact_url(&input);
        if !input.contains('@') && !input.contains('?') {
            prop_assert_eq!(out, input);
        }
    }

    /// `validate` accepts exactly the documented ranges.
    #[test]
    fn validation_matches_documented_ranges(
        max_size in prop_oneof![Just(0usize), 1usize..=1024, Just(MAX_POOL_SIZE), Just(MAX_POOL_SIZE + 1)],
        connect_ms in 0u64..3,
        command_ms in 0u64..3,
        wait_ms in 0u64..3,
        recycle_check: bool,
    ) {
        let config = PoolConfig::default()
            .with_max_size(max_size)
            .with_connect_timeout(Duration::from_millis(connect_ms))
            .with_command_timeout(Duration::from_millis(command_ms))
            .with_wait_timeout(Duration::from_millis(wait_ms))
            .with_recycle_check(recycle_check);
        let expected_ok = (1..=MAX_POOL_SIZE).contains(&max_size) && connect_ms > 0 && command_ms > 0;
        match config.validate() {
            Ok(()) => prop_assert!(expected_ok),
            Err(Error::InvalidConfig { .. }) => prop_assert!(!expected_ok),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}
