//! The API client's integration tests, in one test binary.

// Tests fail by panicking: unwrapping is how they say so.
#![allow(clippy::unwrap_used)]

mod oauth_refresh;
mod pagination_styles;
