//! TLS for SSL_GET and `genhash -S`: keepalived does not verify the server certificate, and
//! that stays the default; verifying against a CA file is opt-in.

use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::TlsOptions;

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {path}: no usable certificate")]
    NoCertificate { path: PathBuf },
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
    let config = match &options.verify_ca_file {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
            .with_no_client_auth(),
        Some(path) => builder
            .with_root_certificates(load_roots(path)?)
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
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
