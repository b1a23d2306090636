//! The addresses on this machine's interfaces, watched for `ha_suspend`,
//! `track_src_ip` and VIPs deleted behind lvsd's back:
//! a full list at start and again after every address change the kernel
//! announces (rtnetlink's IPv4/IPv6 address groups). Re-listing instead of
//! applying each message keeps the set right when messages are lost (an
//! overrun socket) and changes are rare.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use rtnetlink::packet_route::address::AddressAttribute;
use tokio::sync::mpsc;

/// Lists every address of every interface.
async fn list(handle: &rtnetlink::Handle) -> Result<BTreeSet<IpAddr>, rtnetlink::Error> {
    let mut out = BTreeSet::new();
    let mut stream = handle.address().get().execute();
    while let Some(msg) = stream.try_next().await? {
        for a in &msg.attributes {
            if let AddressAttribute::Local(ip) | AddressAttribute::Address(ip) = a {
                out.insert(*ip);
            }
        }
    }
    Ok(out)
}

/// Sends the set of local addresses now and after every change, until the
/// receiver is gone. Errors are logged; without a netlink socket nothing is
/// sent (the `ha_suspend` checkers then stay suspended, which the log says).
pub async fn watch(tx: mpsc::Sender<BTreeSet<IpAddr>>) {
    use rtnetlink::constants::{RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR};
    use rtnetlink::sys::{AsyncSocket, SocketAddr};
    let (mut conn, handle, mut changes) = match rtnetlink::new_connection() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("no rtnetlink socket to watch addresses: {e}");
            return;
        }
    };
    let groups = SocketAddr::new(0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
    if let Err(e) = conn.socket_mut().socket_mut().bind(&groups) {
        tracing::error!("cannot watch address changes: {e}");
        return;
    }
    tokio::spawn(conn);
    let mut last: Option<BTreeSet<IpAddr>> = None;
    loop {
        match list(&handle).await {
            Ok(now) if last.as_ref() != Some(&now) => {
                if tx.send(now.clone()).await.is_err() {
                    return;
                }
                last = Some(now);
            }
            Ok(_) => {}
            Err(e) => tracing::error!("listing the machine's addresses: {e}"),
        }
        if changes.next().await.is_none() {
            return;
        }
        // A VRRP transition adds or removes several addresses at once.
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, changes.next()).await {}
    }
}
