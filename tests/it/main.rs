//! End-to-end tests of the real binaries (`portage`, the Lambda functions),
//! in one test binary: helpers are compiled once and the moto server is
//! shared by every test that needs it.

// Tests fail by panicking: unwrapping is how they say so.
#![allow(clippy::unwrap_used)]

mod common;
mod key_server;
mod lambda_common;
mod lambda_runtime_api;
#[path = "../../shared/aws/tests/moto/mod.rs"]
mod moto;

mod application_api;
mod billing_life;
mod billing_serve;
mod billing_world;
mod cli;
mod command_crash;
mod crash_recovery;
mod fetched_signing_keys;
mod lambda_commands;
mod lambda_connect;
mod lambda_e2e;
mod lambda_sources;
mod messaging_commands;
mod notifications;
mod serve_connect;
mod serve_http;
mod signature_vectors;
mod stripe_commands;
mod stripe_reconcile;
mod stripe_sync;
mod tenancy;
mod webhook_sources;
