//! `play lab`: real local hosts come up, answer SSH, and go away without a trace.
//! Needs Linux and root (CI runs as root); no test is skipped.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::lab::Lab;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn banner(addr: std::net::Ipv4Addr) -> String {
    let s = TcpStream::connect_timeout(&SocketAddr::from((addr, 22)), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}:22: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line
}

/// (pid, start time) of every process the state file records (PID 1 and spawner of each host).
fn recorded_pids(lab: &Lab) -> Vec<(i32, u64)> {
    let state = lab.state();
    let hosts = state["hosts"].as_array().expect("hosts array");
    hosts
        .iter()
        .flat_map(|h| ["pid1", "spawner"].map(|k| &h[k]))
        .map(|p| {
            (
                p["pid"].as_i64().expect("pid") as i32,
                p["start_time"].as_u64().expect("start_time"),
            )
        })
        .collect()
}

fn recorded_cgroups(lab: &Lab) -> Vec<PathBuf> {
    let state = lab.state();
    state["hosts"]
        .as_array()
        .expect("hosts array")
        .iter()
        .filter_map(|h| h["cgroup"].as_str().map(PathBuf::from))
        .collect()
}

/// State letter and start time of a pid, if it exists.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f[0].chars().next()?, f[19].parse().ok()?))
}

/// Runs: the same pid with the same start time, and not a zombie (a zombie waits for the
/// machine's init to reap it, which holds nothing).
fn still_runs(pid: i32, start: u64) -> bool {
    matches!(proc_stat(pid), Some((state, s)) if s == start && state != 'Z')
}

/// Everything on the machine that still refers to the lab folder.
fn leftovers(dir: &Path) -> Vec<String> {
    let d = dir.to_str().unwrap();
    let with_slash = format!("{d}/");
    let mut found = Vec::new();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mountinfo.lines() {
        if line.contains(&with_slash) || line.split(' ').any(|f| f == d) {
            found.push(format!("mount: {line}"));
        }
    }
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let p = entry.path();
        let cmdline = std::fs::read(p.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&with_slash) || cmdline.split(' ').any(|a| a == d) {
            found.push(format!("process {pid}: {cmdline}"));
        }
        for link in ["cwd", "root"] {
            if let Ok(target) = std::fs::read_link(p.join(link)) {
                if target.starts_with(dir) {
                    found.push(format!("process {pid}: {link} {}", target.display()));
                }
            }
        }
    }
    found
}

#[test]
fn up_and_down_twice_leave_nothing_behind() {
    for round in 1..=2 {
        let lab = Lab::start("lab-cycle", 3);
        let pids = recorded_pids(&lab);
        assert_eq!(
            pids.len(),
            6,
            "round {round}: 3 hosts, PID 1 + spawner each"
        );
        assert!(pids.iter().all(|&(p, s)| still_runs(p, s)));

        let out = lab.down();
        assert!(
            out.status.success(),
            "round {round}: down failed: {}",
            text(&out.stderr)
        );
        for (pid, start) in pids {
            assert!(
                !still_runs(pid, start),
                "round {round}: pid {pid} still runs"
            );
        }
        let left = leftovers(&lab.dir);
        assert!(
            left.is_empty(),
            "round {round}: left behind:\n{}",
            left.join("\n")
        );
        let status = lab
            .play()
            .args(["lab", "status", "--dir"])
            .arg(&lab.dir)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "empty lab status: {}",
            text(&status.stderr)
        );
        // Dropping `lab` runs `down --purge`: the folder goes too.
        let dir = lab.dir.clone();
        drop(lab);
        assert!(
            !dir.exists(),
            "round {round}: {} not removed",
            dir.display()
        );
    }
}

#[test]
fn hosts_are_real() {
    let lab = Lab::start("lab-real", 3);

    for h in &lab.hosts {
        let b = banner(h.ip());
        assert!(b.starts_with("SSH-2.0-"), "{}: banner {b:?}", h.name);
    }

    let out = lab.exec_argv("h2", &["hostname"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "h2");

    // exec passes the command's exit status through.
    let out = lab.exec("h1", "exit 7");
    assert_eq!(out.status.code(), Some(7));

    // Each host has its own machine-id and a fresh /tmp; the machine's /root does not show.
    let ids: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| text(&lab.exec(&h.name, "cat /etc/machine-id").stdout))
        .collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "machine-ids: {ids:?}");
    let out = lab.exec("h1", "ls -A /tmp; ls -A /root");
    assert_eq!(text(&out.stdout).trim(), ".ssh", "{}", text(&out.stderr));

    // supervisord runs with no programs: `status` exits 0 (or 3 with programs not running).
    let out = lab.exec("h3", "supervisorctl status");
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "supervisorctl status: {:?} {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );

    // OpenSSH with strict host key checking against the lab's known_hosts.
    let out = lab.ssh("root", "h1", "hostname");
    assert!(out.status.success(), "root ssh: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "h1");
    let out = lab.ssh("deploy", "h2", "sudo -n true && id -un");
    assert!(out.status.success(), "deploy sudo: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "deploy");
    let out = lab.ssh("nopass", "h2", "sudo -n true");
    assert!(!out.status.success(), "nopass sudo -n must fail");
    assert!(
        text(&out.stderr).contains("password is required"),
        "nopass sudo: {}",
        text(&out.stderr)
    );

    // `up` again with the same N keeps the running hosts.
    let before = recorded_pids(&lab);
    let out = lab.up_again(3);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(recorded_pids(&lab), before);

    let out = lab
        .play()
        .args(["lab", "status", "--dir"])
        .arg(&lab.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = text(&out.stdout);
    assert_eq!(
        status.lines().filter(|l| l.ends_with(" up")).count(),
        3,
        "{status}"
    );
}

#[test]
fn systemd_hosts() {
    let lab = Lab::start_systemd("lab-systemd", 2);
    for h in &lab.hosts {
        let out = lab.exec_argv(&h.name, &["systemctl", "is-active", "ssh", "supervisor"]);
        // is-active exits 0 if any unit is active: compare the output.
        assert_eq!(
            text(&out.stdout),
            "active\nactive\n",
            "{}: {}",
            h.name,
            text(&out.stderr)
        );
        let out = lab.exec_argv(&h.name, &["systemctl", "is-system-running"]);
        assert_eq!(
            text(&out.stdout).trim(),
            "running",
            "{}: {}",
            h.name,
            text(&lab.exec(&h.name, "systemctl --failed --no-pager").stdout)
        );
    }
    let out = lab.ssh("deploy", "h2", "sudo -n systemctl is-active supervisor");
    assert!(out.status.success(), "deploy ssh: {}", text(&out.stderr));

    let pids = recorded_pids(&lab);
    let cgroups = recorded_cgroups(&lab);
    assert_eq!(cgroups.len(), 2);
    let out = lab.down();
    assert!(out.status.success(), "down: {}", text(&out.stderr));
    for (pid, start) in pids {
        assert!(!still_runs(pid, start), "pid {pid} still runs");
    }
    for cg in cgroups {
        assert!(!cg.exists(), "cgroup {} left behind", cg.display());
    }
    let left = leftovers(&lab.dir);
    assert!(left.is_empty(), "left behind:\n{}", left.join("\n"));
}

#[test]
fn lab_names_of_this_file_get_distinct_addresses() {
    let names = ["lab-cycle", "lab-real", "lab-systemd"];
    let bases: Vec<_> = names.iter().map(|n| Lab::base_for(n)).collect();
    for (i, b) in bases.iter().enumerate() {
        assert!(b.octets()[0] == 127 && (1..=250).contains(&b.octets()[2]));
        assert!(!bases[..i].contains(b), "{} collides: {bases:?}", names[i]);
    }
}

#[test]
fn refuses_addresses_outside_loopback() {
    let play = support::lab::play_bin();
    for (base, n) in [("10.0.0.10", "1"), ("127.255.255.250", "5"), ("nope", "1")] {
        let out = std::process::Command::new(play)
            .args(["lab", "up", n, "--base", base, "--dir"])
            .arg(Lab::dir_for("lab-refuse"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "--base {base} accepted");
        assert!(
            text(&out.stderr).contains("--base"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// Every lab name used by the tests gets its own address block: two labs on the same block
/// fail with "address already in use" when their tests run at once (flaky, load-dependent).
#[test]
fn lab_names_of_the_tests_have_distinct_address_blocks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut seen: std::collections::BTreeMap<std::net::Ipv4Addr, String> = Default::default();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("tests folder") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read test file");
        for piece in text.split("Lab::start").skip(1) {
            // `("name"` or `_systemd("name"`
            let Some(name) = piece
                .split_once('"')
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(name, _)| name)
            else {
                continue;
            };
            count += 1;
            let base = Lab::base_for(name);
            if let Some(other) = seen.insert(base, name.to_string()) {
                assert_eq!(
                    other, name,
                    "labs `{other}` and `{name}` share the address block {base}: rename one"
                );
            }
        }
    }
    assert!(
        count > 30,
        "found only {count} lab names in {}",
        dir.display()
    );
}
