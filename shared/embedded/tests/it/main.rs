//! The embedded adapters' integration tests, in one test binary.

// Tests fail by panicking: unwrapping is how they say so.
#![allow(clippy::unwrap_used)]

mod conformance;
mod reconcile;
mod upgrade;
