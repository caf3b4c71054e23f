//! Loading and resolving `git:`, `sync:`, `release:`, `package:`, `user:`, `group:`,
//! `command:` on data (no hosts): which key names the kind, the keys each accepts, located
//! errors, package lists, watches, the rollback pin, and what the first probe asks for.

use std::path::Path;

use play::inventory::{self, Vars};
use play::playbook;
use play::resolve::{stub_facts, Resolver};
use play::resources::package::PackageState;
use play::resources::release::{Pin, ReleaseSource};
use play::resources::Desired;
use play::yaml::Value;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

const INV: &str = "all:\n  vars: {app: hello, pkgs: [curl, git]}\n  hosts: {w1: }\n";

struct Setup {
    _dir: tempfile::TempDir,
    inv: inventory::Inventory,
    pb: Result<playbook::Playbook, playbook::PlaybookError>,
}

fn setup(pb: &str) -> Setup {
    let d = tempfile::tempdir().expect("tmp");
    write(d.path(), "hosts.yml", INV);
    write(d.path(), "pb/site.yml", pb);
    write(d.path(), "pb/files/app/hello.py", "print('hi')\n");
    write(d.path(), "pb/files/app/lib/x.py", "x = 1\n");
    let inv = inventory::load(&d.path().join("hosts.yml"), &Vars::new()).expect("inventory");
    let pb = playbook::load(&d.path().join("pb/site.yml"));
    Setup { _dir: d, inv, pb }
}

fn resolve(s: &Setup, extra: &Vars) -> Result<Vec<Desired>, String> {
    let pb = s.pb.as_ref().map_err(|e| e.to_string())?;
    let r = Resolver::new(pb, &s.inv, extra);
    let host = s.inv.host("w1").expect("w1");
    r.resources(host, &stub_facts())
        .map(|rs| rs.into_iter().map(|r| r.desired).collect())
        .map_err(|e| e.to_string())
}

fn ok(pb: &str) -> Vec<Desired> {
    let s = setup(pb);
    resolve(&s, &Vars::new()).unwrap_or_else(|e| panic!("{pb}\n{e}"))
}

fn err(pb: &str) -> String {
    let s = setup(pb);
    resolve(&s, &Vars::new()).expect_err(pb)
}

#[test]
fn the_key_naming_the_kind() {
    let d = ok(r#"- hosts: all
  state:
    - group: app
      gid: 990
    - user: app
      group: app
      groups: [adm]
      shell: /bin/sh
    - command: make
      user: app
      chdir: /srv
    - file: /etc/x
      group: adm
    - program: web
      command: sleep 1
      user: app
"#);
    let kinds: Vec<&str> = d.iter().map(|d| d.kind().as_str()).collect();
    assert_eq!(kinds, ["group", "user", "command", "file", "program"]);
    let Desired::User(u) = &d[1] else { panic!() };
    assert_eq!(
        u.group.as_deref(),
        Some("app"),
        "beside user:, group: is the primary group"
    );
    assert_eq!(u.groups.as_deref(), Some(&["adm".to_string()][..]));
    let Desired::Command(c) = &d[2] else { panic!() };
    assert_eq!(
        (c.user.as_deref(), c.chdir.as_deref()),
        (Some("app"), Some("/srv"))
    );
}

#[test]
fn foreign_keys_and_shapes_are_located_errors() {
    for (pb, expected) in [
        (
            "- hosts: all\n  state:\n    - git: /srv/src\n      repo: /r.git\n      content: x\n",
            "site.yml:3:7: key `content` does not apply to a git",
        ),
        (
            "- hosts: all\n  state:\n    - git: /srv/src\n",
            "a git checkout needs `repo`",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      keep: 3\n",
            "a release needs `from:",
        ),
        (
            "- hosts: all\n  state:\n    - sync: /srv/app\n",
            "a sync needs `src`",
        ),
        (
            "- hosts: all\n  state:\n    - file: /etc/x\n      user: app\n",
            "exactly one kind, found `file` and `user`",
        ),
        (
            "- hosts: all\n  state:\n    - package: curl\n      owner: root\n",
            "key `owner` does not apply to a package",
        ),
    ] {
        let s = setup(pb);
        let e = s.pb.as_ref().map(|_| ()).expect_err(pb).to_string();
        assert!(e.contains(expected), "{pb}\n{e}");
    }
    for (pb, expected) in [
        (
            "- hosts: all\n  state:\n    - git: /srv/src\n      repo: /r.git\n      version: \"-x\"\n",
            "site.yml:5:16: version `-x` is not a branch",
        ),
        (
            "- hosts: all\n  state:\n    - package: [curl, \"BAD name\"]\n",
            "package name `BAD name`",
        ),
        (
            "- hosts: all\n  state:\n    - user: Root\n",
            "user name `Root`",
        ),
        (
            "- hosts: all\n  state:\n    - sync: /srv/app\n      src: nowhere\n",
            "folder `nowhere` not found",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app, version: main}\n",
            "`version`, `depth`, `key` and `known_hosts` go with `git`",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app}\n      keep: 0\n",
            "keep must be at least 1",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app}\n      shared: [../etc]\n",
            "site.yml:5:15: shared: `../etc` must be a plain relative path",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app}\n      shared: [/srv/data]\n",
            "shared: `/srv/data` must be relative to the release",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app}\n      shared: [data, data/uploads]\n",
            "shared: `data/uploads` and `data` overlap",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app}\n      build: [\"  \"]\n",
            "site.yml:5:14: build: an empty command",
        ),
        (
            "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app}\n      environment: {1X: a}\n",
            "environment: `1X` is not a variable name",
        ),
        (
            "- hosts: all\n  state:\n    - command: nginx -t\n      changed: maybe\n",
            "site.yml:4:16: changed must be true or false",
        ),
        (
            "- hosts: all\n  state:\n    - command: make\n      creates: relative/path\n",
            "creates: path `relative/path` must be absolute",
        ),
        (
            "- hosts: all\n  state:\n    - package: curl=1.0\n      state: latest\n",
            "a pinned version needs `state: present`",
        ),
        (
            "- hosts: all\n  state:\n    - sync: /srv/app\n      src: app\n      exclude: [\"{a,b}\"]\n",
            "braces are not supported",
        ),
    ] {
        let e = err(pb);
        assert!(e.contains(expected), "{pb}\n{e}");
    }
}

#[test]
fn package_lists_are_one_resource_per_name() {
    let d = ok(
        "- hosts: all\n  state:\n    - package: \"{{ pkgs }}\"\n      state: latest\n    - package: hello=1.0-1\n",
    );
    let names: Vec<(String, Option<String>, PackageState)> = d
        .iter()
        .map(|d| match d {
            Desired::Package(p) => (p.name.clone(), p.version.clone(), p.state),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            ("curl".into(), None, PackageState::Latest),
            ("git".into(), None, PackageState::Latest),
            ("hello".into(), Some("1.0-1".into()), PackageState::Present)
        ]
    );
    // The same package in the same state twice (two roles needing it) is one resource; a
    // differing declaration of it is a duplicate (the_same_declaration_twice_is_one_resource).
    let d = ok("- hosts: all\n  state:\n    - package: [curl]\n    - package: [git, curl]\n");
    let names: Vec<&str> = d
        .iter()
        .map(|d| match d {
            Desired::Package(p) => p.name.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["curl", "git"]);
    let e = err("- hosts: all\n  state:\n    - package: [curl]\n    - package: [git, curl]\n      state: latest\n");
    assert!(e.contains("duplicate resource `package curl`"), "{e}");
    let e = err("- hosts: all\n  state:\n    - package: [curl]\n- hosts: all\n  state:\n    - package: curl\n      state: absent\n");
    assert!(e.contains("duplicate resource `package curl`"), "{e}");
}

/// Two roles declaring the same thing (Ansible runs both tasks; the second changes nothing): one
/// resource, the first; a declaration that differs is a second owner.
#[test]
fn the_same_declaration_twice_is_one_resource() {
    let d = ok("- hosts: all
  state:
    - file: /etc/app.ini
      content: \"a=1\\n\"
      mode: \"0644\"
    - directory: /srv/app
    - command: /usr/local/bin/migrate
      creates: /srv/app/.migrated
    - file: /etc/app.ini
      content: \"a=1\\n\"
      mode: \"0644\"
    - command: /usr/local/bin/migrate
      creates: /srv/app/.migrated
- hosts: all
  state:
    - directory: /srv/app
");
    let keys: Vec<String> = d.iter().map(|d| d.key().to_string()).collect();
    assert_eq!(keys, ["/etc/app.ini", "/srv/app", "/usr/local/bin/migrate"]);
    for (second, what) in [
        (
            "    - file: /etc/app.ini\n      content: \"a=2\\n\"\n",
            "/etc/app.ini",
        ),
        (
            "    - file: /etc/app.ini\n      content: \"a=1\\n\"\n      mode: \"0600\"\n",
            "/etc/app.ini",
        ),
        ("    - directory: /etc/app.ini\n", "/etc/app.ini"),
        (
            "    - command: /usr/local/bin/migrate\n",
            "command /usr/local/bin/migrate",
        ),
    ] {
        let pb = format!(
            "- hosts: all\n  state:\n    - file: /etc/app.ini\n      content: \"a=1\\n\"\n      mode: \"0644\"\n    - command: /usr/local/bin/migrate\n      creates: /srv/app/.migrated\n{second}"
        );
        let e = err(&pb);
        assert!(
            e.contains(&format!("duplicate resource `{what}`")),
            "{pb}\n{e}"
        );
    }
}

#[test]
fn watches_name_any_kind_but_processes() {
    let pb = r#"- hosts: all
  state:
    - package: nginx
    - user: app
    - release: /srv/{{ app }}
      from: {sync: app}
    - command: "echo changed"
      on_change: [nginx, app, /srv/hello]
    - program: web
      command: sleep 1
      restart_on: [/srv/hello, nginx, "echo changed"]
"#;
    let d = ok(pb);
    assert_eq!(d.len(), 5);
    let e = err("- hosts: all\n  state:\n    - program: web\n      command: sleep 1\n    - command: x\n      on_change: [web]\n");
    assert!(e.contains("on_change: `web` is a program"), "{e}");
    let e = err(
        "- hosts: all\n  state:\n    - command: x\n      on_change: [/etc/a]\n    - file: /etc/a\n      content: a\n",
    );
    assert!(
        e.contains("site.yml:4:19: on_change: `/etc/a` is declared after this command"),
        "{e}"
    );
    let e = err("- hosts: all\n  state:\n    - command: x\n      on_change: [nginxx]\n    - package: nginx\n");
    assert!(
        e.contains("no resource of play `all` has the key `nginxx`"),
        "{e}"
    );
}

#[test]
fn releases_read_their_source_and_the_rollback_pin() {
    let pb = "- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app, exclude: [lib]}\n      keep: \"{{ 2 + 1 }}\"\n      owner: app\n";
    let d = ok(pb);
    let Desired::Release(r) = &d[0] else { panic!() };
    assert_eq!(r.keep, 3);
    assert_eq!(r.pin, None);
    let ReleaseSource::Sync { tree, exclude, .. } = &r.source else {
        panic!()
    };
    assert_eq!(exclude, &["lib".to_string()]);
    assert_eq!(tree.files.keys().collect::<Vec<_>>(), ["hello.py"]);
    let s = setup(pb);
    let mut extra = Vars::new();
    extra.insert("play_release".into(), Value::String("previous".into()));
    let Desired::Release(r) = &resolve(&s, &extra).expect("pinned")[0] else {
        panic!()
    };
    assert_eq!(r.pin, Some(Pin::Previous));
    extra.insert("play_release".into(), Value::String("0123456789ab".into()));
    let Desired::Release(r) = &resolve(&s, &extra).expect("pinned")[0] else {
        panic!()
    };
    assert_eq!(r.pin, Some(Pin::Id("0123456789ab".into())));
    extra.insert("play_release".into(), Value::String("yesterday".into()));
    let e = resolve(&s, &extra).expect_err("bad pin");
    assert!(
        e.contains("play_release=yesterday: expected `previous` or a release id"),
        "{e}"
    );
    let d = ok("- hosts: all\n  state:\n    - release: /srv/app\n      from: {git: /srv/r.git, version: v2, depth: 1}\n");
    let Desired::Release(r) = &d[0] else { panic!() };
    assert_eq!(
        r.source,
        ReleaseSource::Git {
            repo: "/srv/r.git".into(),
            version: "v2".into(),
            depth: Some(1),
            ssh: Default::default(),
        }
    );
}

#[test]
fn the_first_probe_knows_what_these_kinds_need() {
    let s = setup(
        "- hosts: all\n  state:\n    - git: /srv/src\n      repo: /r.git\n    - command: x\n      unless: \"test -f {{ facts.hostname }}\"\n",
    );
    let pb = s.pb.as_ref().expect("loads");
    let extra = Vars::new();
    let r = Resolver::new(pb, &s.inv, &extra);
    let t = r
        .probe_targets(s.inv.host("w1").expect("w1"))
        .expect("targets");
    // The checkout renders without facts: its probe is known before the first round trip;
    // the command's check needs facts: a second round trip.
    assert_eq!(t.rendered.len(), 1);
    assert!(matches!(t.rendered[0].desired, Desired::Git(_)));
    assert_eq!(t.deferred, 1);
}

const DEPLOY_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
const KNOWN: &str = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFQlEMqVS4dB2GwSgQqBkCGd+wi6DTCtLSyHe0Cwku1y";

/// `key:` (a vaulted file of `files/`) and `known_hosts:` (a file, or inline) of `git:` and
/// `release: from: {git}`, decrypted and checked offline, with located errors.
#[test]
fn deploy_keys_are_read_decrypted_and_checked() {
    play::vault::set_passphrase(play::vault::secret_string("pw-deploy"));
    let sealed = play::vault::encrypt(
        DEPLOY_KEY.as_bytes(),
        &play::vault::secret_string("pw-deploy"),
    )
    .expect("encrypt");
    let pb = format!(
        r#"- hosts: all
  state:
    - git: /srv/src
      repo: git@git.example.com:a.git
      key: deploy.vault
      known_hosts: kh
    - release: /srv/app
      from: {{git: "git@git.example.com:a.git", key: deploy.vault, known_hosts: "{KNOWN}"}}
"#
    );
    let s = setup(&pb);
    write(s._dir.path(), "pb/files/deploy.vault", &sealed);
    write(s._dir.path(), "pb/files/kh", &format!("# ours\n{KNOWN}\n"));
    let d = resolve(&s, &Vars::new()).expect("resolves");
    let Desired::Git(g) = &d[0] else { panic!() };
    let key = g.ssh.key.as_ref().expect("key");
    assert!(key.source.ends_with("pb/files/deploy.vault"), "{key:?}");
    assert_eq!(key.lines().count(), 3);
    assert!(
        play::vault::holds_secret(
            b"x b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW y"
        ),
        "its lines are redacted from every output"
    );
    assert_eq!(
        g.ssh.known_hosts.as_deref(),
        Some(&*format!("# ours\n{KNOWN}\n"))
    );
    let Desired::Release(r) = &d[1] else { panic!() };
    let ReleaseSource::Git { ssh, .. } = &r.source else {
        panic!()
    };
    assert_eq!(ssh.key, g.ssh.key);
    assert_eq!(ssh.known_hosts.as_deref(), Some(KNOWN));

    let git = |more: &str| {
        format!("- hosts: all\n  state:\n    - git: /srv/src\n      repo: git@h:a.git\n{more}")
    };
    let e = err(&git("      key: nope.key\n"));
    assert!(
        e.contains("site.yml:5:") && e.contains("key: file `nope.key` not found"),
        "{e}"
    );
    let s = setup(&git("      key: pub\n"));
    write(s._dir.path(), "pb/files/pub", "ssh-ed25519 AAAA x\n");
    let e = resolve(&s, &Vars::new()).expect_err("public half");
    assert!(e.contains("is not a private key"), "{e}");
    let e = err(&git("      known_hosts: \"h ssh-ed25519 !!\"\n"));
    assert!(
        e.contains("site.yml:5:") && e.contains("known_hosts: line 1: the key is not base64"),
        "{e}"
    );
    let e =
        err("- hosts: all\n  state:\n    - release: /srv/app\n      from: {sync: app, key: k}\n");
    assert!(e.contains("go with `git`"), "{e}");
}

/// `user:` on `git:` (Ansible's `become_user`) is the user git runs as: the checkout's owner.
#[test]
fn git_user_is_the_checkouts_owner() {
    let git = |more: &str| {
        format!("- hosts: all\n  state:\n    - git: /srv/src\n      repo: /r.git\n{more}")
    };
    for (more, owner) in [
        ("      user: app\n", Some("app")),
        ("      owner: app\n      user: app\n", Some("app")),
        ("", None),
    ] {
        let d = ok(&git(more));
        match &d[..] {
            [Desired::Git(g)] => assert_eq!(g.owner.as_deref(), owner, "{more}"),
            other => panic!("{more}: {other:?}"),
        }
    }
    let e = err(&git("      owner: app\n      user: web\n"));
    assert!(
        e.contains("site.yml:6:13") && e.contains("`user: web` and `owner: app` differ"),
        "{e}"
    );
    let e = err(&git("      user: \"bad name\"\n"));
    assert!(e.contains("site.yml:5:13"), "{e}");
}
