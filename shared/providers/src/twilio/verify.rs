//! Twilio request signatures, as the official `twilio` library's
//! `RequestValidator` checks them (cross-checked by `fixtures/twilio/vectors`).
//!
//! `X-Twilio-Signature` is the base64 HMAC, keyed with the account's Auth
//! Token (or a SharedKey secret), of the full URL Twilio called followed, for
//! a form-encoded POST, by every parameter name and value: names sorted, and
//! for each name its distinct values sorted, each appended as `name + value`.
//! A JSON body is not signed itself: its lowercase hex SHA-256 travels in the
//! URL's `bodySHA256` query parameter, which must match. The algorithm is
//! HMAC-SHA1 unless `X-Twilio-Webhooks-Signature-Settings` names another
//! (`algorithm=HMAC_SHA256`). Like the library, the URL is tried with and
//! without its default port. Twilio signs no timestamp.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::WebhookRequest;
use portage_core::{RejectReason, Secret};

use crate::signing::{ct_eq, hmac_sha1, hmac_sha256, optional_header, required_header, sha256_hex};

pub(super) const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
const SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// The algorithms Twilio signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// The Auth Token scheme.
    Sha1,
    /// SharedKey signatures that ask for it.
    Sha256,
}

/// The algorithm a request names; `None` for one this library does not know.
fn algorithm(request: &WebhookRequest) -> Option<Algorithm> {
    let settings = optional_header(request, SETTINGS_HEADER).unwrap_or_default();
    let named = settings.split(',').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        (name.trim() == "algorithm" && !value.trim().is_empty()).then(|| value.trim().to_ascii_uppercase())
    });
    match named.as_deref() {
        None | Some("HMAC_SHA1") => Some(Algorithm::Sha1),
        Some("HMAC_SHA256") => Some(Algorithm::Sha256),
        Some(_) => None,
    }
}

/// True for a body Twilio sends form-encoded (its parameters are signed).
pub(super) fn is_form(request: &WebhookRequest) -> bool {
    optional_header(request, "content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The form's name/value pairs, decoded as `form_urlencoded` decodes them;
/// a pair with nothing to decode (no `%`, no `+`) is taken as it is, which
/// spares a byte-by-byte pass over long plain values.
fn form_pairs(body: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    body.split(|&b| b == b'&').filter(|pair| !pair.is_empty()).filter_map(|pair| {
        if pair.contains(&b'%') || pair.contains(&b'+') {
            return form_urlencoded::parse(pair).next();
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        Some((String::from_utf8_lossy(name), String::from_utf8_lossy(value)))
    })
}

/// A form's parameters as the library orders them: names sorted, distinct
/// values sorted; borrowed from the body where nothing needed decoding.
pub(crate) type Params<'a> = BTreeMap<Cow<'a, str>, BTreeSet<Cow<'a, str>>>;

/// The body's parameters (see [`Params`]).
pub(super) fn form_params(body: &[u8]) -> Params<'_> {
    let mut params = Params::new();
    for (name, value) in form_pairs(body) {
        params.entry(name).or_default().insert(value);
    }
    params
}

/// The URL as received, then the same URL with its port removed (when it
/// has one) or its default port added (when it has none): the library
/// accepts either, as Twilio's own signing has varied.
fn url_variants(url: &str) -> [String; 2] {
    let Some((scheme, rest)) = url.split_once("://") else { return [url.to_owned(), url.to_owned()] };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    let other = match netloc
        .rsplit_once(':')
        .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    {
        Some((host, _)) => format!("{scheme}://{host}{tail}"),
        None => {
            let port = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
            format!("{scheme}://{netloc}:{port}{tail}")
        }
    };
    [url.to_owned(), other]
}

/// The signature over `url` and `params` with `key`.
pub(crate) fn compute(url: &str, params: &Params<'_>, key: &[u8], algorithm: Algorithm) -> String {
    let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
    for (name, values) in params {
        for value in values {
            parts.push(name.as_bytes());
            parts.push(value.as_bytes());
        }
    }
    let mac: Vec<u8> = match algorithm {
        Algorithm::Sha1 => hmac_sha1(key, &parts).to_vec(),
        Algorithm::Sha256 => hmac_sha256(key, &parts).to_vec(),
    };
    STANDARD.encode(mac)
}

/// The `bodySHA256` query parameter, if the URL has one.
fn body_hash_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "bodySHA256").map(|(_, v)| v.into_owned())
}

/// Checks a request against any of the secrets.
pub(crate) fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    let algorithm = algorithm(request).ok_or(RejectReason::NoSupportedSignature)?;
    let params = if is_form(request) {
        form_params(&request.body)
    } else {
        if let Some(expected) = body_hash_param(&request.url)
            && !ct_eq(sha256_hex(&request.body).as_bytes(), expected.as_bytes())
        {
            return Err(RejectReason::SignatureMismatch);
        }
        Params::new()
    };
    // Each comparison is constant time; stopping at the first match only
    // tells which secret or URL form matched, which is no secret.
    let variants = url_variants(&request.url);
    let matched = secrets.iter().any(|secret| {
        variants
            .iter()
            .any(|url| ct_eq(compute(url, &params, secret.expose().as_bytes(), algorithm).as_bytes(), given.as_bytes()))
    });
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    fn request(pairs: &[(&str, &str)], url: &str, body: &'static [u8]) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        WebhookRequest { method: "POST".into(), url: url.into(), headers, body: Bytes::from_static(body) }
    }

    #[test]
    fn twilios_documented_example_verifies() {
        // From Twilio's "Webhooks security" page.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body: &'static [u8] =
            b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
        let form = ("content-type", "application/x-www-form-urlencoded");
        let req = request(&[(SIGNATURE_HEADER, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="), form], url, body);
        assert_eq!(verify(&req, &[Secret::new("12345")]), Ok(()));
        let req = request(
            &[(SIGNATURE_HEADER, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="), form],
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            body,
        );
        assert_eq!(verify(&req, &[Secret::new("12345")]), Ok(()), "with the default port too");
        assert_eq!(verify(&req, &[Secret::new("54321")]), Err(RejectReason::SignatureMismatch));
    }

    #[test]
    fn plain_pairs_are_read_as_the_crate_reads_them() {
        let body = b"A=1&B=x%2By+z&C&=d&E=%zz&F=caf\xc3\xa9&&G=";
        let ours: Vec<_> = form_pairs(body).collect();
        let crates: Vec<_> = form_urlencoded::parse(body).collect();
        assert_eq!(ours, crates);
    }

    #[test]
    fn ports_are_added_and_removed() {
        assert_eq!(url_variants("https://a.b/c?d"), ["https://a.b/c?d".to_owned(), "https://a.b:443/c?d".to_owned()]);
        assert_eq!(url_variants("http://a.b:8080/c"), ["http://a.b:8080/c".to_owned(), "http://a.b/c".to_owned()]);
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,60}", settings in ".{0,60}", url in ".{0,120}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut headers = HeaderMap::new();
            for (name, value) in [(SIGNATURE_HEADER, &sig), (SETTINGS_HEADER, &settings)] {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
            let req = WebhookRequest { method: "POST".into(), url, headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")]);
        }
    }
}
