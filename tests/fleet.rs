//! Reaching real fleets on a lab: hosts named only in an OpenSSH client config, reached through
//! a bastion (ProxyJump, in process) and a two-hop chain.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::lab::Lab;
use support::project::{Project, Run};

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

/// `TYPE KEY` of lab host `host` in a known_hosts text (`hI,ADDR TYPE KEY`).
fn key_of(known_hosts: &str, host: &str) -> String {
    known_hosts
        .lines()
        .find(|l| l.starts_with(&format!("{host},")))
        .and_then(|l| l.split_once(' '))
        .map(|(_, k)| k.to_string())
        .unwrap_or_else(|| panic!("no key of {host} in {known_hosts}"))
}

/// A name in the bastion's /etc/hosts only.
const ONLY_ON_BASTION: &str = "web2.only-on-the-bastion";

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
             Host web2\n  HostName {ONLY_ON_BASTION}\n  ProxyJump bastion\n\
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

    // web2's HostName resolves on the bastion alone (its /etc/hosts; not the controller's).
    lab.sh(
        "h1",
        &format!("echo '{h2} {ONLY_ON_BASTION}' >> /etc/hosts"),
    );
    assert!(!std::fs::read_to_string("/etc/hosts")
        .unwrap_or_default()
        .contains(ONLY_ON_BASTION));

    // Its host key is known under that name (as `ssh-keyscan` through the bastion would add).
    let known = std::fs::read_to_string(&kh).expect("known_hosts");
    let h2_key = key_of(&known, "h2");
    std::fs::write(&kh, format!("{known}{ONLY_ON_BASTION} {h2_key}\n")).expect("known_hosts");

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
    // Both targets shared one bastion session: one login on h1 for the whole run, plus the
    // one that resolves web2's name there (PLAY_LOOPBACK_ONLY checks it is loopback); without
    // sharing it would be three.
    assert_eq!(logins(&lab, "h1") - before, 2, "logins on the bastion");

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
    let h3_key = key_of(&text, "h3");
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

const SUDO_PASSWORD: &str = "Fleet-sudo-S3cret";

#[test]
fn sudo_with_a_password_from_a_vault_file() {
    let lab = Lab::start("fleet-sudopass", 2);
    // A login whose sudo wants its password (no NOPASSWD), key login like the others.
    for h in ["h1", "h2"] {
        lab.sh(
            h,
            &format!(
                "useradd -m -s /bin/sh ops && echo 'ops:{SUDO_PASSWORD}' | chpasswd && \
                 echo 'ops ALL=(ALL:ALL) ALL' > /etc/sudoers.d/ops && chmod 440 /etc/sudoers.d/ops && \
                 mkdir -p /home/ops/.ssh && cp /root/.ssh/authorized_keys /home/ops/.ssh/ && \
                 chown -R ops: /home/ops/.ssh && chmod 700 /home/ops/.ssh && \
                 chmod 600 /home/ops/.ssh/authorized_keys"
            ),
        );
    }
    let p = Project::new(&lab)
        .host_var(0, "ssh_user", "ops")
        .host_var(1, "ssh_user", "ops")
        .var("become", "true")
        .file("pass", "vault passphrase for the fleet test\n")
        .file(
            "site.yml",
            "- hosts: lab\n  state:\n    - file: /root/fleet-sudo\n      content: \"written as root\\n\"\n      mode: \"0600\"\n    \
             - command: ps -eo args > /root/ps-during-apply.txt\n      creates: /root/ps-during-apply.txt\n",
        );

    // Without a password: one clear error per host, nothing done.
    let run = p.play_vault(&["apply", "site.yml"]).code(1);
    for h in ["h1", "h2"] {
        assert_eq!(run.recap(h).2, 1, "{}", run.stdout);
        assert_eq!(
            run.stdout
                .matches(&format!("{h}: sudo needs a password for `ops`"))
                .count(),
            1,
            "{}",
            run.stdout
        );
    }

    // The password from a vault file: applies as root.
    p.write(
        "group_vars/all/become.vault.yml",
        format!("become_password: {SUDO_PASSWORD}\n").as_bytes(),
    );
    p.vault_encrypt("group_vars/all/become.vault.yml");
    let run = p
        .play_vault(&[
            "apply",
            "site.yml",
            "-v",
            "--format",
            "json",
            "--output",
            "report.json",
        ])
        .code(0);
    let report = std::fs::read_to_string(p.path("report.json")).expect("report");
    for h in ["h1", "h2"] {
        assert_eq!(lab.sh(h, "stat -c '%U %a' /root/fleet-sudo"), "root 600\n");
        // The ps taken during the apply shows play's sudo, never the password.
        let ps = lab.sh(h, "cat /root/ps-during-apply.txt");
        assert!(ps.contains("sudo -S -p"), "{ps}");
        assert!(!ps.contains(SUDO_PASSWORD), "{ps}");
        // No file on the host holds it (sudo reads it from stdin; nothing is written).
        let found = lab.exec(
            h,
            &format!(
                "grep -rlsF -- '{SUDO_PASSWORD}' /root /home /tmp /var/tmp /run /var/log /etc /var/lib/play"
            ),
        );
        assert_eq!(
            String::from_utf8_lossy(&found.stdout),
            "",
            "{h}: files holding the password"
        );
    }
    for text in [&run.stdout, &run.stderr, &report] {
        assert!(!text.contains(SUDO_PASSWORD), "password in output:\n{text}");
    }
    assert!(
        std::fs::read(p.path("group_vars/all/become.vault.yml"))
            .map(|b| !String::from_utf8_lossy(&b).contains(SUDO_PASSWORD))
            .unwrap_or(false),
        "the vault file is encrypted"
    );

    // A login with passwordless sudo and a password set: sudo does not read it, the shell
    // skips it, the command runs as root.
    let run = p
        .play_vault(&["run", "lab", "-b", "-u", "deploy", "--", "id -u"])
        .code(0);
    let blocks: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(blocks, ["  0", "  0"], "{}", run.stdout);

    // --ask-become-pass: asked once on the terminal (a pty from script(1)), for every host; it
    // wins over the (wrong) var.
    let cmd = format!(
        "{} run -i {} --color never -K -e become_password=Not-the-password lab -- id -u",
        env!("CARGO_BIN_EXE_play"),
        p.inventory().display()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(sleep 3; printf '%s\\n' '{SUDO_PASSWORD}') | script -qec \"$0\" /dev/null"
        ))
        .arg(&cmd)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env("PLAY_VAULT_PASSWORD_FILE", p.path("pass"))
        .current_dir(p.root())
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(text.matches("BECOME password:").count(), 1, "{text}");
    assert!(text.contains("2 hosts: 2 ok"), "{text}");

    // A wrong password: one clear error per host, the wrong password not shown either.
    let run = p
        .play_vault(&[
            "apply",
            "site.yml",
            "-v",
            "-e",
            "become_password=Not-the-password",
        ])
        .code(1)
        .hides("Not-the-password");
    for h in ["h1", "h2"] {
        assert_eq!(run.recap(h).2, 1, "{}", run.stdout);
        assert_eq!(
            run.stdout
                .matches(&format!(
                    "{h}: sudo refused the become password for `ops` (wrong password)"
                ))
                .count(),
            1,
            "{}",
            run.stdout
        );
    }
}

#[test]
fn one_bastion_session_carries_at_most_64_targets() {
    use play::transport::{self, jump::CHANNELS_PER_JUMP, ConnectOptions};
    let lab = Lab::start("fleet-bound", 2);
    let hop = ConnectOptions {
        timeout: std::time::Duration::from_secs(30),
        ..lab.connect_options("h1")
    };
    let target = ConnectOptions {
        name: "h2".into(),
        address: lab.host("h2").addr.clone(),
        jump: Some(Box::new(hop.clone())),
        ..hop.clone()
    };
    let before = logins(&lab, "h1");
    // 65 sessions to h2 through h1, all open at once: the 65th needs a second bastion session.
    let mut open = Vec::new();
    for i in 0..=CHANNELS_PER_JUMP {
        let mut t = transport::connect(&target).unwrap_or_else(|e| panic!("session {i}: {e}"));
        assert_eq!(t.exec("hostname", b"").expect("exec").stdout_str(), "h2\n");
        open.push(t);
    }
    assert_eq!(
        logins(&lab, "h1") - before,
        2,
        "bastion sessions for 65 targets"
    );
    for mut t in open {
        t.close();
    }
}

#[test]
fn apply_local_converges_the_machine_it_runs_on() {
    let play = support::lab::play_bin_for_hosts();
    let lab = Lab::start("fleet-local", 2);
    // The project on h1 itself; play runs there (the binary is visible through the host's
    // overlay of /), with no SSH at all.
    lab.sh(
        "h1",
        "mkdir -p /root/proj && cd /root/proj && \
         printf 'all:\\n  hosts:\\n    h1: {ssh_host: 127.0.0.1, ssh_port: 1}\\n    h2: {}\\n' > hosts.yml && \
         printf -- '- hosts: all\\n  state:\\n    - file: /etc/local-marker\\n      content: \"{{ inventory_hostname }} converged itself\\\\n\"\\n' > site.yml",
    );
    let apply = format!(
        "cd /root/proj && PLAY_LOOPBACK_ONLY=1 {} apply --color never --local -i hosts.yml site.yml",
        play.display()
    );
    for changed in [1, 0] {
        let out = lab.exec("h1", &apply);
        let run = Run::from(&["apply", "--local"], out).code(0);
        assert_eq!(run.recap("h1").1, changed, "{}", run.stdout);
        assert!(
            !run.stdout.contains("h2"),
            "only this machine:\n{}",
            run.stdout
        );
    }
    assert_eq!(
        lab.sh("h1", "cat /etc/local-marker"),
        "h1 converged itself\n"
    );
    assert_eq!(
        lab.exec("h2", "test -e /etc/local-marker").status.code(),
        Some(1)
    );
    // A machine the inventory does not name: a clear error, nothing done.
    let out = lab.exec(
        "h2",
        &format!(
            "mkdir -p /root/p && cd /root/p && printf 'all:\\n  hosts:\\n    other: {{}}\\n' > hosts.yml && \
             printf -- '- hosts: all\\n  state: []\\n' > site.yml && PLAY_LOOPBACK_ONLY=1 {} apply --color never --local -i hosts.yml site.yml",
            play.display()
        ),
    );
    Run::from(&["apply", "--local"], out)
        .code(1)
        .shows("--local: no inventory host is named like this machine (`h2`)");
}

#[test]
fn pull_converges_a_host_from_git_and_again_only_on_change() {
    let play = support::lab::play_bin_for_hosts();
    let lab = Lab::start("fleet-pull", 1);
    let commit = |content: &str| {
        lab.sh(
            "h1",
            &format!(
                "mkdir -p /srv/site/inventory && cd /srv/site && \
                 ( test -d .git || git init -q ) && \
                 printf 'all:\\n  hosts:\\n    h1: {{}}\\n' > inventory/hosts.yml && \
                 printf -- '- hosts: all\\n  state:\\n    - file: /etc/pulled\\n      content: \"{content}\\\\n\"\\n' > site.yml && \
                 git add -A && git -c user.email=t@example.test -c user.name=t commit -qm '{content}'"
            ),
        );
    };
    let pull = format!(
        "PLAY_LOOPBACK_ONLY=1 {} pull /srv/site --playbook site.yml",
        play.display()
    );
    commit("version one");
    for (changed, news) in [(1, "(new)"), (0, "(unchanged since the last apply)")] {
        let run = Run::from(&["pull"], lab.exec("h1", &pull))
            .code(0)
            .shows(news);
        assert_eq!(run.recap("h1").1, changed, "{}", run.stdout);
    }
    assert_eq!(lab.sh("h1", "cat /etc/pulled"), "version one\n");
    // The JSON report of the last run is kept.
    let report = lab.sh("h1", "cat /var/lib/play/pull/site-*.report.json");
    let v: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    assert!(v.get("hosts").is_some(), "{report}");
    // A new commit is applied; so is drift with the same commit.
    commit("version two");
    Run::from(&["pull"], lab.exec("h1", &pull))
        .code(0)
        .shows("(new)");
    assert_eq!(lab.sh("h1", "cat /etc/pulled"), "version two\n");
    lab.sh("h1", "echo drift > /etc/pulled");
    let run = Run::from(&["pull"], lab.exec("h1", &pull)).code(0);
    assert_eq!(run.recap("h1").1, 1, "{}", run.stdout);
    assert_eq!(lab.sh("h1", "cat /etc/pulled"), "version two\n");
}

/// `git:` and `release: from: {git}` fetch over ssh with a deploy key (`key:`, vaulted) and
/// `known_hosts:`: h1 serves a bare repository to a `git` user that only the deploy key opens,
/// h2 clones it. The key lives on h2 only during each fetch, and its text is in no output.
#[test]
fn git_clones_over_ssh_with_a_deploy_key() {
    let lab = Lab::start("keys-deploy", 2);
    let p = Project::new(&lab).file("pass", "vault passphrase for the deploy key test\n");
    let key = p.path("files/deploy_key");
    std::fs::create_dir_all(key.parent().expect("parent")).expect("mkdir");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "deploy", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    let private = std::fs::read_to_string(&key).expect("key");
    let public = std::fs::read_to_string(p.path("files/deploy_key.pub")).expect("pub");
    std::fs::remove_file(p.path("files/deploy_key.pub")).expect("rm pub");
    // A line of the key's body: looked for in every output and file.
    let body = private.lines().nth(2).expect("key body").to_string();
    p.vault_encrypt("files/deploy_key");
    assert!(!std::fs::read_to_string(&key)
        .expect("sealed")
        .contains(&body));

    lab.sh(
        "h1",
        &format!(
            "useradd -m -s /usr/bin/git-shell git && usermod -p '*' git && \
             mkdir -p /home/git/.ssh && printf '%s' '{public}' > /home/git/.ssh/authorized_keys && \
             chmod 700 /home/git/.ssh && chmod 600 /home/git/.ssh/authorized_keys && \
             git init -q --bare -b main /home/git/app.git && w=$(mktemp -d) && \
             git -C $w init -q -b main && printf 'v1\\n' > $w/README && git -C $w add README && \
             git -C $w -c user.name=t -c user.email=t@t commit -qm one && \
             git -C $w push -q /home/git/app.git main && chown -R git: /home/git"
        ),
    );
    lab.sh("h2", "useradd -m -s /bin/sh app");
    let ip = lab.host("h1").addr.clone();
    let kh = std::fs::read_to_string(&lab.known_hosts).expect("known_hosts");
    let (h1_key, h2_key) = (key_of(&kh, "h1"), key_of(&kh, "h2"));
    let site = |host_key: &str| {
        format!(
            "- hosts: h2\n  state:\n    - git: /srv/src\n      repo: git@{ip}:app.git\n      owner: app\n      \
             key: deploy_key\n      known_hosts: \"{ip} {host_key}\"\n    \
             - release: /srv/rel\n      from: {{git: \"git@{ip}:app.git\", version: main, key: deploy_key, known_hosts: kh}}\n"
        )
    };
    p.write("site.yml", site(&h1_key).as_bytes());
    p.write("files/kh", format!("{ip} {h1_key}\n").as_bytes());

    // Offline: the key decrypts, known_hosts parses.
    p.play_vault(&["check", "site.yml"]).code(0).hides(&body);

    let no_key_left = |when: &str| {
        assert_eq!(
            lab.sh(
                "h2",
                "ls -A /var/lib/play/keys 2>/dev/null; ls -d /tmp/play-key.* 2>/dev/null; true"
            ),
            "",
            "{when}: a key folder left on h2"
        );
        let found = lab.exec(
            "h2",
            &format!(
                "grep -rlsF -- '{body}' /root /home /tmp /var/tmp /run /var/log /etc /var/lib/play /srv"
            ),
        );
        assert_eq!(
            String::from_utf8_lossy(&found.stdout),
            "",
            "{when}: files on h2 holding the key"
        );
    };

    // -v text on stdout, the JSON report in a file: neither shows the key.
    let run = p
        .play_vault(&["apply", "site.yml", "-v"])
        .code(0)
        .hides(&body);
    p.play_vault(&["diff", "site.yml", "--format", "json", "--output", "r.json"])
        .code(0)
        .hides(&body);
    let report = std::fs::read_to_string(p.path("r.json")).expect("report");
    assert!(!report.contains(&body), "key in the report");
    assert_eq!(
        lab.sh("h2", "cat /srv/src/README"),
        "v1\n",
        "{}",
        run.stdout
    );
    assert_eq!(lab.sh("h2", "stat -c %U /srv/src/.git/HEAD"), "app\n");
    assert_eq!(lab.sh("h2", "cat /srv/rel/current/README"), "v1\n");
    assert!(
        std::fs::read_to_string(lab.dir.join("hosts/h1/console.log"))
            .unwrap_or_default()
            .contains("Accepted publickey for git"),
        "h1's sshd let the deploy key in"
    );
    no_key_left("after the apply");

    // Nothing left to do; the plan file holds no key either.
    p.play_vault(&[
        "diff",
        "site.yml",
        "--exit-code",
        "-v",
        "--out",
        "plan.json",
    ])
    .code(0)
    .hides(&body);
    let plan = std::fs::read_to_string(p.path("plan.json")).expect("plan");
    assert!(!plan.contains(&body), "key in the plan file");

    // A new commit is fetched into the existing checkout, with the key again.
    lab.sh(
        "h1",
        "chown -R root: /home/git/app.git && w=$(mktemp -d) && git clone -q /home/git/app.git $w/c && printf 'v2\\n' > $w/c/README && \
         git -C $w/c -c user.name=t -c user.email=t@t commit -qam two && \
         git -C $w/c push -q origin main && chown -R git: /home/git/app.git",
    );
    p.play_vault(&["apply", "site.yml", "-v"])
        .code(0)
        .hides(&body);
    assert_eq!(lab.sh("h2", "cat /srv/src/README"), "v2\n");
    assert_eq!(lab.sh("h2", "cat /srv/rel/current/README"), "v2\n");
    no_key_left("after the update");

    // Another host key than the server's: the plan fails clearly, nothing is left behind.
    p.write("bad.yml", site(&h2_key).as_bytes());
    let run = p
        .play_vault(&["diff", "bad.yml", "-v"])
        .code(1)
        .hides(&body);
    assert!(
        run.stdout.contains(
            "Host key verification failed: the git server's host key is not in the known_hosts play was given"
        ),
        "{}",
        run.stdout
    );
    no_key_left("after the refused host key");
}
