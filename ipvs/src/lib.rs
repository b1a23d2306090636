//! Linux IPVS over generic netlink.
