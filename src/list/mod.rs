//! `lvsd list`: the kernel's IPVS table as `ipvsadm -Ln` 1.31 prints it,
//! byte for byte, or as JSON. Pure: the CLI reads the kernel (and
//! `/proc/net/ip_vs_conn`) and hands the values to these functions.
#![forbid(unsafe_code)]

pub mod addr;
pub mod conn;
pub mod json;
pub mod sort;
pub mod text;

pub use conn::{parse_connections, Connection, ConnectionParseError};
pub use text::{Columns, TextFormat};

use ipvs::model::{Destination, Service, ServiceKey, Table};

/// A service with its real servers, in the order they will be printed.
pub type ServiceEntry = (Service, Vec<Destination>);

/// Puts services and their destinations in ipvsadm's listing order
/// (or leaves the kernel's order when `sort` is false, like `--nosort`).
pub fn listing_order(table: &Table, sort: bool) -> Vec<ServiceEntry> {
    let mut services = table.services.clone();
    if sort {
        sort::sort_services(&mut services);
        for (_, dests) in &mut services {
            sort::sort_dests(dests);
        }
    }
    services
}

/// The service a filter (`-t`, `-u`, `--sctp-service`, `-f`) names, if the
/// kernel has it: the same lookup the kernel does for ipvsadm's GET_SERVICE.
pub fn find_service<'t>(table: &'t Table, key: &ServiceKey) -> Option<&'t ServiceEntry> {
    table.services.iter().find(|(s, _)| s.key == *key)
}
