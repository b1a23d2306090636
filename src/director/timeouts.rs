//! `lvs_timeouts`, as keepalived 2.2.7 applies them (check_daemon.c,
//! libipvs.c ipvs_set_timeout, read for the rules): before changing the
//! kernel's IPVS connection timeouts the first time, remember what they were;
//! each (re)load sets the configured ones and the remembered value for the
//! others; a reload that no longer configures any, and the stop, put the
//! remembered values back. A configured 0 means "not set". Pure.
#![forbid(unsafe_code)]

use ipvs::model::Timeouts;

use crate::config::LvsTimeouts;

/// Whether `configured` sets any timeout.
pub fn any(configured: &LvsTimeouts) -> bool {
    [configured.tcp, configured.tcp_fin, configured.udp]
        .iter()
        .any(|t| t.is_some_and(|s| s != 0))
}

/// The timeouts to set given the configured ones and the kernel's values from
/// before lvsd first changed them; `None`: nothing to set.
pub fn wanted(configured: &LvsTimeouts, original: Option<Timeouts>) -> Option<Timeouts> {
    let original = original?;
    if !any(configured) {
        return Some(original);
    }
    let pick = |c: Option<u32>, o: u32| c.filter(|s| *s != 0).unwrap_or(o);
    Some(Timeouts {
        tcp: pick(configured.tcp, original.tcp),
        tcp_fin: pick(configured.tcp_fin, original.tcp_fin),
        udp: pick(configured.udp, original.udp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: Timeouts = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };

    #[test]
    fn unset_and_zero_keep_the_kernel_values() {
        let c = LvsTimeouts {
            tcp: Some(7200),
            tcp_fin: Some(0),
            udp: None,
        };
        assert_eq!(
            wanted(&c, Some(KERNEL)),
            Some(Timeouts {
                tcp: 7200,
                tcp_fin: 120,
                udp: 300
            })
        );
    }

    #[test]
    fn nothing_configured_restores_what_was_changed() {
        assert_eq!(wanted(&LvsTimeouts::default(), Some(KERNEL)), Some(KERNEL));
        assert_eq!(wanted(&LvsTimeouts::default(), None), None);
        assert!(!any(&LvsTimeouts {
            tcp: Some(0),
            tcp_fin: None,
            udp: None
        }));
    }
}
