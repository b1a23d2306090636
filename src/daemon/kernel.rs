//! The IPVS side of the daemon: reading the kernel's table and applying
//! batches of operations through the ipvs crate's client.

use std::future::Future;

use ipvs::model::{SyncDaemon, Table, Timeouts};
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
    /// The TCP, TCP FIN and UDP connection timeouts.
    fn timeouts(&mut self) -> impl Future<Output = Result<Timeouts, String>>;
    /// Operations applied so far by (kind, "ok" or "error").
    fn op_counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        Vec::new()
    }
}

/// The kernel's IPVS over generic netlink, counting what it applies.
pub struct IpvsKernel(
    IpvsClient,
    std::collections::BTreeMap<(&'static str, &'static str), u64>,
);

impl Kernel for IpvsKernel {
    async fn table(&mut self) -> Result<Table, String> {
        self.0
            .table()
            .await
            .map_err(|e| format!("reading the IPVS table: {e}"))
    }

    async fn apply(&mut self, ops: &[Op]) -> Result<(), String> {
        let result = self.0.apply(ops).await;
        let refused: std::collections::BTreeSet<usize> = match &result {
            Ok(()) => Default::default(),
            Err(e) => e.failures.iter().map(|(i, _)| *i).collect(),
        };
        for (i, op) in ops.iter().enumerate() {
            let outcome = if refused.contains(&i) { "error" } else { "ok" };
            *self.1.entry((op.kind(), outcome)).or_default() += 1;
        }
        result.map_err(|e| {
            let mut text = e.to_string();
            for (i, err) in &e.failures {
                let op = ops.get(*i).map(|o| o.to_string()).unwrap_or_default();
                text.push_str(&failure_line(&op, &err.to_string()));
            }
            text
        })
    }

    fn op_counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        self.1.iter().map(|(&(k, r), &n)| (k, r, n)).collect()
    }

    async fn daemons(&mut self) -> Result<Vec<SyncDaemon>, String> {
        self.0
            .daemons()
            .await
            .map_err(|e| format!("reading the IPVS sync daemons: {e}"))
    }

    async fn timeouts(&mut self) -> Result<Timeouts, String> {
        self.0
            .timeouts()
            .await
            .map_err(|e| format!("reading the IPVS timeouts: {e}"))
    }
}

/// The kernel's IPVS, or not yet. A configuration without virtual servers
/// needs none (keepalived starts no checker process then), so lvsd runs
/// one on a kernel without IPVS (no ip_vs module) as keepalived does.
/// Until IPVS answers, the table reads as empty (nothing of ours can be in
/// it) and operations fail naming the missing IPVS; each use tries to
/// connect again, so a reload that adds virtual servers finds the module
/// once it is there.
pub struct OptionalIpvs(Option<IpvsKernel>);

impl OptionalIpvs {
    /// Connected when the kernel has IPVS; otherwise the second value says
    /// why not.
    pub async fn connect() -> (OptionalIpvs, Option<String>) {
        match connect().await {
            Ok(k) => (OptionalIpvs(Some(k)), None),
            Err(e) => (OptionalIpvs(None), Some(e)),
        }
    }

    async fn kernel(&mut self) -> Result<&mut IpvsKernel, String> {
        if self.0.is_none() {
            let k = connect().await?;
            tracing::info!("IPVS is there now");
            self.0 = Some(k);
        }
        self.0
            .as_mut()
            .ok_or_else(|| "connecting to IPVS: no connection".to_owned())
    }
}

impl From<IpvsKernel> for OptionalIpvs {
    fn from(k: IpvsKernel) -> OptionalIpvs {
        OptionalIpvs(Some(k))
    }
}

impl Kernel for OptionalIpvs {
    async fn table(&mut self) -> Result<Table, String> {
        match self.kernel().await {
            Ok(k) => k.table().await,
            Err(_) => Ok(Table::default()),
        }
    }

    async fn apply(&mut self, ops: &[Op]) -> Result<(), String> {
        if ops.is_empty() {
            return Ok(());
        }
        self.kernel().await?.apply(ops).await
    }

    async fn daemons(&mut self) -> Result<Vec<SyncDaemon>, String> {
        match self.kernel().await {
            Ok(k) => k.daemons().await,
            Err(_) => Ok(Vec::new()),
        }
    }

    async fn timeouts(&mut self) -> Result<Timeouts, String> {
        self.kernel().await?.timeouts().await
    }

    fn op_counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        self.0.as_ref().map(|k| k.op_counts()).unwrap_or_default()
    }
}

/// One line per refused operation; most errors already name their operation,
/// which is then not repeated.
fn failure_line(op: &str, error: &str) -> String {
    if op.is_empty() || error.starts_with(op) {
        format!("\n  {error}")
    } else {
        format!("\n  {op}: {error}")
    }
}

/// Connects to the kernel's IPVS (needs the ip_vs module and CAP_NET_ADMIN).
pub async fn connect() -> Result<IpvsKernel, String> {
    IpvsClient::connect()
        .await
        .map(|c| IpvsKernel(c, Default::default()))
        .map_err(|e| format!("connecting to IPVS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::failure_line;

    #[test]
    fn a_refused_operation_is_named_once() {
        let op = "add real server 10.2.0.1:80 to TCP 10.1.0.1:80";
        assert_eq!(
            failure_line(
                op,
                &format!("{op}: the kernel rejected the request as invalid (EINVAL)")
            ),
            format!("\n  {op}: the kernel rejected the request as invalid (EINVAL)")
        );
        assert_eq!(
            failure_line(
                "add service TCP 10.1.0.1:80",
                "service TCP 10.1.0.1:80 already exists"
            ),
            "\n  add service TCP 10.1.0.1:80: service TCP 10.1.0.1:80 already exists"
        );
    }
}
