//! Reaching real fleets on a lab: hosts named only in an OpenSSH client config, reached through
//! a bastion (ProxyJump, in process) and a two-hop chain.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::lab::Lab;
use support::project::Run;

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
    p
}

/// `play ARGS -i INVENTORY` in `dir`, loopback only.
fn play(dir: &Path, inventory: &Path, args: &[&str]) -> Run {
    let (sub, rest) = args.split_first().expect("a subcommand");
    let out = Command::new(env!("CARGO_BIN_EXE_play"))
        .arg(sub)
        .arg("-i")
        .arg(inventory)
        .args(["--color", "never"])
        .args(rest)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .current_dir(dir)
        .output()
        .expect("run play");
    Run::from(args, out)
}

/// Logins sshd accepted on `host` so far (its console log).
fn logins(lab: &Lab, host: &str) -> usize {
    let log = lab.dir.join("hosts").join(host).join("console.log");
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("Accepted publickey")
        .count()
}

#[test]
fn hosts_behind_a_bastion_and_a_chain_converge() {
    let lab = Lab::start("fleet-jump", 3);
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    let kh = dir.join("known_hosts");
    std::fs::copy(&lab.known_hosts, &kh).expect("copy known_hosts");
    let (h1, h2, h3) = (
        &lab.host("h1").addr,
        &lab.host("h2").addr,
        &lab.host("h3").addr,
    );
    let cfg = write(
        dir,
        "ssh_config",
        &format!(
            "Host bastion\n  HostName {h1}\nHost hop2\n  HostName {h2}\n\
             Host web2\n  HostName {h2}\n  ProxyJump bastion\n\
             Host web3\n  HostName {h3}\n  ProxyJump bastion,hop2\n\
             Host *\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {kh}\n  StrictHostKeyChecking yes\n",
            key = lab.key.display(),
            kh = kh.display()
        ),
    );
    // The inventory names the hosts only; address, user, key, known_hosts and route all come
    // from the ssh config.
    let inv = write(
        dir,
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ssh_config: {}\n  hosts:\n    web2: {{}}\n    web3: {{}}\n",
            cfg.display()
        ),
    );
    write(
        dir,
        "site.yml",
        "- hosts: all\n  state:\n    - file: /etc/fleet-marker\n      content: \"{{ inventory_hostname }} via the bastion\\n\"\n",
    );

    let before = logins(&lab, "h1");
    let run = play(dir, &inv, &["apply", "site.yml"]).code(0);
    assert_eq!(run.recap("web2").1, 1, "{}", run.stdout);
    assert_eq!(run.recap("web3").1, 1, "{}", run.stdout);
    assert_eq!(
        lab.sh("h2", "cat /etc/fleet-marker"),
        "web2 via the bastion\n"
    );
    assert_eq!(
        lab.sh("h3", "cat /etc/fleet-marker"),
        "web3 via the bastion\n"
    );
    // Both targets shared one bastion session: one login on h1 for the whole run.
    assert_eq!(logins(&lab, "h1") - before, 1, "logins on the bastion");

    // A second run changes nothing.
    let run = play(dir, &inv, &["apply", "site.yml"]).code(0);
    assert_eq!(run.recap("web2").1, 0, "{}", run.stdout);
    assert_eq!(run.recap("web3").1, 0, "{}", run.stdout);

    // The route is real: h2 refusing to forward breaks web3 (bastion → h2 → h3) only, h1
    // refusing breaks both.
    for (host, unreachable, says) in [
        ("h2", (0, 1), "through jump host `hop2`"),
        ("h1", (1, 1), "through jump host `bastion`"),
    ] {
        lab.sh(
            host,
            "cp /root/.ssh/authorized_keys /root/ak.orig && \
             sed -i 's/^/no-port-forwarding /' /root/.ssh/authorized_keys",
        );
        let run = play(dir, &inv, &["apply", "site.yml"]).code(1).shows(says);
        assert_eq!(
            (run.recap("web2").3, run.recap("web3").3),
            unreachable,
            "{}",
            run.stdout
        );
        lab.sh(host, "cat /root/ak.orig > /root/.ssh/authorized_keys");
    }

    // A changed bastion key fails every host behind it, with one message naming the bastion.
    let text = std::fs::read_to_string(&kh).expect("known_hosts");
    let h3_key: String = text
        .lines()
        .find(|l| l.starts_with("h3,"))
        .and_then(|l| l.split_once(' '))
        .map(|(_, k)| k.to_string())
        .expect("h3 key");
    let forged: String = text
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((names, _)) if names.starts_with("h1,") => format!("{names} {h3_key}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&kh, forged).expect("forge known_hosts");
    let run = play(dir, &inv, &["apply", "site.yml"]).code(1);
    for h in ["web2", "web3"] {
        assert_eq!(run.recap(h).3, 1, "{}", run.stdout);
        let msg = format!("{h}: jump host `bastion` failed: bastion: host key verification failed: REMOTE HOST KEY CHANGED");
        assert!(
            run.stdout.contains(&msg) || run.stderr.contains(&msg),
            "no {msg:?} in:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}
