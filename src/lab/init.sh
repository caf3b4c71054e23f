#!/bin/sh
# PID 1 of one `play lab` host (embedded in the play binary, written to DIR/init.sh).
#
# Started by `play lab up` as:
#   unshare --mount --uts --ipc --pid --fork --propagation private --kill-child=SIGKILL [--cgroup] \
#       /bin/sh DIR/init.sh NAME ADDR HOSTDIR LABDIR MODE
# in fresh mount/UTS/IPC/PID namespaces (network is shared with the machine: every service binds
# only ADDR, a 127.0.0.0/8 address). Everything this script mounts lives only in the host's mount
# namespace, so the kernel drops it all when this process dies.
#
# HOSTDIR holds ssh_host_ed25519_key(.pub) and the empty folder `mnt` (the tmpfs is mounted there);
# LABDIR holds id_ed25519.pub, the client key authorized for root, deploy and nopass.
# MODE is `plain` (this script stays PID 1: starts supervisord and sshd, reaps orphans) or
# `systemd` (this script execs /lib/systemd/systemd, which starts ssh and supervisor).
set -eu

NAME=$1 ADDR=$2 HD=$3 LAB=$4 MODE=$5
M=$HD/mnt
U=$M/upper
R=$M/root

say() { echo "play-lab[$NAME]: $*"; }

# Creates folder $1 (absolute, machine path) in the overlay's upper layer, with the parents,
# each with the owner and mode of the machine's folder (an upper folder's owner/mode wins).
upper_dir() {
    [ -d "$U$1" ] && return 0
    case "$1" in
    /) return 0 ;;
    /*/*) upper_dir "${1%/*}" ;;
    esac
    mkdir "$U$1"
    chown --reference="$1" "$U$1"
    chmod --reference="$1" "$U$1"
}

# Hides machine path $1 inside the host with an overlay whiteout (a 0:0 character device).
hide() {
    [ -e "$1" ] || [ -L "$1" ] || return 0
    upper_dir "${1%/*}"
    mknod "$U$1" c 0 0
}

# ---- root filesystem: overlay over the live / with a tmpfs upper layer -------------------------
mount -t tmpfs -o mode=0755 "play-lab-$NAME" "$M"
mkdir "$U" "$M/work" "$R"

# The machine's /root (its .ssh, .bashrc, caches) and the lab's own folder stay out of sight.
upper_dir /root
for e in /root/* /root/.[!.]* /root/..?*; do
    hide "$e"
done
case "$LAB" in
/tmp/* | /root/*) ;; # a fresh /tmp, or already hidden with /root
*) hide "$LAB" ;;
esac

mount -t overlay overlay -o "lowerdir=/,upperdir=$U,workdir=$M/work" "$R"

mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
# Kernel settings are the machine's: hosts may read them, not change them.
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
if [ "$MODE" = systemd ]; then
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
fi

mount -t tmpfs -o mode=0755,nosuid,size=1m dev "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
if [ "$MODE" = systemd ]; then
    # systemd writes status lines to the console: send them to /dev/null.
    touch "$R/dev/console"
    mount --bind "$R/dev/null" "$R/dev/console"
fi

mount -t tmpfs -o mode=0755,nosuid,nodev run "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$R/tmp"
mkdir -m 1777 "$R/run/lock"
mkdir -p -m 0755 "$R/run/sshd" "$R/run/play-lab"

# Inputs that must survive pivot_root.
cp "$HD/ssh_host_ed25519_key" "$HD/ssh_host_ed25519_key.pub" "$LAB/id_ed25519.pub" "$R/run/play-lab/"
echo "$NAME" >"$R/run/play-lab/name"
echo "$ADDR" >"$R/run/play-lab/addr"

cd "$R"
pivot_root . .
umount -l .
cd /

# ---- identity -------------------------------------------------------------------------------
hostname "$NAME"
echo "$NAME" >/etc/hostname
tr -d '-' </proc/sys/kernel/random/uuid >/etc/machine-id
{
    grep -v "[[:space:]]$NAME\$" /etc/hosts || true
    echo "$ADDR $NAME"
} >/run/play-lab/hosts
cat /run/play-lab/hosts >/etc/hosts

# ---- sshd: own host key, only this host's address ---------------------------------------------
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
install -m 600 /run/play-lab/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 644 /run/play-lab/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
rm -rf /etc/ssh/sshd_config.d
cat >/etc/ssh/sshd_config <<EOF
# Written by play lab for host $NAME.
ListenAddress $ADDR:22
AddressFamily inet
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
GSSAPIAuthentication no
KbdInteractiveAuthentication no
PasswordAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes yes
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
UseDNS no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF

# ---- accounts: root, deploy (passwordless sudo), nopass (sudo asks for a password) -------------
# With UsePAM no a `!` (locked) password refuses even key logins; `*` only refuses passwords.
authorize() { # USER
    home=$(getent passwd "$1" | cut -d: -f6)
    group=$(id -g "$1")
    mkdir -p "$home"
    rm -rf "$home/.ssh"
    mkdir -m 700 "$home/.ssh"
    install -m 600 /run/play-lab/id_ed25519.pub "$home/.ssh/authorized_keys"
    chown "$1:$group" "$home/.ssh" "$home/.ssh/authorized_keys"
    case "$(getent shadow "$1" | cut -d: -f2)" in
    '!'*) usermod -p '*' "$1" ;;
    esac
}
chmod 700 /root
authorize root
for u in deploy nopass; do
    if ! id "$u" >/dev/null 2>&1; then
        useradd --create-home --user-group --shell /bin/bash --password '*' "$u"
    fi
    authorize "$u"
done
echo 'deploy ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/deploy
echo 'nopass ALL=(ALL) ALL' >/etc/sudoers.d/nopass
chmod 440 /etc/sudoers.d/deploy /etc/sudoers.d/nopass

rm -f /run/play-lab/ssh_host_ed25519_key

# supervisord: the machine's Debian config (socket /var/run/supervisor.sock, and /run is this
# host's own tmpfs). An inet_http_server would bind the shared network: never enable one.
for f in /etc/supervisor/supervisord.conf /etc/supervisor/conf.d/*.conf; do
    if [ -f "$f" ] && grep -q '^\[inet_http_server\]' "$f"; then
        sed -i 's/^\[inet_http_server\]/[play_lab_disabled_inet_http_server]/' "$f"
    fi
done

if [ "$MODE" = systemd ]; then
    mkdir -p /etc/systemd/journald.conf.d /etc/systemd/system
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n' >/etc/systemd/journald.conf.d/play-lab.conf
    cat >/etc/systemd/system/play-lab.target <<EOF
[Unit]
Description=play lab host $NAME
Requires=basic.target
Wants=ssh.service supervisor.service systemd-user-sessions.service
After=basic.target ssh.service supervisor.service systemd-user-sessions.service
AllowIsolate=yes
EOF
    ln -sf /etc/systemd/system/play-lab.target /etc/systemd/system/default.target
    # Units that would act on the machine (kernel modules, its disks) or wake up for maintenance.
    for u in systemd-modules-load.service e2scrub_all.timer e2scrub_reap.service fstrim.timer \
        apt-daily.timer apt-daily-upgrade.timer man-db.timer dpkg-db-backup.timer; do
        ln -sf /dev/null "/etc/systemd/system/$u"
    done
    say "exec systemd"
    exec env -i container=play-lab /lib/systemd/systemd
fi

# ---- plain mode: this shell stays PID 1 --------------------------------------------------------
supervisord -n -c /etc/supervisor/supervisord.conf </dev/null &
/usr/sbin/sshd -D -e -f /etc/ssh/sshd_config </dev/null &
say "started sshd on $ADDR:22 and supervisord"

# PID 1 reaps every orphan of the namespace: `wait` reaps any child while it blocks.
set +e
trap 'kill -TERM -1; exit 0' TERM INT
while :; do
    sleep 3600 &
    wait
done
