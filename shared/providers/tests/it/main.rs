//! The provider modules' integration tests, in one test binary.

// Tests fail by panicking: unwrapping is how they say so.
#![allow(clippy::unwrap_used)]

mod api_client;
mod billing_paypal;
mod client_pool;
mod entitlements;
mod hostile_input;
mod localstripe;
mod messaging;
mod prism;
mod shape;
mod stripe_listing;
mod stripe_sync;
mod support;
