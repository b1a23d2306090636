//! lvsd's own `route_announce { }` block (issue #17). keepalived 2.2.7 reads
//! an unknown top-level block line by line as top-level keywords and warns
//! for each; none of these names is a keepalived top-level keyword, so a
//! file with this block still loads in keepalived.

use super::Cx;
use crate::config::model::{AnnouncePolicy, RouteAnnounce};
use crate::config::tree::Node;

pub(super) fn route_announce(cx: &mut Cx<'_>, node: &Node) -> RouteAnnounce {
    let mut r = RouteAnnounce {
        span: node.span(),
        ..RouteAnnounce::default()
    };
    for n in cx.block(node) {
        match n.name() {
            "table" => {
                // 0 is unspec; 253-255 are the kernel's default, main and local.
                if let Some(v) = cx.int(n, 1, 252).and_then(|v| u32::try_from(v).ok()) {
                    r.table = v;
                }
            }
            "protocol" => {
                // Below 5 are the kernel's own (unspec, redirect, kernel, boot, static).
                if let Some(v) = cx.int(n, 5, 255).and_then(|v| u8::try_from(v).ok()) {
                    r.protocol = v;
                }
            }
            "policy" => match cx.one(n, "all or any") {
                Some(t) if t.text == "all" => r.policy = AnnouncePolicy::All,
                Some(t) if t.text == "any" => r.policy = AnnouncePolicy::Any,
                Some(t) => cx.invalid(n, t, "all or any"),
                None => {}
            },
            "startup_delay" => r.startup_delay = cx.timer(n),
            "drain_delay" => {
                if let Some(d) = cx.timer(n) {
                    r.drain_delay = d;
                }
            }
            "withdraw_on_exit" => r.withdraw_on_exit = cx.flag(n),
            "sloppy_tcp" => r.sloppy_tcp = cx.flag(n),
            _ => cx.unknown(n, "route_announce"),
        }
    }
    r
}
