#!/usr/bin/env bash
# The demo: everything on a fresh Debian machine, as root. Leaves the lab running.
# Deploys the example app (roles/app/files/app/hello.py) to 3 local test hosts and shows it
# answering on each host's own address.
set -euo pipefail
cd "$(dirname "$0")"
need=()
for p in openssh-server openssh-client supervisor sudo libssl-dev pkg-config git python3 python3-venv curl; do
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
inv=inventory/lab.yml
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
step "start 3 local test hosts (namespaces with their own sshd and supervisord on 127.0.0.11-13)"
$play lab up 3 --dir /tmp/play-lab
step "ad-hoc: play run web -- uname -sr"
$play run web -i $inv -- uname -sr
step "what would change: play diff playbooks/web.yml"
$play diff playbooks/web.yml -i $inv || true
step "converge: play apply playbooks/web.yml (user, config, log folder, venv from local wheels, release with shared data and a build step, supervisor program)"
$play apply playbooks/web.yml -i $inv
step "the app answers on every host"
for ip in 127.0.0.11 127.0.0.12 127.0.0.13; do
    printf '%s: ' "$ip"
    curl -fsS --retry 20 --retry-connrefused --retry-delay 1 "http://$ip:8000/"
done
step "again: nothing left to do"
$play apply playbooks/web.yml -i $inv
echo
echo "The app runs on http://127.0.0.11:8000/ (and .12, .13). Change roles/app/files/app/hello.py,"
echo "then '$play diff playbooks/web.yml -i $inv' lists the file, '$play apply …' deploys a new release,"
echo "and '$play rollback playbooks/web.yml -i $inv' goes back one release."
echo "'$play apply playbooks/web.yml -i $inv -e app_greeting_version=1.1' changes the venv's pinned package:"
echo "only the app, which watches the venv, restarts."
echo "The lab is still running: '$play lab status' shows it, '$play lab down' stops it."
