//! The provider modules' integration tests, in one test binary.

mod api_client;
mod client_pool;
mod hostile_input;
mod localstripe;
mod shape;
mod stripe_listing;
mod stripe_sync;
