#!/bin/sh
# The figures of docs/migrating-from-ansible.md ("Figures on real deployments"): imports each
# project of the Ansible corpus, then runs `play check -i inventory` on the output, and prints one
# table row per project. Usage: tests/corpus/measure.sh [CORPUS [PLAY [WORKDIR]]]
# With DETAIL=1, also the check problems by message and the left-out tasks by reason.
set -eu
corpus=${1:-../shared/ansible-corpus}
play=$(realpath "${2:-target/debug/play}")
here=$(cd "$(dirname "$0")" && pwd)
work=${3:-${TMPDIR:-/tmp}/play-corpus}
rm -rf "$work" && mkdir -p "$work"
echo "| project | tasks | carried over | resources | native | \`command:\` | \`play check\` problems |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for src in "$corpus"/*/; do
    name=$(basename "$src")
    out="$work/$name"
    summary=$("$play" import ansible "$src" --out "$out" 2>&1) || { echo "| $name | import failed | | | | | |"; continue; }
    extra=""
    # trellis' playbooks are run with the extra vars of its CLI (`trellis deploy ENV SITE`):
    # `-e env=ENV` for all, `-e site=SITE` for deploy and rollback (a site of its group_vars),
    # `-e xdebug_tunnel_inventory_host=HOST` for xdebug-tunnel.yml (`trellis xdebug-tunnel open
    # HOST`; the development host here).
    # tournesol's scripts pass its secrets and `git_reference` as extra vars (corpus README):
    # placeholders for them, from tests/corpus/tournesol-extra-vars.yml.
    # beehve's inventory host (`www-new.codeformaine.org`) has no vars in the repository; its
    # `host_vars/example.brigades.io` is the example of what a host needs: checked with those.
    case $name in
        Code4Maine-beehve) extra="-e @inventory/host_vars/example.brigades.io.yml" ;;
        roots-trellis) extra="-e env=development -e site=example.com -e xdebug_tunnel_inventory_host=192.168.56.5" ;;
        tournesol-app-tournesol) extra="-e @$here/tournesol-extra-vars.yml" ;;
    esac
    # shellcheck disable=SC2086
    check=$(cd "$out" && "$play" check -i inventory --color never $extra 2>&1 || true)
    echo "$check" >"$work/$name.check"
    num() { echo "$summary" | sed -n "s/.*$1 *\([0-9][0-9]*\).*/\1/p" | head -n 1; }
    tasks=$(num 'tasks:'); carried=$(num 'carried over'); res=$(num 'resources:')
    native=$(num 'native'); cmd=$(num ', command')
    problems=$(echo "$check" | tail -n 1 | sed -n 's/^\([0-9][0-9]*\) problem.*/\1/p')
    pct() { [ "$2" -gt 0 ] && echo "$(( ($1 * 100 + $2 / 2) / $2 ))%" || echo "-"; }
    echo "| $name | $tasks | $carried ($(pct "$carried" "$tasks")) | $res | $native ($(pct "$native" "$res")) | $cmd | ${problems:-?} ($(pct "${problems:-0}" "$res")) |"
    if [ "${DETAIL:-}" = 1 ]; then
        echo "$check" | grep -v ' problem(s); checked' | sed -e 's/^[^ ]*:[0-9]*:[0-9]*: //' -e 's/ \[.*\]$//' \
            -e 's/`[^`]*`/`X`/g' | sort | uniq -c | sort -rn | sed 's/^/    check: /' | head -n 15
        grep '\*\*left out\*\*' "$out/IMPORT.md" | awk -F'|' '{print $4}' | sort | uniq -c | sort -rn \
            | sed 's/^/    left out: /' | head -n 15
    fi
done
