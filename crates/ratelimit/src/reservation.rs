//! TPM reservation maths: reserve an estimate before the call, settle it with the real usage
//! after.
//!
//! LiteLLM (`reserve_tpm_tokens`, `_build_reservation_aware_tpm_ops`,
//! `_refund_reserved_tokens` in `parallel_request_limiter_v3.py`) reserves the estimated
//! tokens on every TPM-bearing descriptor with one all-or-nothing atomic
//! check-and-increment, then after the call adds `actual - reserved` to each reserved scope's
//! token counter (and the full `actual` to scopes that were not reserved). A failed call is
//! settled with `actual = 0`, which refunds the reservation.
//!
//! The settlement is a plain increment: it does not look at which window is open, so a
//! reservation made in one window and settled after the window rolled over moves the new
//! window's counter (possibly below zero), exactly as LiteLLM's in-memory path does. The
//! window-guarded variant (LiteLLM's `WindowGuardedIncrement`, used for project ITPM/OTPM and
//! PTU scopes) is [`MemoryStore::increment_tokens_guarded`](crate::MemoryStore::increment_tokens_guarded).

use std::sync::Arc;

use crate::descriptor::{
    Descriptor, Limits, PROJECT_ITPM_DESCRIPTOR_KEY, PROJECT_OTPM_DESCRIPTOR_KEY, ScopeId,
};
use crate::window::{Increment, ReservationWindow, Response};

/// The descriptors a TPM reservation charges, and how much each: LiteLLM's
/// `reserve_tpm_tokens` before it calls `atomic_check_and_increment_by_n`.
///
/// Keeps every descriptor with a `tokens_per_unit`, except project ITPM/OTPM ones, reduced to
/// its token limit and window. Each is charged `estimated_tokens`, or the amount
/// `scope_estimates` gives for its descriptor key (LiteLLM uses that for the team PTU scope).
pub(crate) fn tpm_reservation_plan(
    descriptors: &[Descriptor],
    estimated_tokens: i64,
    scope_estimates: &[(&str, i64)],
) -> (Vec<Descriptor>, Vec<Increment>) {
    let mut out = Vec::new();
    let mut increments = Vec::new();
    for d in descriptors {
        if d.key() == PROJECT_ITPM_DESCRIPTOR_KEY || d.key() == PROJECT_OTPM_DESCRIPTOR_KEY {
            continue;
        }
        let Some(tokens) = d.tokens_per_unit() else {
            continue;
        };
        let limits = Limits {
            tokens_per_unit: Some(tokens),
            window_size_secs: d.window_size_secs(),
            ..Limits::default()
        };
        // Same scope and already-validated limits: this cannot fail.
        let Ok(reduced) = d.with_limits(limits) else {
            continue;
        };
        out.push(reduced);
        let amount = scope_estimates
            .iter()
            .find(|(key, _)| *key == d.key())
            .map_or(estimated_tokens, |&(_, amount)| amount);
        increments.push(Increment::tokens(amount));
    }
    (out, increments)
}

/// An add to one scope's token counter: LiteLLM's `CounterIncrement` on `.counter("tokens")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenIncrement {
    /// The scope whose token counter moves.
    pub scope: Arc<ScopeId>,
    /// The amount to add (negative to refund).
    pub amount: i64,
}

/// LiteLLM's `_build_reservation_aware_tpm_ops`: for each target scope, add
/// `actual - reserved` if it was reserved, else `actual`; zero adds are dropped.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use fastllm_ratelimit::{settlement_increments, ScopeId};
///
/// let a = Arc::new(ScopeId::new("api_key", "a"));
/// let b = Arc::new(ScopeId::new("api_key", "b"));
/// let ops = settlement_increments(&[a.clone(), b.clone()], &[a.clone()], 120, 500);
/// assert_eq!(ops[0].amount, -380); // reserved 500, used 120
/// assert_eq!(ops[1].amount, 120);  // not reserved: charge what was used
/// ```
pub fn settlement_increments(
    targets: &[Arc<ScopeId>],
    reserved_scopes: &[Arc<ScopeId>],
    actual_tokens: i64,
    reserved_tokens: i64,
) -> Vec<TokenIncrement> {
    targets
        .iter()
        .filter_map(|scope| {
            let reserved = reserved_scopes
                .iter()
                .any(|r| r.key() == scope.key() && r.value() == scope.value());
            let amount = if reserved {
                actual_tokens.saturating_sub(reserved_tokens)
            } else {
                actual_tokens
            };
            (amount != 0).then(|| TokenIncrement {
                scope: scope.clone(),
                amount,
            })
        })
        .collect()
}

/// The result of a TPM reservation, kept until the call's usage is known (what LiteLLM stores
/// on its request stash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmReservation {
    /// The atomic check-and-increment's answer. When it is `OVER_LIMIT` nothing was reserved.
    pub response: Response,
    /// The scopes charged (empty when refused or when no descriptor has a token limit).
    pub scopes: Vec<Arc<ScopeId>>,
    /// The amount charged to each scope (0 when nothing was reserved).
    pub reserved_tokens: i64,
}

impl TpmReservation {
    /// Whether the reservation was admitted.
    pub fn is_ok(&self) -> bool {
        self.response.is_ok()
    }

    /// The windows the reservation was charged in, for a window-guarded settlement.
    pub fn windows(&self) -> &[ReservationWindow] {
        &self.response.reservation_windows
    }

    /// The increments that settle this reservation once `actual_tokens` are known, on its own
    /// scopes only: `actual - reserved` each (nothing if equal). Pass `0` to refund.
    pub fn settlement(&self, actual_tokens: i64) -> Vec<TokenIncrement> {
        settlement_increments(
            &self.scopes,
            &self.scopes,
            actual_tokens,
            self.reserved_tokens,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_skips_io_descriptors_and_applies_scope_estimates() {
        let ds = vec![
            Descriptor::new(
                "api_key",
                "k",
                Limits::new().requests(3).tokens(100).max_parallel(2),
            )
            .unwrap(),
            Descriptor::new(PROJECT_ITPM_DESCRIPTOR_KEY, "p:m", Limits::new().tokens(10)).unwrap(),
            Descriptor::new("team", "t", Limits::new().requests(9)).unwrap(),
            Descriptor::new(
                "model_per_team_ptu",
                "t:m",
                Limits::new().tokens(50).window_secs(30),
            )
            .unwrap(),
        ];
        let (plan, inc) = tpm_reservation_plan(&ds, 40, &[("model_per_team_ptu", 7)]);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].limits(), Limits::new().tokens(100));
        assert_eq!(plan[1].limits(), Limits::new().tokens(50).window_secs(30));
        assert_eq!(inc, vec![Increment::tokens(40), Increment::tokens(7)]);
    }
}
