#![doc = include_str!("../README.md")]

mod clock;
mod fake;
mod wall;

pub use clock::{Clock, SystemClock};
pub use fake::FakeClock;
pub use wall::{Minute, WallTime};
