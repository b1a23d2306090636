#!/usr/bin/env bash
# Shows the kernel effect behind the start-up bench's fresh namespaces: a
# start in a namespace where a daemon just removed 10,000 real servers is
# slower, by how much depending on the order they were removed in.
#   sudo deploy/bench/dest-trash.sh     (lvsd: $BENCH_LVSD or target/release/lvsd)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export BENCH_LVSD=${BENCH_LVSD:-$repo/target/release/lvsd}
[[ -x $BENCH_LVSD ]] || { echo "dest-trash.sh: build lvsd first (cargo build --release)" >&2; exit 1; }
exec "$repo/deploy/lab/in-uml.sh" --mem 1024 "$here/dest-trash-guest.sh"
