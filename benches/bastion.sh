#!/bin/sh
# No-op apply through a bastion vs direct (issue 16: through one bastion should cost at most
# 1.5x direct at 50 hosts). Starts a lab of N+1 hosts (h1 is the bastion), converges N targets
# once, then times REPS no-op applies of each kind, interleaved, and prints the medians.
#
#   benches/bastion.sh [N=50] [REPS=7]      (root, Linux; PLAY_BIN=path to use another build)
#
# Addresses: 127.77.0.11 and up only (BASE overrides, must stay in 127.0.0.0/8).
set -eu
N=${1:-50}
REPS=${2:-7}
BASE=${BASE:-127.77.0.10}
case "$BASE" in 127.*) ;; *) echo "BASE must be in 127.0.0.0/8" >&2; exit 1 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
PLAY=${PLAY_BIN:-$here/../target/debug/play}
work=$(mktemp -d "${TMPDIR:-/tmp}/play-bastion.XXXXXX")
lab=$work/lab
trap '"$PLAY" lab down --dir "$lab" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export PLAY_LOOPBACK_ONLY=1

"$PLAY" lab up $((N + 1)) --dir "$lab" --base "$BASE" >/dev/null
prefix=${BASE%.*}
last=${BASE##*.}
hosts() {
  i=2
  while [ $i -le $((N + 1)) ]; do
    echo "    h$i: {ssh_host: $prefix.$((last + i))}"
    i=$((i + 1))
  done
}
vars="ssh_user: root, ssh_private_key: $lab/id_ed25519, ssh_known_hosts: $lab/known_hosts"
{ echo "all:"; echo "  vars: {$vars, ssh_config: none}"; echo "  hosts:"; hosts; } > "$work/direct.yml"
{ echo "all:"; echo "  vars: {$vars, ssh_config: $work/ssh_config}"; echo "  hosts:"; hosts; } > "$work/jump.yml"
cat > "$work/ssh_config" <<EOF
Host bastion
  HostName $prefix.$((last + 1))
  User root
  IdentityFile $lab/id_ed25519
  UserKnownHostsFile $lab/known_hosts
Host $prefix.*
  ProxyJump bastion
EOF
cat > "$work/site.yml" <<'EOF'
- hosts: all
  state:
    - directory: /srv/bench
    - file: /srv/bench/a.conf
      content: "a {{ inventory_hostname }}\n"
    - file: /srv/bench/b.conf
      content: "b\n"
    - file: /srv/bench/c.conf
      content: "c\n"
EOF
"$PLAY" apply --color never -i "$work/direct.yml" "$work/site.yml" >/dev/null
for kind in direct jump; do : > "$work/$kind.times"; done
r=0
while [ $r -lt "$REPS" ]; do
  for kind in direct jump; do
    s=$(date +%s.%N)
    "$PLAY" apply --color never -i "$work/$kind.yml" "$work/site.yml" >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc >> "$work/$kind.times"
  done
  r=$((r + 1))
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
d=$(median "$work/direct.times")
j=$(median "$work/jump.times")
logins=$(grep -c "Accepted publickey" "$lab/hosts/h1/console.log" || true)
echo "$N hosts, median of $REPS no-op applies: direct ${d}s, through one bastion ${j}s ($(echo "scale=2; $j / $d" | bc)x); bastion logins: $logins for $REPS runs"
