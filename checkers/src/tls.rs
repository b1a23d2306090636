//! TLS for SSL_GET and `genhash -S`: keepalived does not verify the server certificate, and
//! that stays the default; verifying against a CA file is opt-in.

use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{ClientCertFiles, TlsOptions};

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {path}: no usable certificate")]
    NoCertificate { path: PathBuf },
    #[error("client certificate file {path}: {reason}")]
    CertFile { path: PathBuf, reason: String },
    #[error("client key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Accepts any server certificate (keepalived's behaviour: health checks talk to real
/// servers by IP, often with self-signed certificates) but still checks that the handshake
/// was signed by the key of the certificate presented, so the TLS exchange itself is sound.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
            .or_else(|e| verify_with_certificate_key(e, message, cert, dss, algs))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
            .or_else(|e| verify_with_certificate_key(e, message, cert, dss, algs))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// When webpki cannot read the server's certificate (an X.509 v1 certificate,
/// which `openssl x509 -req` makes and OpenSSL, hence keepalived, accepts),
/// the handshake signature is checked against the public key read straight
/// from the certificate. Any other error stands.
fn verify_with_certificate_key(
    error: rustls::Error,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algs: &rustls::crypto::WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    if !matches!(
        error,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(_))
            | rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
    ) {
        return Err(error);
    }
    let Some((alg_id, key)) = spki::of_certificate(cert) else {
        return Err(error);
    };
    for (scheme, candidates) in algs.mapping {
        if *scheme != dss.scheme {
            continue;
        }
        for alg in *candidates {
            if alg.public_key_alg_id().as_ref() == alg_id {
                return alg
                    .verify_signature(key, message, dss.signature())
                    .map(|()| HandshakeSignatureValid::assertion())
                    .map_err(|_| {
                        rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
                    });
            }
        }
    }
    Err(error)
}

/// Just enough DER to find a certificate's public key (RFC 5280 4.1).
mod spki {
    /// One TLV: (tag, contents, the rest after it).
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// The SubjectPublicKeyInfo's algorithm identifier (the contents of its
    /// SEQUENCE, as `AlgorithmIdentifier` holds it) and the key bits.
    pub fn of_certificate(cert: &[u8]) -> Option<(&[u8], &[u8])> {
        let (0x30, certificate, _) = tlv(cert)? else {
            return None;
        };
        let (0x30, tbs, _) = tlv(certificate)? else {
            return None;
        };
        let mut rest = tbs;
        // [0] version (absent in v1), serial, signature, issuer, validity, subject.
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest)?.2;
        }
        for _ in 0..5 {
            rest = tlv(rest)?.2;
        }
        let (0x30, spki, _) = tlv(rest)? else {
            return None;
        };
        let (0x30, alg, after) = tlv(spki)? else {
            return None;
        };
        let (0x03, bits, _) = tlv(after)? else {
            return None;
        };
        // The BIT STRING's first byte counts unused bits: 0 for keys.
        let (&0, key) = bits.split_first()? else {
            return None;
        };
        Some((alg, key))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn garbage_is_not_a_certificate() {
            for input in [
                &b""[..],
                b"\x30",
                b"\x30\x85\x00",
                b"\x30\x02\x30\x00",
                b"\x04\x00",
            ] {
                assert!(super::of_certificate(input).is_none());
            }
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `options`.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &options.verify_ca_file {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                provider: provider.clone(),
            })),
        Some(path) => builder.with_root_certificates(load_roots(path)?),
    };
    let config = match &options.client_cert {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let (chain, key) = load_client_cert(files)?;
            let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
                TlsConfigError::KeyFile {
                    path: files.key.clone(),
                    reason: e.to_string(),
                }
            })?;
            // Not `with_client_auth_cert`: it parses the certificate with webpki,
            // which refuses X.509 v1 certificates that OpenSSL (keepalived) and
            // the servers that asked for them accept. The certificate is sent as
            // it is; the server judges it.
            let key = Arc::new(CertifiedKey::new(chain, signing_key));
            builder.with_client_cert_resolver(Arc::new(FixedClientCert(key)))
        }
    };
    Ok(Arc::new(config))
}

/// The one client certificate of `SSL { }`, offered whenever a server asks.
#[derive(Debug)]
struct FixedClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Reads a client certificate chain and its key (decrypting an encrypted PKCS#8 key
/// with the password); every failure names the file.
pub fn load_client_cert(
    files: &ClientCertFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsConfigError> {
    let cert_error = |reason: String| TlsConfigError::CertFile {
        path: files.certificate.clone(),
        reason,
    };
    let file = File::open(&files.certificate).map_err(|e| cert_error(e.to_string()))?;
    let chain = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no PEM certificate in it".into()));
    }
    let key_error = |reason: String| TlsConfigError::KeyFile {
        path: files.key.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&files.key).map_err(|e| key_error(e.to_string()))?;
    let key = private_key(&text, files.password.as_deref()).map_err(key_error)?;
    Ok((chain, key))
}

/// The private key in PEM `text`: PKCS#8 (encrypted with `password` or not), PKCS#1
/// or SEC1. OpenSSL's older encrypted PEM (`Proc-Type: 4,ENCRYPTED`, MD5-derived
/// keys) is refused with the command that converts it.
pub fn private_key(text: &str, password: Option<&str>) -> Result<PrivateKeyDer<'static>, String> {
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(
            "an OpenSSL legacy encrypted key, which lvsd does not read: convert it \
                    with `openssl pkcs8 -topk8 -in KEY -out KEY.p8` (it asks for the \
                    password and a new one) and name KEY.p8"
                .into(),
        );
    }
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(password) = password else {
            return Err("the key is encrypted and SSL { password } is not set".into());
        };
        let (label, der) = pkcs8::der::Document::from_pem(text)
            .map_err(|e| format!("reading the encrypted key: {e}"))?;
        if label != "ENCRYPTED PRIVATE KEY" {
            return Err(format!("expected an ENCRYPTED PRIVATE KEY, found {label}"));
        }
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_bytes())
            .map_err(|e| format!("reading the encrypted key: {e}"))?;
        let plain = info
            .decrypt(password)
            .map_err(|e| format!("decrypting the key (wrong password?): {e}"))?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    match rustls_pemfile::private_key(&mut text.as_bytes()) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err("no PEM private key in it".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let ca_error = |source| TlsConfigError::CaFile {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(ca_error)?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut BufReader::new(file)) {
        let cert = cert.map_err(ca_error)?;
        // A certificate rustls cannot use is skipped; none at all is an error below.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(TlsConfigError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(roots)
}

/// The name to present: the SNI host when enabled (and valid), else the IP address, for
/// which rustls sends no SNI extension (keepalived without `enable_sni` sends none either).
pub fn server_name(sni: Option<&str>, ip: IpAddr) -> ServerName<'static> {
    sni.and_then(|name| ServerName::try_from(name.to_string()).ok())
        .unwrap_or(ServerName::IpAddress(ip.into()))
}
