//! The embedded adapters' integration tests, in one test binary.

mod conformance;
mod reconcile;
mod upgrade;
