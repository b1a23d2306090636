//! ipvsadm's listing order. ipvsadm sorts with glibc `qsort` and
//! comparators that subtract unsigned fields and read the difference as a
//! signed `int`, so 192.168.0.1 sorts before 10.0.0.1 and fwmark
//! 4294967295 before every other service. That order is not transitive,
//! so the result depends on the algorithm: glibc 2.36 (Debian 12) sorts
//! with a top-down merge sort, reproduced here. Pure.

use std::net::IpAddr;

use ipvs::model::{addr_bytes, Destination, Service, ServiceKey, AF_INET, AF_INET6};

/// glibc's `msort_with_tmp`: split at n/2, sort both halves, merge taking
/// from the left while `cmp(left, right) <= 0` (stable).
pub fn glibc_merge_sort<T: Clone>(items: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let n = items.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    {
        let (left, right) = items.split_at_mut(n1);
        glibc_merge_sort(left, cmp);
        glibc_merge_sort(right, cmp);
    }
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&items[i], &items[j]) <= 0 {
            merged.push(items[i].clone());
            i += 1;
        } else {
            merged.push(items[j].clone());
            j += 1;
        }
    }
    merged.extend_from_slice(&items[i..n1]);
    merged.extend_from_slice(&items[j..n]);
    items.clone_from_slice(&merged);
}

/// `a - b` on unsigned 32-bit values, read as a C `int`.
fn c_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The address as four host-order 32-bit words (IPv4 in the first).
fn words(addr: &IpAddr) -> [u32; 4] {
    let b = addr_bytes(*addr);
    let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// Compares addresses as libipvs does: four words when the first one is
/// IPv6, else only the first word.
fn addr_diff(a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (words(a), words(b));
    let n = if a.is_ipv6() { 4 } else { 1 };
    let mut r = 0;
    for i in 0..n {
        r = c_diff(wa[i], wb[i]);
        if r != 0 {
            break;
        }
    }
    r
}

/// The fields libipvs's `ipvs_cmp_services` reads.
fn service_fields(key: &ServiceKey) -> (u32, u16, u16, IpAddr, u16) {
    match *key {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => (0, key.af(), protocol.number(), addr, port),
        ServiceKey::Fwmark { mark, ipv6 } => {
            let af = if ipv6 { AF_INET6 } else { AF_INET };
            let zero = if ipv6 {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
            };
            (mark, af, 0, zero, 0)
        }
    }
}

/// libipvs `ipvs_cmp_services`: fwmark, family, protocol, address, port.
pub fn cmp_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    let (ma, afa, pa, aa, pta) = service_fields(a);
    let (mb, afb, pb, ab, ptb) = service_fields(b);
    let r = c_diff(ma, mb);
    if r != 0 {
        return r;
    }
    let r = i32::from(afa) - i32::from(afb);
    if r != 0 {
        return r;
    }
    let r = i32::from(pa) - i32::from(pb);
    if r != 0 {
        return r;
    }
    let r = addr_diff(&aa, &ab);
    if r != 0 {
        return r;
    }
    i32::from(pta) - i32::from(ptb)
}

/// libipvs `ipvs_cmp_dests`: address (by the first one's family), port.
pub fn cmp_dests(a: &Destination, b: &Destination) -> i32 {
    let r = addr_diff(&a.addr, &b.addr);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

pub fn sort_services<D: Clone>(services: &mut [(Service, D)]) {
    glibc_merge_sort(services, &|a: &(Service, D), b: &(Service, D)| {
        cmp_services(&a.0.key, &b.0.key)
    });
}

/// Services alone (their destinations are fetched one service at a time).
pub fn sort_service_list(services: &mut [Service]) {
    glibc_merge_sort(services, &|a: &Service, b: &Service| {
        cmp_services(&a.key, &b.key)
    });
}

pub fn sort_dests(dests: &mut [Destination]) {
    glibc_merge_sort(dests, &cmp_dests);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::model::{Forward, Protocol, Scheduler};

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: addr.parse().expect("test address"),
            port,
        }
    }

    fn keys(list: &[(Service, ())]) -> Vec<String> {
        list.iter().map(|(s, _)| s.key.to_string()).collect()
    }

    fn services(keys: &[ServiceKey]) -> Vec<(Service, ())> {
        keys.iter()
            .map(|k| (Service::new(*k, Scheduler::Rr), ()))
            .collect()
    }

    /// Captured in UML: ipvsadm 1.31 `-Ln` put 255.255.255.255:65535 first
    /// and fwmark 4294967295 ("FWM  -1") before every other service.
    #[test]
    fn wrapping_differences_order_like_ipvsadm() {
        let mut list = services(&[
            tcp("10.0.0.1", 80),
            tcp("255.255.255.255", 65535),
            ServiceKey::Fwmark {
                mark: u32::MAX,
                ipv6: false,
            },
            ServiceKey::Fwmark {
                mark: 1,
                ipv6: false,
            },
            tcp("fd00::1", 80),
            ServiceKey::Inet {
                protocol: Protocol::Udp,
                addr: "10.0.0.3".parse().expect("v4"),
                port: 53,
            },
        ]);
        sort_services(&mut list);
        assert_eq!(
            keys(&list),
            [
                "FWM 4294967295",
                "TCP 255.255.255.255:65535",
                "TCP 10.0.0.1:80",
                "UDP 10.0.0.3:53",
                "TCP [fd00::1]:80",
                "FWM 1",
            ]
        );
    }

    /// Captured in UML: an IPv6 fwmark service with tunnel destinations of
    /// both families, listed [fd00::9], 255.9.9.8, 0.0.0.1, 10.9.9.8, 10.9.9.9.
    #[test]
    fn mixed_family_destinations_order_like_ipvsadm() {
        // Added 10.9.9.9, fd00::9, 10.9.9.8, 255.9.9.8, 0.0.0.1; the kernel
        // dumps the newest first.
        let order = ["0.0.0.1", "255.9.9.8", "10.9.9.8", "fd00::9", "10.9.9.9"];
        let mut dests: Vec<Destination> = order
            .iter()
            .map(|a| Destination::new(a.parse().expect("addr"), 0, Forward::Tunnel, 3))
            .collect();
        sort_dests(&mut dests);
        let got: Vec<String> = dests.iter().map(|d| d.addr.to_string()).collect();
        assert_eq!(
            got,
            ["fd00::9", "255.9.9.8", "0.0.0.1", "10.9.9.8", "10.9.9.9"]
        );
    }

    proptest::proptest! {
        /// Even with ipvsadm's non-transitive order the result is a
        /// permutation of the input (nothing lost, nothing doubled).
        #[test]
        fn sorting_keeps_every_destination(addrs in proptest::collection::vec((proptest::prelude::any::<u32>(), proptest::prelude::any::<u16>()), 0..64)) {
            let mut dests: Vec<Destination> = addrs
                .iter()
                .map(|(a, p)| Destination::new(IpAddr::V4((*a).into()), *p, Forward::Masq, 1))
                .collect();
            let mut before: Vec<(IpAddr, u16)> = dests.iter().map(Destination::key).collect();
            sort_dests(&mut dests);
            let mut after: Vec<(IpAddr, u16)> = dests.iter().map(Destination::key).collect();
            before.sort();
            after.sort();
            proptest::prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn merge_sort_is_stable_and_splits_at_half() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        glibc_merge_sort(&mut v, &|a: &(i32, char), b: &(i32, char)| a.0 - b.0);
        assert_eq!(v, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
    }
}
