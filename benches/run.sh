#!/usr/bin/env bash
# The benchmark of issue 7: play vs Ansible vs pyinfra on the same local lab hosts.
#
#   benches/run.sh            full: 10 and 50 hosts for all three, 200 for play alone (long: Ansible
#                             needs minutes per run); no-op runs: median of 5
#   benches/run.sh --quick    10 hosts, 3 no-op runs (a few minutes)
#   benches/run.sh --scale    issue 16: play alone at 100, 250, 500 hosts vs N parallel `ssh true`
#   benches/run.sh --help     every option (sizes, tools, repetitions, time budget, lab base address)
#   benches/run.sh --case deploy --sizes 10   play alone: packages, a venv, a release (issue 14)
#   BENCH_FROM=HEAD benches/run.sh ...   bench a commit instead of the work tree
#   PLAY_BIN=path benches/run.sh ...     bench a built play binary
#
# Builds play in release mode, makes benches/.venv with the pinned peers (requirements.txt), starts
# labs in benches/.lab (addresses 127.1.0.x by default; only 127.0.0.0/8 is ever used), writes
# benches/RESULTS.md. Needs root, Linux, OpenSSH client, supervisor and python3 (as the lab does).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo"

if [ "$(id -u)" != 0 ]; then
    echo "benches/run.sh: needs root (the lab hosts are namespaces)" >&2
    exit 1
fi
for c in ssh /usr/bin/time supervisord python3; do
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "benches/run.sh: missing $c (apt-get install openssh-client time supervisor python3-venv)" >&2
        exit 1
    fi
done

# play: PLAY_BIN=path uses a built binary; BENCH_FROM=REV builds that commit (git archive into
# benches/.work/src, own target dir: the work tree may be mid-edit); else the work tree.
head=$(git rev-parse HEAD 2>/dev/null || echo unknown)
desc="PLAY_BIN=${PLAY_BIN:-}"
if [ -n "${PLAY_BIN:-}" ]; then
    :
elif [ -n "${BENCH_FROM:-}" ]; then
    rev=$(git rev-parse --verify "$BENCH_FROM^{commit}")
    src=$here/.work/src
    echo "bench: cargo build --release of $BENCH_FROM ($rev) in $src" >&2
    rm -rf "$src"
    mkdir -p "$src"
    git archive "$rev" | tar -x -C "$src"
    CARGO_TARGET_DIR=$here/.work/target cargo build --release --quiet --manifest-path "$src/Cargo.toml"
    PLAY_BIN=$here/.work/target/release/play
    desc="release build of commit ${rev:0:10} (BENCH_FROM=$BENCH_FROM)"
else
    echo "bench: cargo build --release" >&2
    if ! cargo build --release --quiet; then
        echo "benches/run.sh: the work tree does not build; BENCH_FROM=HEAD benches/run.sh benches the last commit" >&2
        exit 1
    fi
    PLAY_BIN=$repo/target/release/play
    desc="release build of the work tree at ${head:0:10}+changes"
fi

# play alone (--scale, --tools play) needs no peers: no venv.
case " $* " in
    *" --scale "*|*" --tools play "*|*" --tools=play "*)
        exec python3 "$here/bench.py" --play "$PLAY_BIN" --play-desc "$desc" "$@" ;;
esac

venv=$here/.venv
stamp=$venv/.requirements
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
    echo "bench: creating $venv (ansible-core, pyinfra from PyPI)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

exec "$venv/bin/python" "$here/bench.py" --play "$PLAY_BIN" --play-desc "$desc" "$@"
