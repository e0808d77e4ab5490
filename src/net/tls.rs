//! TLS for `wss://` connections: rustls (with the *ring* provider), trusting the public web
//! roots and any certificates the caller adds (a relay or a peer with a private or self-signed
//! certificate).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_tungstenite::Connector;

/// The connector for `url`: rustls for `wss://` (trusting the web roots and the PEM
/// certificates in `extra_pem`), `None` (plain TCP) otherwise. Fails, saying why, when
/// `extra_pem` holds no certificate or one that does not parse.
pub(crate) fn connector(url: &str, extra_pem: &[u8]) -> Result<Option<Connector>, String> {
    let secure = url
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("wss://"));
    if !secure {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_certificates(extra_pem)? {
        roots
            .add(cert)
            .map_err(|e| format!("a trusted certificate is not usable: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Connector::Rustls(Arc::new(config))))
}

/// What to do about a failed connection to `url`, when its error `e` says enough: TLS
/// errors read like "invalid peer certificate: UnknownIssuer". Empty when there is nothing to
/// add.
pub(crate) fn hint(url: &str, e: &str) -> &'static str {
    let hints: [(&str, &str); 6] = [
        (
            "UnknownIssuer",
            "; the server's certificate is not from a public authority: trust it (or its CA) with `trusted_certs_pem` (`--ca-file` on the command line)",
        ),
        (
            "BadSignature",
            "; the server's certificate is not signed by the certificate trusted under its issuer's name (a self-signed certificate made anew?): trust its current certificate (or its CA) with `trusted_certs_pem` (`--ca-file` on the command line)",
        ),
        (
            "CaUsedAsEndEntity",
            "; the server's certificate is a CA certificate (`openssl req -x509` makes one unless given `-addext basicConstraints=critical,CA:FALSE`): give the server a leaf certificate",
        ),
        (
            "NotValidForName",
            "; the server's certificate does not list this host name: connect with a name it lists",
        ),
        (
            "Expired",
            "; the server's certificate has expired: renew it",
        ),
        (
            "invalid HTTP version",
            "; the server may speak TLS: connect with wss://",
        ),
    ];
    hints
        .iter()
        .find(|(needle, _)| e.contains(needle))
        .filter(|(needle, _)| *needle != "invalid HTTP version" || url.starts_with("ws://"))
        .map_or("", |(_, hint)| hint)
}

/// The cryptography behind our TLS: *ring*. rustls 0.23.48 deprecates its *ring* provider
/// because it offers no post-quantum key exchange; the alternative, aws-lc-rs, needs CMake
/// (and NASM on Windows) to build for every platform the bindings target, so *ring* stays
/// until rustls offers post-quantum key exchange without it.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM bundle (none when it is empty).
fn extra_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    if pem.is_empty() {
        return Ok(Vec::new());
    }
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the trusted certificates are not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(
            "the trusted certificates hold no \"BEGIN CERTIFICATE\" block: pass PEM certificates"
                .into(),
        );
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_need_no_tls() {
        assert!(connector("ws://127.0.0.1:1/sync", b"").unwrap().is_none());
    }

    #[test]
    fn secure_urls_get_rustls() {
        assert!(matches!(
            connector("WSS://relay.example/sync", b""),
            Ok(Some(Connector::Rustls(_)))
        ));
    }

    #[test]
    fn certificate_errors_say_what_to_do() {
        let url = "wss://relay.example/sync";
        let e = "IO error: invalid peer certificate: UnknownIssuer";
        assert!(hint(url, e).contains("--ca-file"));
        let e = "IO error: invalid peer certificate: BadSignature";
        assert!(hint(url, e).contains("made anew"));
        assert!(hint(url, e).contains("--ca-file"));
        let e = "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))";
        assert!(hint(url, e).contains("leaf certificate"));
        assert!(hint(url, "connection refused").is_empty());
        let e = "WebSocket protocol error: httparse error: invalid HTTP version";
        assert!(hint("ws://relay.example/sync", e).contains("wss://"));
        assert!(hint(url, e).is_empty());
    }

    /// The error of a connector that must fail.
    fn refused(url: &str, pem: &[u8]) -> String {
        match connector(url, pem) {
            Ok(_) => panic!("a connector from a bad PEM"),
            Err(e) => e,
        }
    }

    #[test]
    fn bad_trusted_certificates_are_refused_with_a_reason() {
        let e = refused("wss://relay.example/sync", b"not a certificate");
        assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
        let broken = b"-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n";
        let e = refused("wss://relay.example/sync", broken);
        assert!(e.contains("not valid PEM"), "{e}");
        // A key is not a certificate.
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = refused("wss://relay.example/sync", key);
        assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
    }
}
