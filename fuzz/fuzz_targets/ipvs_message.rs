//! cargo-fuzz target: whatever bytes a netlink socket returns, framing and
//! decoding IPVS replies into typed services, real servers and sync daemons
//! must return values or errors, never panic; decoded messages re-encode.
#![no_main]

use ipvs::frame::{parse_datagram, Reply};
use ipvs::model::{Destination, Service, SyncDaemon, AF_INET, AF_INET6};
use ipvs::ops::encode;
use ipvs::wire::IpvsAttr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&family, rest)) = data.split_first() else {
        return;
    };
    // Family ids are small numbers assigned at boot; let the input pick one.
    let family_id = 16 + u16::from(family % 32);
    let Ok(replies) = parse_datagram(rest, family_id) else {
        return;
    };
    for reply in replies {
        let Reply::Ipvs { msg, seq, .. } = reply else {
            continue;
        };
        for attr in &msg.attrs {
            match attr {
                IpvsAttr::Service(a) => {
                    let _ = Service::from_attrs(a);
                }
                IpvsAttr::Dest(a) => {
                    let _ = Destination::from_attrs(a, AF_INET);
                    let _ = Destination::from_attrs(a, AF_INET6);
                }
                IpvsAttr::Daemon(a) => {
                    let _ = SyncDaemon::from_attrs(a);
                }
                _ => {}
            }
        }
        let _ = encode(msg, family_id, seq, false);
    }
});
