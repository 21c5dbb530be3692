//! Portage's Lambda glue. Each function binary under `functions/` is a few
//! lines that call one of [`webhook::run`], [`notifications::run`],
//! [`sync_worker::run`], [`reconcile::run`] or [`api::run`]; those build the AWS clients and adapters once, in the
//! init phase, and then serve invocations through the Lambda runtime API.

pub mod api;
pub mod connect;
pub mod deployment;
pub mod metrics;
pub mod notifications;
pub mod reconcile;
pub mod settings;
pub mod sync_worker;
pub mod webhook;

/// The error a function's `main` returns to the runtime.
pub type Error = lambda_runtime::Error;
