//! The API client's integration tests, in one test binary.

mod oauth_refresh;
mod pagination_styles;
