//! The OpenSSH client config reader against OpenSSH itself: for the same files, every host
//! name resolves to the same HostName, User, Port, IdentityFile list and ProxyJump as
//! `ssh -G -F FILE HOST` prints. And the inventory's precedence over the file.

use std::path::{Path, PathBuf};
use std::process::Command;

use play::inventory::{self, connection_for, ConnectionOverrides, Vars};
use play::transport::ssh_config::{Context, SshConfig, Tokens};
use play::transport::HostKeyPolicy;

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
    p
}

fn local_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `ssh -G` output as (keyword, value) pairs.
fn ssh_g(config: &Path, host: &str) -> Vec<(String, String)> {
    let out = Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(config)
        .arg(host)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ssh -G (openssh-client)");
    assert!(
        out.status.success(),
        "ssh -G {host}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn all<'a>(g: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    g.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn one<'a>(g: &'a [(String, String)], key: &str) -> Option<&'a str> {
    all(g, key).first().copied()
}

#[test]
fn resolution_matches_ssh_dash_g() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    let inc = dir.join("conf.d");
    write(
        dir,
        "conf.d/10-db.conf",
        "Host db*\n  User dbadmin\n  Port 2201\nHost db9\n  Port 9999\n",
    );
    write(
        dir,
        "conf.d/20-late.conf",
        "Host *.internal\n  ProxyJump none\n  IdentityFile ~/.ssh/internal_%h\n",
    );
    // Included inside a block that does not match `web1`: contributes nothing to it.
    write(dir, "scoped.conf", "User scoped\nHost *\n  Port 4444\n");
    let main = write(
        dir,
        "config",
        &format!(
            r#"# comment
Host web? !web3
    HostName %h.example.test
    User deploy
    IdentityFile ~/.ssh/web_%r
    IdentityFile=/keys/second
    StrictHostKeyChecking yes
    ConnectTimeout 7
    IdentitiesOnly yes
    UserKnownHostsFile /kh/%h-%r-%p /second

Host web3
  HostName="10.9.9.3"
  Port 2203

Host !web1
  Port 1

Host Web1
  User upper

Host bastion
  HostName 127.0.0.50
  User jumper

Host inner
  ProxyJump bastion,jumper@other:2022

Match host *.example.test
  Port 2222
  ProxyJump bastion

Match user dbadmin
  IdentityFile ~/.ssh/db_key

Match !host db*,web*
  ServerAliveInterval 5

Host scoped
  Include {scoped}
# Still inside `Host scoped`: this Include only counts for `scoped`.
Include {inc}/10-db.conf

Match all
Include {inc}/*.conf

Host *
  User fallback
  Port 2000
  IdentityFile ~/.ssh/default_key
  ProxyJump bastion
  StrictHostKeyChecking accept-new
"#,
            scoped = dir.join("scoped.conf").display(),
            inc = inc.display()
        ),
    );
    let ctx = Context {
        home: PathBuf::from("/nonexistent-home"),
        local_user: local_user(),
    };
    let cfg = SshConfig::load(&main, &ctx).expect("load");
    let mut compared = 0;
    for host in [
        "web1",
        "web2",
        "web3",
        "web12",
        "bastion",
        "inner",
        "db1",
        "db9",
        "x.internal",
        "scoped",
        "other",
        "a.example.test",
        "Web1",
        "WEB1",
    ] {
        let ours = cfg.resolve(host, &ctx);
        let g = ssh_g(&main, host);
        let want_host = ours
            .hostname
            .clone()
            .unwrap_or_else(|| host.to_ascii_lowercase());
        assert_eq!(
            one(&g, "hostname"),
            Some(want_host.as_str()),
            "{host}: hostname"
        );
        let want_user = ours.user.clone().unwrap_or_else(|| ctx.local_user.clone());
        assert_eq!(one(&g, "user"), Some(want_user.as_str()), "{host}: user");
        let want_port = ours.port.unwrap_or(22).to_string();
        assert_eq!(one(&g, "port"), Some(want_port.as_str()), "{host}: port");
        assert_eq!(
            all(&g, "identityfile"),
            ours.identity_files,
            "{host}: identityfile"
        );
        let want_jump = ours
            .proxy_jump
            .clone()
            .filter(|j| !j.eq_ignore_ascii_case("none"));
        assert_eq!(
            one(&g, "proxyjump").map(str::to_string),
            want_jump,
            "{host}: proxyjump"
        );
        let alive = ours
            .server_alive_interval
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        assert_eq!(
            one(&g, "serveraliveinterval"),
            Some(alive.as_str()),
            "{host}"
        );
        let strict = one(&g, "stricthostkeychecking").unwrap_or_default();
        let want: &[&str] = match ours.strict_host_key_checking {
            Some(HostKeyPolicy::Strict) => &["true", "ask"],
            Some(HostKeyPolicy::AcceptNew) => &["accept-new", "false"],
            None => &["ask"],
        };
        assert!(
            want.contains(&strict),
            "{host}: stricthostkeychecking {strict}"
        );
        let timeout = ours
            .connect_timeout
            .map(|t| t.as_secs().to_string())
            .unwrap_or_else(|| "none".into());
        assert_eq!(one(&g, "connecttimeout"), Some(timeout.as_str()), "{host}");
        let only = if ours.identities_only == Some(true) {
            "yes"
        } else {
            "no"
        };
        assert_eq!(one(&g, "identitiesonly"), Some(only), "{host}");
        if let Some(raw) = &ours.user_known_hosts {
            let tokens = Tokens {
                hostname: &want_host,
                original: host,
                user: &want_user,
                port: ours.port.unwrap_or(22),
            };
            let path = ours.expand(raw, &tokens, &ctx).expect("expand");
            let first = one(&g, "userknownhostsfile").and_then(|v| v.split(' ').next());
            assert_eq!(first, path.to_str(), "{host}: userknownhostsfile");
        }
        compared += 1;
    }
    assert_eq!(compared, 14);
    // The cases the file exercises, checked in words too.
    let web1 = cfg.resolve("web1", &ctx);
    assert_eq!(web1.hostname.as_deref(), Some("web1.example.test"));
    assert_eq!(web1.port, Some(2222), "Match host sees the HostName");
    assert_eq!(cfg.resolve("web3", &ctx).user.as_deref(), Some("fallback"));
    assert_eq!(
        cfg.resolve("db9", &ctx).port,
        Some(2201),
        "first value wins"
    );
    assert_eq!(
        cfg.resolve("x.internal", &ctx).proxy_jump.as_deref(),
        Some("none")
    );
    assert_eq!(cfg.resolve("scoped", &ctx).user.as_deref(), Some("scoped"));
    assert_eq!(cfg.resolve("scoped", &ctx).port, Some(4444));
    assert_eq!(cfg.resolve("web1", &ctx).user.as_deref(), Some("deploy"));
    assert_eq!(cfg.resolve("Web1", &ctx).user.as_deref(), Some("upper"));
    assert_eq!(
        cfg.resolve("web1", &ctx).port,
        Some(2222),
        "a lone !pattern never matches"
    );
    assert_eq!(
        cfg.resolve("web1", &ctx).strict_host_key_checking,
        Some(HostKeyPolicy::Strict)
    );
    assert_eq!(
        cfg.resolve("other", &ctx).strict_host_key_checking,
        Some(HostKeyPolicy::AcceptNew)
    );
}

#[test]
fn unsupported_match_is_an_error_naming_file_and_line() {
    let d = tempfile::tempdir().expect("tempdir");
    let inc = write(
        d.path(),
        "inc.conf",
        "Host a\n  User b\nMatch exec \"true\"\n",
    );
    let main = write(d.path(), "config", &format!("Include {}\n", inc.display()));
    let e = SshConfig::load(&main, &Context::from_env()).expect_err("Match exec");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: `Match exec` is not supported by play (only `Match host`, `Match user` and \
             `Match all`)",
            inc.display()
        )
    );
}

#[test]
fn inventory_vars_win_over_the_config_and_fill_what_it_leaves() {
    let d = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        d.path(),
        "ssh_config",
        "Host app*\n  HostName 127.0.0.99\n  User cfguser\n  Port 2022\n  IdentityFile /keys/%r@%h\n  \
         UserKnownHostsFile /kh/%h\n  ConnectTimeout 3\n  ServerAliveInterval 7\n  \
         ProxyJump jumpuser@gate:2200\nHost gate\n  HostName 127.0.0.98\n  IdentitiesOnly yes\n",
    );
    let inv_path = write(
        d.path(),
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ssh_config: {}\n  hosts:\n    app1: {{}}\n    app2: {{ssh_user: inv, ssh_port: 23}}\n    other: {{}}\n",
            cfg.display()
        ),
    );
    let inv = inventory::load(&inv_path, &Vars::new()).expect("inventory");
    let o = ConnectionOverrides::default();
    let c = connection_for(inv.host("app1").expect("app1"), &o).expect("app1");
    assert_eq!(
        (c.address.as_str(), c.user.as_str(), c.port),
        ("127.0.0.99", "cfguser", 2022)
    );
    assert_eq!(c.private_keys, [PathBuf::from("/keys/cfguser@127.0.0.99")]);
    assert_eq!(c.known_hosts, PathBuf::from("/kh/127.0.0.99"));
    assert_eq!(c.timeout.as_secs(), 3);
    assert_eq!(c.keepalive.map(|k| k.as_secs()), Some(7));
    let j = c.jump.as_ref().expect("jump");
    assert_eq!(
        (j.name.as_str(), j.address.as_str(), j.user.as_str(), j.port),
        ("gate", "127.0.0.98", "jumpuser", 2200)
    );
    assert!(!j.use_agent, "IdentitiesOnly yes");
    assert!(j.jump.is_none());
    // Inventory vars win; %r follows the user actually used.
    let c = connection_for(inv.host("app2").expect("app2"), &o).expect("app2");
    assert_eq!((c.user.as_str(), c.port), ("inv", 23));
    assert_eq!(c.private_keys, [PathBuf::from("/keys/inv@127.0.0.99")]);
    // Command line wins over both; -F none reads no file.
    let o2 = ConnectionOverrides {
        user: Some("cli".into()),
        ssh_config: Some("none".into()),
        ..Default::default()
    };
    let c = connection_for(inv.host("app1").expect("app1"), &o2).expect("app1");
    assert_eq!(
        (c.address.as_str(), c.user.as_str(), c.port),
        ("app1", "cli", 22)
    );
    assert!(c.jump.is_none());
    let c = connection_for(inv.host("other").expect("other"), &o).expect("other");
    assert_eq!((c.address.as_str(), c.port), ("other", 22));
}

#[test]
fn proxy_jump_loops_are_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        d.path(),
        "ssh_config",
        "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n",
    );
    let inv_path = write(d.path(), "hosts.yml", "all:\n  hosts:\n    a: {}\n");
    let inv = inventory::load(&inv_path, &Vars::new()).expect("inventory");
    let o = ConnectionOverrides {
        ssh_config: Some(cfg),
        ..Default::default()
    };
    let e = connection_for(inv.host("a").expect("a"), &o).expect_err("loop");
    assert!(e.to_string().contains("more than 8 jump hosts"), "{e}");
}

#[test]
fn jump_hosts_resolve_as_ssh_does_and_inventory_jumps_win() {
    let d = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        d.path(),
        "ssh_config",
        "Host app\n  HostName 127.0.0.70\n  ProxyJump first,ops@second:2022\n\
         Host first\n  HostName 127.0.0.71\n  User jumper\n  Port 2201\n\
         Host second\n  HostName 127.0.0.72\n  User ignored\n  ProxyJump ignored-in-a-chain\n\
         Host gate\n  HostName 127.0.0.73\n",
    );
    let inv_path = write(
        d.path(),
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ssh_config: {}\n  hosts:\n    app: {{}}\n    \
             byvar: {{ssh_host: app, ssh_proxy_jump: gate}}\n    \
             byargs: {{ssh_host: app, ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o ProxyJump=u@gate:23'}}\n    \
             byj: {{ssh_host: app, ansible_ssh_common_args: '-J gate'}}\n    \
             cmd: {{ansible_ssh_common_args: '-o ProxyCommand=\"ssh -W %h:%p gate\"'}}\n",
            cfg.display()
        ),
    );
    let inv = inventory::load(&inv_path, &Vars::new()).expect("inventory");
    let o = ConnectionOverrides::default();
    let c = connection_for(inv.host("app").expect("app"), &o).expect("app");
    // `ProxyJump first,ops@second:2022`: second, reached through first.
    let second = c.jump.as_deref().expect("second");
    let first = second.jump.as_deref().expect("first");
    assert!(first.jump.is_none());
    // Each hop as `ssh -G` resolves it (its own Host block; user@ and :port of the spec win).
    for (hop, name, spec_user, spec_port) in [
        (first, "first", None, None),
        (second, "second", Some("ops"), Some(2022)),
    ] {
        let g = ssh_g(&cfg, name);
        assert_eq!(Some(hop.address.as_str()), one(&g, "hostname"), "{name}");
        let user = spec_user
            .map(str::to_string)
            .or(one(&g, "user").map(str::to_string));
        assert_eq!(Some(hop.user.clone()), user, "{name}");
        let port = spec_port.or(one(&g, "port").and_then(|p| p.parse().ok()));
        assert_eq!(Some(hop.port), port, "{name}");
        assert_eq!(hop.name, name);
    }
    assert_eq!((first.user.as_str(), first.port), ("jumper", 2201));
    // Inventory jumps win over the config's.
    for (h, user, port) in [
        ("byvar", None, 22),
        ("byargs", Some("u"), 23),
        ("byj", None, 22),
    ] {
        let c = connection_for(inv.host(h).expect(h), &o).expect(h);
        let j = c.jump.as_deref().expect("jump");
        assert_eq!(
            (j.name.as_str(), j.address.as_str(), j.port),
            ("gate", "127.0.0.73", port),
            "{h}"
        );
        if let Some(u) = user {
            assert_eq!(j.user, u, "{h}");
        }
        assert!(j.jump.is_none(), "{h}");
    }
    let e = connection_for(inv.host("cmd").expect("cmd"), &o).expect_err("ProxyCommand");
    assert!(
        e.to_string().contains("ProxyCommand is not supported"),
        "{e}"
    );
}
