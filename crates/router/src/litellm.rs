//! What makes the router's answers LiteLLM's, bit for bit: CPython's `random` (its Mersenne
//! Twister, [`PyRandom`], and its `choice`/`choices`/`sample` draws over any
//! [`RouterRng`](crate::RouterRng)), LiteLLM's `model_list` parsing and deployment ids, and
//! the cache keys LiteLLM spells its router state with ([`keys`], over the minute labels of
//! [`MinuteLabels`]).
//!
//! A Rust user of [`Router`](crate::Router) needs none of it: a [`Deployment`](crate::Deployment)
//! is built with [`Deployment::builder`](crate::Deployment::builder), and any
//! [`RouterRng`](crate::RouterRng) draws.

pub mod keys;
mod minute;
pub(crate) mod pyrepr;

pub use crate::deployment::{
    deployment_id, parse_deployment, parse_model_list, parse_model_list_with,
};
pub use crate::rng::{PyRandom, choice, choices, sample};
pub use minute::MinuteLabels;
