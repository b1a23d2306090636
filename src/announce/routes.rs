//! The announce table in the kernel: host routes `V/32` (`V/128`) on `lo`
//! in lvsd's table with lvsd's protocol number. Routes of other protocols in
//! that table are not lvsd's and are left alone.

use std::collections::BTreeSet;
use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage, RouteProtocol, RouteScope};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::RouteMessageBuilder;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("rtnetlink socket: {0}")]
    Socket(std::io::Error),
    #[error("{what}: {source}")]
    Request {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
}

/// A connection to the kernel's routing tables.
pub struct AnnounceTable {
    handle: rtnetlink::Handle,
    table: u32,
    protocol: u8,
    lo_index: Option<u32>,
}

fn table_of(m: &RouteMessage) -> u32 {
    m.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table))
}

fn destination_of(m: &RouteMessage) -> Option<IpAddr> {
    m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(d) => match d {
            rtnetlink::packet_route::route::RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
            rtnetlink::packet_route::route::RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        },
        _ => None,
    })
}

impl AnnounceTable {
    /// Opens a netlink connection (spawned on the current runtime).
    pub async fn open(table: u32, protocol: u8) -> Result<AnnounceTable, RouteError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(RouteError::Socket)?;
        tokio::spawn(conn);
        let lo_index = handle
            .link()
            .get()
            .match_name("lo".to_string())
            .execute()
            .try_next()
            .await
            .ok()
            .flatten()
            .map(|l| l.header.index);
        Ok(AnnounceTable {
            handle,
            table,
            protocol,
            lo_index,
        })
    }

    pub fn table(&self) -> u32 {
        self.table
    }

    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The VIPs lvsd's routes in the table announce now.
    pub async fn present(&self) -> Result<BTreeSet<IpAddr>, RouteError> {
        let mut out = BTreeSet::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut msg = RouteMessage::default();
            msg.header.address_family = family;
            let mut stream = self.handle.route().get(msg).execute();
            while let Some(m) = stream
                .try_next()
                .await
                .map_err(|source| RouteError::Request {
                    what: format!("listing table {}", self.table),
                    source,
                })?
            {
                let full = match m.header.address_family {
                    AddressFamily::Inet6 => 128,
                    _ => 32,
                };
                if table_of(&m) == self.table
                    && u8::from(m.header.protocol) == self.protocol
                    && m.header.destination_prefix_length == full
                {
                    if let Some(d) = destination_of(&m) {
                        out.insert(d);
                    }
                }
            }
        }
        Ok(out)
    }

    fn message(&self, vip: IpAddr) -> RouteMessage {
        let prefix = if vip.is_ipv4() { 32 } else { 128 };
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(vip, prefix)
            .unwrap_or_else(|_| RouteMessageBuilder::<IpAddr>::new())
            .table_id(self.table)
            .protocol(RouteProtocol::from(self.protocol))
            .scope(RouteScope::Host);
        if let Some(lo) = self.lo_index {
            b = b.output_interface(lo);
        }
        b.build()
    }

    pub async fn announce(&self, vip: IpAddr) -> Result<(), RouteError> {
        self.handle
            .route()
            .add(self.message(vip))
            .replace()
            .execute()
            .await
            .map_err(|source| RouteError::Request {
                what: format!("adding the route for {vip} to table {}", self.table),
                source,
            })
    }

    pub async fn withdraw(&self, vip: IpAddr) -> Result<(), RouteError> {
        self.handle
            .route()
            .del(self.message(vip))
            .execute()
            .await
            .map_err(|source| RouteError::Request {
                what: format!("deleting the route for {vip} from table {}", self.table),
                source,
            })
    }

    /// Deletes every route of lvsd's in the table; returns how many.
    pub async fn withdraw_all(&self) -> Result<usize, RouteError> {
        let present = self.present().await?;
        for vip in &present {
            self.withdraw(*vip).await?;
        }
        Ok(present.len())
    }
}
