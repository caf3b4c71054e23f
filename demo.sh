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
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
step "start 3 local test hosts (namespaces with their own sshd and supervisord on 127.0.0.11-13)"
$play lab up 3 --dir /tmp/play-lab
step "ad-hoc: play run web -- uname -sr"
$play run web -i inventory/lab.yml -- uname -sr
step "what would change: play diff playbooks/web.yml"
$play diff playbooks/web.yml -i inventory/lab.yml || true
step "converge: play apply playbooks/web.yml"
$play apply playbooks/web.yml -i inventory/lab.yml
step "again: nothing left to do"
$play apply playbooks/web.yml -i inventory/lab.yml
echo
echo "The lab is still running: '$play lab status' shows it, '$play lab down' stops it."
