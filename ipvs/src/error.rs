//! Errors of the IPVS client: each names the object the kernel refused.

use crate::model::ModelError;

/// Why an IPVS request failed.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the kernel has no IPVS generic netlink family (is the ip_vs module loaded?)")]
    FamilyNotFound,
    #[error("malformed netlink reply to {what}: {detail}")]
    Decode { what: String, detail: String },
    #[error("reply to {what}: {source}")]
    Model {
        what: String,
        #[source]
        source: ModelError,
    },
    #[error("service {service} already exists")]
    ServiceExists { service: String },
    #[error("service {service} does not exist")]
    ServiceNotFound { service: String },
    #[error("real server {dest} of service {service} already exists")]
    DestinationExists { service: String, dest: String },
    #[error("real server {dest} of service {service} does not exist")]
    DestinationNotFound { service: String, dest: String },
    /// ENOENT to a service add or edit: the kernel has no scheduler (or
    /// persistence engine) of that name and could not load its module.
    #[error("{op}: {missing}")]
    SchedulerNotFound { op: String, missing: String },
    #[error("{op}: the kernel rejected the request as invalid (EINVAL)")]
    InvalidArgument { op: String },
    #[error("{op}: permission denied (needs CAP_NET_ADMIN)")]
    PermissionDenied { op: String },
    #[error("{op}: kernel error {errno} ({message})")]
    Kernel {
        op: String,
        errno: i32,
        message: String,
    },
}

/// Every failure of a batch, with the index of the operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{} of {total} IPVS operations failed; first: {}", failures.len(), first_text(failures))]
pub struct BatchError {
    pub total: usize,
    pub failures: Vec<(usize, IpvsError)>,
}

fn first_text(failures: &[(usize, IpvsError)]) -> String {
    failures
        .first()
        .map(|(_, e)| e.to_string())
        .unwrap_or_default()
}
