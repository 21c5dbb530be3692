//! The application API's integration tests, over the embedded store.

// Tests fail by panicking: unwrapping is how they say so.
#![allow(clippy::unwrap_used)]

mod billing;
mod commands;
mod connect;
mod oidc;
mod routes;
mod support;
