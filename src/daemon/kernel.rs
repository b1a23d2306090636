//! The IPVS side of the daemon: reading the kernel's table and applying
//! batches of operations through the ipvs crate's client.

use std::future::Future;

use ipvs::model::{SyncDaemon, Table};
use ipvs::ops::Op;
use ipvs::IpvsClient;

/// What the daemon needs from IPVS (the ipvs crate's client provides it;
/// the trait keeps the director loop testable without a kernel).
pub trait Kernel {
    fn table(&mut self) -> impl Future<Output = Result<Table, String>>;
    /// Applies `ops` in order; on failure, the text names every refused operation.
    fn apply(&mut self, ops: &[Op]) -> impl Future<Output = Result<(), String>>;
    /// The connection-sync daemons the kernel runs.
    fn daemons(&mut self) -> impl Future<Output = Result<Vec<SyncDaemon>, String>>;
}

/// The kernel's IPVS over generic netlink.
pub struct IpvsKernel(IpvsClient);

impl Kernel for IpvsKernel {
    async fn table(&mut self) -> Result<Table, String> {
        self.0
            .table()
            .await
            .map_err(|e| format!("reading the IPVS table: {e}"))
    }

    async fn apply(&mut self, ops: &[Op]) -> Result<(), String> {
        self.0.apply(ops).await.map_err(|e| {
            let mut text = e.to_string();
            for (i, err) in &e.failures {
                let op = ops.get(*i).map(|o| o.to_string()).unwrap_or_default();
                text.push_str(&format!("\n  {op}: {err}"));
            }
            text
        })
    }

    async fn daemons(&mut self) -> Result<Vec<SyncDaemon>, String> {
        self.0
            .daemons()
            .await
            .map_err(|e| format!("reading the IPVS sync daemons: {e}"))
    }
}

/// Connects to the kernel's IPVS (needs the ip_vs module and CAP_NET_ADMIN).
pub async fn connect() -> Result<IpvsKernel, String> {
    IpvsClient::connect()
        .await
        .map(IpvsKernel)
        .map_err(|e| format!("connecting to IPVS: {e}"))
}
