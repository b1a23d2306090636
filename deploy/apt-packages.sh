#!/usr/bin/env bash
# Sourced, not run (the first line names its dialect). The Debian 12 packages
# lvsd's lab and tests need: the one list, sourced by
# deploy/lab/lab.sh and tests/run.sh (bash). README "Running the tests" names
# the same packages.

# What the lab needs (deploy/lab/lab.sh): a UML kernel with IPVS, the tools
# the guest runs, and gcc for the UML xstate shim.
LAB_PACKAGES=(
    user-mode-linux kmod ipvsadm keepalived nginx-light iproute2 curl gcc
    libc6-dev procps psmisc bird2 python3
)

# Everything the tests need: the lab's packages and the rest.
APT_PACKAGES=(
    "${LAB_PACKAGES[@]}"
    tcpdump strace openssl iputils-ping python3-aiosmtpd dnsmasq-base
    groff-base man-db lintian file prometheus chromium rsyslog nftables e2fsprogs
    frr
    # deploy/bench (run-all.sh, list-bench.sh, pool_vs_keepalived.sh): GNU time, bc.
    time bc
)

# apt_install PKG...: installs those of PKG... that are missing, quietly, with
# a policy-rc.d in place so apt starts no service (nginx, keepalived) on this
# machine; prints what it installs.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        echo "all present: $*"
        return 0
    fi
    echo "installing: ${missing[*]}"
    local policy_rc=/usr/sbin/policy-rc.d added_policy=
    if [[ ! -e $policy_rc ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod 755 "$policy_rc" && added_policy=1
    fi
    local rc=0
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null || rc=$?
    [[ -z $added_policy ]] || rm -f "$policy_rc"
    return $rc
}
