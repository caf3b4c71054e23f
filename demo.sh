#!/usr/bin/env bash
# The demo: everything on a fresh Debian machine, as root. Leaves the lab running.
set -euo pipefail
cd "$(dirname "$0")"
need=()
for p in openssh-server openssh-client supervisor sudo libssl-dev pkg-config git; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -q --no-install-recommends "${need[@]}"
    rm -f /usr/sbin/policy-rc.d
fi
cargo build -q
play=target/debug/play
$play lab up 3
$play run lab -i /tmp/play-lab/inventory.yml -- uname -n
echo
echo "The lab is still running: '$play lab status' shows it, '$play lab down' stops it."
