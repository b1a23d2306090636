//! The IPVS side of the daemon: reading the kernel's table and applying
//! batches of operations, counting every write.

use std::future::Future;

use ipvs::model::Table;
use ipvs::ops::Op;

/// What the daemon needs from IPVS (the ipvs crate's client provides it).
pub trait Kernel {
    fn table(&mut self) -> impl Future<Output = Result<Table, String>>;
    /// Applies `ops` in order; on failure, the text names every refused operation.
    fn apply(&mut self, ops: &[Op]) -> impl Future<Output = Result<(), String>>;
}

/// Placeholder until the ipvs crate's client is merged.
pub struct NoClient;

impl Kernel for NoClient {
    async fn table(&mut self) -> Result<Table, String> {
        Err("the IPVS client is not available in this build".into())
    }
    async fn apply(&mut self, _ops: &[Op]) -> Result<(), String> {
        Err("the IPVS client is not available in this build".into())
    }
}

pub async fn connect() -> Result<NoClient, String> {
    Err("the IPVS client is not available in this build".into())
}
