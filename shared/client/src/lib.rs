//! Portage's outbound HTTP to providers.
//!
//! For now it holds what webhook ingest needs: [`HttpSigningKeys`], the
//! adapter of the core's `SigningKeys` port, which fetches and caches the
//! keys PayPal and eBay deliveries name (certificates checked against public
//! roots, eBay's application token obtained and reused), and [`Origins`], the
//! one place a provider's host can be pointed elsewhere (a sandbox, a test
//! fake).

mod certificate;
mod origins;
mod signing_keys;

pub use origins::{Origins, OriginsError};
pub use signing_keys::{ConfigError, HttpSigningKeys};

/// `Portage/<version>`: the user agent of every outbound request.
pub const USER_AGENT: &str = concat!("Portage/", env!("CARGO_PKG_VERSION"));
