//! The check that a fetched certificate is the provider's: its chain leads
//! to a public root (Mozilla's, as `webpki-roots` ships them, plus any an
//! operator adds for a test CA) and it is valid now for the provider's name.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

/// Checks `pem`, a certificate chain with the leaf first, for `dns_name`.
/// Returns a reason, never the certificate, when it fails.
pub(crate) fn check_chain(
    pem: &[u8],
    dns_name: &str,
    anchors: &[TrustAnchor<'_>],
    now: UnixTime,
) -> Result<(), String> {
    let chain: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a PEM certificate chain: {e}"))?;
    let (leaf, intermediates) = chain.split_first().ok_or("no certificate in the document")?;
    let leaf = EndEntityCert::try_from(leaf).map_err(|e| format!("unreadable certificate: {e}"))?;
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        intermediates,
        now,
        KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| format!("certificate chain not trusted: {e}"))?;
    let name = ServerName::try_from(dns_name).map_err(|e| format!("invalid name {dns_name}: {e}"))?;
    leaf.verify_is_valid_for_subject_name(&name).map_err(|e| format!("certificate not valid for {dns_name}: {e}"))
}

/// Reads extra trust anchors (a test CA) from PEM certificates.
pub(crate) fn anchors_from_pem(pem: &[u8]) -> Result<Vec<TrustAnchor<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .map(|cert| {
            let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
            webpki::anchor_from_trusted_cert(&cert).map(|a| a.to_owned()).map_err(|e| format!("not a CA: {e}"))
        })
        .collect()
}
