//! The generated probe, fetch and apply scripts, run for real with `sh -c` on this machine's
//! filesystem (no SSH): convergence, idempotence, hostile file names, binary contents,
//! failures that stop cleanly. Runs as root (the test machine's user).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use play::apply::{self, ApplyOutcome};
use play::probe::{self, ProbeError, ProbeRequest, Wants};
// Hostile names and binary contents cannot be written in a playbook's YAML: these tests
// build the path kinds' specs themselves (not `resources::example`).
use play::resources::directory::{DirectorySpec, Tree};
use play::resources::file::FileSpec;
use play::resources::link::LinkSpec;
use play::resources::{
    self, Action, Attrs, Change, Content, Desired, ModeRule, Observed, Origin, PathKind, Presence,
    Resource,
};

/// Names that break naive scripts. None of them may be executed or mangled.
const HOSTILE: &[&str] = &[
    "plain",
    "with space",
    "new\nline",
    "tab\there",
    "quote'single",
    "quote\"double",
    "$(touch pwned)",
    "`touch pwned2`",
    "semi;touch pwned3",
    "-dash",
    "*glob?[x]",
    "back\\slash",
    "back\\nslash",
    "ünïcødé ✓ 日本",
    "trailing\n",
    " lead space",
    "--",
];

struct Out {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: i32,
}

/// The default shell (dash on Debian).
const SH: &[&str] = &["sh"];

/// Runs `SHELL -c SCRIPT` in `cwd` with `stdin`; `shell` may start with a wrapper (setpriv).
/// Runs `script` as a transport does: the constant bootstrap line, the script first on stdin.
fn run_in(shell: &[&str], cwd: &Path, script: &str, stdin: &[u8]) -> Out {
    use std::io::Write;
    let mut argv: Vec<&str> = shell.to_vec();
    argv.extend(["-c", play::transport::BOOTSTRAP]);
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut input = child.stdin.take().expect("stdin");
    let data = play::transport::frame_exec(script, stdin);
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait sh");
    writer.join().expect("writer");
    Out {
        stdout: out.stdout,
        stderr: out.stderr,
        status: out.status.code().unwrap_or(-1),
    }
}

fn run(cwd: &Path, script: &str, stdin: &[u8]) -> Out {
    run_in(SH, cwd, script, stdin)
}

fn res(desired: Desired) -> Resource {
    Resource {
        desired,
        origin: Origin {
            file: "test.yml".into(),
            line: 1,
            column: 1,
        },
        sensitive: false,
    }
}

fn path_of(dir: &Path, name: &str) -> String {
    format!("{}/{name}", dir.display())
}

fn file(path: &str, content: Option<&[u8]>, attrs: Attrs) -> Resource {
    res(Desired::File(FileSpec {
        path: path.into(),
        presence: Presence::Present,
        content: content.map(|b| Content {
            bytes: b.to_vec(),
            source: "content".into(),
        }),
        attrs,
        validate: None,
        copy_of: None,
        keep: false,
    }))
}

fn absent_file(path: &str) -> Resource {
    res(Desired::File(FileSpec {
        path: path.into(),
        presence: Presence::Absent,
        content: None,
        attrs: Attrs::default(),
        validate: None,
        copy_of: None,
        keep: false,
    }))
}

fn dir(path: &str, presence: Presence, attrs: Attrs, force: bool) -> Resource {
    res(Desired::Directory(DirectorySpec {
        path: path.into(),
        presence,
        attrs,
        force,
        parent_of: None,
        recurse: None,
    }))
}

fn link(path: &str, target: &str, presence: Presence, force: bool) -> Resource {
    res(Desired::Link(LinkSpec {
        path: path.into(),
        presence,
        target: target.into(),
        attrs: Attrs::default(),
        force,
        replace_folder: false,
    }))
}

fn mode(m: u32) -> Attrs {
    Attrs {
        owner: None,
        group: None,
        mode: Some(m),
    }
}

fn root(m: u32) -> Attrs {
    Attrs {
        owner: Some("root".into()),
        group: Some("root".into()),
        mode: Some(m),
    }
}

fn probe_in(cwd: &Path, rs: &[Resource]) -> Observed {
    probe_with(SH, cwd, rs)
}

fn probe_with(shell: &[&str], cwd: &Path, rs: &[Resource]) -> Observed {
    // every fact, the default routes included (their fragment must not disturb the rest)
    let mut wants = Wants::for_resources(rs);
    wants.extra.net = true;
    let (command, stdin) = wants.command();
    let out = run_in(shell, cwd, &command, &stdin);
    assert_eq!(
        out.status,
        0,
        "probe stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "probe stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    probe::parse(&out.stdout).expect("probe output parses")
}

fn plan(rs: &[Resource], obs: &Observed) -> Vec<Change> {
    rs.iter()
        .enumerate()
        .filter_map(|(i, r)| resources::plan(i, r, obs).expect("plannable"))
        .collect()
}

fn apply_in(cwd: &Path, rs: &[Resource], changes: &[Change]) -> (ApplyOutcome, Out) {
    apply_with(SH, cwd, rs, changes)
}

fn apply_with(
    shell: &[&str],
    cwd: &Path,
    rs: &[Resource],
    changes: &[Change],
) -> (ApplyOutcome, Out) {
    let steps: Vec<(&Change, &Resource)> = changes.iter().map(|c| (c, &rs[c.index])).collect();
    let (script, stdin) = apply::script(&steps);
    let out = run_in(shell, cwd, &script, &stdin);
    (apply::parse(&out.stdout, &out.stderr, out.status), out)
}

/// probe → plan → apply → probe → plan: the second plan must be empty. Returns the first plan.
fn converge(cwd: &Path, rs: &[Resource]) -> Vec<Change> {
    converge_with(SH, cwd, rs)
}

fn converge_with(shell: &[&str], cwd: &Path, rs: &[Resource]) -> Vec<Change> {
    let obs = probe_with(shell, cwd, rs);
    let changes = plan(rs, &obs);
    let (outcome, out) = apply_with(shell, cwd, rs, &changes);
    assert_eq!(
        outcome.failed,
        None,
        "apply failed; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status, 0);
    let want: Vec<usize> = changes.iter().map(|c| c.index).collect();
    assert_eq!(outcome.done, want);
    let again = plan(rs, &probe_with(shell, cwd, rs));
    assert!(again.is_empty(), "not idempotent: {again:#?}");
    changes
}

fn no_pwned(dir: &Path) {
    for entry in walk(dir) {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(
            !matches!(name.as_deref(), Some("pwned" | "pwned2" | "pwned3")),
            "a file name was executed: {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

fn no_temp_files(dir: &Path) {
    for p in walk(dir) {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            !name.contains(".play-tmp."),
            "temp file left behind: {}",
            p.display()
        );
    }
}

fn perm(p: &str) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn facts_come_from_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let o = probe_in(tmp.path(), &[]);
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(o.facts.hostname, host.trim());
    assert_eq!(o.facts.arch, std::env::consts::ARCH);
    assert!(o.facts.cpus >= 1);
    assert_eq!(
        o.facts.cpus as usize,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
            .max(o.facts.cpus as usize)
    );
    assert!(o.facts.memory_mb > 0);
    // Read with builtins from this machine's markers (the probe runs here under sh, dash, bash).
    if std::path::Path::new("/.dockerenv").exists() {
        assert_eq!(o.facts.virtualization, "docker");
    } else if let Ok(c) = fs::read_to_string("/run/systemd/container") {
        assert_eq!(o.facts.virtualization, c.trim());
    } else {
        assert!(!o.facts.virtualization.is_empty());
    }
    let selinux = fs::read_to_string("/sys/fs/selinux/enforce").map(|e| e.trim().to_string());
    let want = match selinux.as_deref() {
        Ok("1") => "enforcing",
        Ok("0") => "permissive",
        _ => "disabled",
    };
    assert_eq!(o.facts.selinux, want);
    let os = fs::read_to_string("/etc/os-release").unwrap();
    let id = os
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(o.facts.os_id, id);
    assert!(!o.facts.os_version.contains('"'));
    assert!(o.paths.is_empty());
    // The default routes, as iproute2 reports them on this machine (another reader of the
    // kernel's tables than the probe's /proc/net files).
    let ip = |args: &[&str]| {
        let out = std::process::Command::new("ip").args(args).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let route4 = ip(&["-4", "route", "show", "default"]);
    let mut w = route4.split_whitespace();
    match (w.next(), w.next(), w.next(), w.next(), w.next()) {
        (Some("default"), Some("via"), Some(gw), Some("dev"), Some(dev)) => {
            assert_eq!(o.facts.default_ipv4["gateway"], gw);
            assert_eq!(o.facts.default_ipv4["interface"], dev);
            let addrs = ip(&["-4", "-o", "addr", "show", "dev", dev]);
            let address = &o.facts.default_ipv4["address"];
            let prefix = &o.facts.default_ipv4["prefix"];
            assert!(
                addrs.contains(&format!(" {address}/{prefix} ")),
                "{address}/{prefix} not in {addrs}"
            );
        }
        _ if route4.trim().is_empty() && which("ip") => {
            assert!(
                o.facts.default_ipv4.is_empty(),
                "{:?}",
                o.facts.default_ipv4
            )
        }
        _ => eprintln!("no iproute2 answer to compare with: {route4:?}"),
    }
    let route6 = ip(&["-6", "route", "show", "default"]);
    let mut w = route6.split_whitespace();
    if let (Some("default"), Some("via"), Some(gw), Some("dev"), Some(dev)) =
        (w.next(), w.next(), w.next(), w.next(), w.next())
    {
        assert_eq!(o.facts.default_ipv6["gateway"], gw);
        assert_eq!(o.facts.default_ipv6["interface"], dev);
        let addrs = ip(&["-6", "-o", "addr", "show", "dev", dev, "scope", "global"]);
        let address = &o.facts.default_ipv6["address"];
        assert!(
            addrs.contains(&format!(" {address}/")),
            "{address} not in {addrs}"
        );
    }
}

/// Whether `cmd` is on the PATH.
fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

#[test]
fn probe_reports_every_kind_of_path() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let f = path_of(d, "a file");
    fs::write(&f, b"hello\0world").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o4750)).unwrap();
    let empty = path_of(d, "empty dir");
    fs::create_dir(&empty).unwrap();
    let full = path_of(d, "full dir");
    fs::create_dir(&full).unwrap();
    fs::write(path_of(d, "full dir/.hidden"), b"").unwrap();
    let dotdot = path_of(d, "dotdot dir");
    fs::create_dir(&dotdot).unwrap();
    fs::write(path_of(d, "dotdot dir/..x"), b"").unwrap();
    let dangling = path_of(d, "dangling dir");
    fs::create_dir(&dangling).unwrap();
    std::os::unix::fs::symlink("/nonexistent", path_of(d, "dangling dir/l")).unwrap();
    let l = path_of(d, "link\nname");
    std::os::unix::fs::symlink("target with\nnewline 'and' quotes", &l).unwrap();
    let sock = path_of(d, "sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let fifo = path_of(d, "fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let missing = path_of(d, "missing");
    let under_file = path_of(d, "a file/below");

    let req = ProbeRequest {
        paths: vec![
            f.clone(),
            empty.clone(),
            full.clone(),
            dotdot.clone(),
            dangling.clone(),
            l.clone(),
            sock.clone(),
            fifo.clone(),
            missing.clone(),
            under_file.clone(),
            f.clone(),
        ],
        emptiness: vec![
            empty.clone(),
            full.clone(),
            dotdot.clone(),
            dangling.clone(),
            missing.clone(),
            f.clone(),
        ],
    };
    let out = run(d, &probe::script(&req), b"");
    assert_eq!(out.status, 0);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = probe::parse(&out.stdout).unwrap();

    let st = o.path(&f);
    assert_eq!(
        st.kind,
        PathKind::File {
            size: 11,
            sha256: Some(resources::sha256_hex(b"hello\0world"))
        }
    );
    assert_eq!(st.mode, 0o4750);
    assert_eq!((st.owner.as_str(), st.group.as_str()), ("root", "root"));
    assert_eq!(
        o.path(&empty).kind,
        PathKind::Directory { empty: Some(true) }
    );
    assert_eq!(
        o.path(&full).kind,
        PathKind::Directory { empty: Some(false) }
    );
    assert_eq!(
        o.path(&dotdot).kind,
        PathKind::Directory { empty: Some(false) }
    );
    assert_eq!(
        o.path(&dangling).kind,
        PathKind::Directory { empty: Some(false) }
    );
    assert_eq!(
        o.path(&l).kind,
        PathKind::Link {
            target: "target with\nnewline 'and' quotes".into()
        }
    );
    assert_eq!(o.path(&sock).kind, PathKind::Other("socket".into()));
    assert_eq!(o.path(&fifo).kind, PathKind::Other("fifo".into()));
    assert_eq!(o.path(&missing).kind, PathKind::Missing);
    assert_eq!(o.path(&under_file).kind, PathKind::Missing);
    assert_eq!(o.paths.len(), 8);
}

#[test]
fn hostile_names_converge_and_nothing_is_executed() {
    hostile_names_with(SH);
}

#[test]
fn bash_runs_the_same_scripts() {
    if Command::new("bash").arg("-c").arg(":").output().is_err() {
        eprintln!("bash missing: skipped");
        return;
    }
    hostile_names_with(&["bash", "--posix"]);
    hostile_names_with(&["bash"]);
}

fn hostile_names_with(shell: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut rs = Vec::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        let content = format!("content of {name:?}\n$(touch pwned)\n").into_bytes();
        rs.push(file(
            &path_of(d, &format!("f {name}")),
            Some(&content),
            root(0o640),
        ));
        rs.push(dir(
            &path_of(d, &format!("d {name}")),
            Presence::Present,
            mode(0o750),
            false,
        ));
        rs.push(link(
            &path_of(d, &format!("l {name}")),
            &format!("../t {name} {i}"),
            Presence::Present,
            false,
        ));
    }
    rs.push(file(&path_of(d, "empty"), None, Attrs::default()));
    let changes = converge_with(shell, d, &rs);
    assert_eq!(changes.len(), rs.len());
    assert!(changes.iter().all(|c| c.action == Action::Create));
    for (i, name) in HOSTILE.iter().enumerate() {
        let f = path_of(d, &format!("f {name}"));
        assert_eq!(
            fs::read(&f).unwrap(),
            format!("content of {name:?}\n$(touch pwned)\n").into_bytes()
        );
        let md = fs::metadata(&f).unwrap();
        assert_eq!((md.uid(), md.gid(), perm(&f)), (0, 0, 0o640));
        let dd = path_of(d, &format!("d {name}"));
        assert!(fs::metadata(&dd).unwrap().is_dir());
        assert_eq!(perm(&dd), 0o750);
        let l = path_of(d, &format!("l {name}"));
        assert_eq!(
            fs::read_link(&l).unwrap().to_str().unwrap(),
            format!("../t {name} {i}")
        );
    }
    let e = path_of(d, "empty");
    assert_eq!(fs::read(&e).unwrap(), b"");
    assert_eq!(perm(&e), 0o644, "new files default to 0644");
    no_pwned(d);
    no_pwned(Path::new("."));
    no_temp_files(d);
}

#[test]
fn updates_deletes_and_replacements_converge() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    // Starting state.
    fs::write(p("conf"), b"old").unwrap();
    fs::set_permissions(p("conf"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(p("attrs"), b"same").unwrap();
    fs::set_permissions(p("attrs"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(p("suid"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(p("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(p("gone"), b"x").unwrap();
    std::os::unix::fs::symlink("/x", p("gone link")).unwrap();
    std::os::unix::fs::symlink("/old", p("retarget")).unwrap();
    fs::write(p("file to link"), b"x").unwrap();
    fs::create_dir(p("dir to link")).unwrap();
    fs::create_dir(p("empty gone")).unwrap();
    fs::create_dir_all(p("full gone/a/b")).unwrap();
    fs::write(p("full gone/a/b/c"), b"x").unwrap();
    fs::create_dir(p("sgid")).unwrap();
    fs::set_permissions(p("sgid"), fs::Permissions::from_mode(0o2775)).unwrap();

    let rs = vec![
        file(&p("conf"), Some(b"new content\n"), Attrs::default()),
        file(&p("attrs"), Some(b"same"), mode(0o644)),
        file(
            &p("suid"),
            None,
            Attrs {
                owner: None,
                group: Some("daemon".into()),
                mode: None,
            },
        ),
        absent_file(&p("gone")),
        absent_file(&p("gone link")),
        link(&p("retarget"), "/new", Presence::Present, false),
        link(&p("file to link"), "conf", Presence::Present, true),
        link(&p("dir to link"), "conf", Presence::Present, true),
        dir(&p("empty gone"), Presence::Absent, Attrs::default(), false),
        dir(&p("full gone"), Presence::Absent, Attrs::default(), true),
        dir(&p("sgid"), Presence::Present, mode(0o755), false),
        absent_file(&p("never existed")),
        link(&p("nolink"), "/x", Presence::Absent, false),
    ];
    let changes = converge(d, &rs);
    let actions: BTreeMap<usize, Action> = changes.iter().map(|c| (c.index, c.action)).collect();
    assert_eq!(actions[&0], Action::Update);
    assert_eq!(actions[&1], Action::Attrs);
    assert_eq!(actions[&2], Action::Attrs);
    assert_eq!(actions[&3], Action::Delete);
    assert_eq!(actions[&4], Action::Delete);
    assert_eq!(actions[&5], Action::Update);
    assert_eq!(actions[&6], Action::Update);
    assert_eq!(actions[&7], Action::Update);
    assert_eq!(actions[&8], Action::Delete);
    assert_eq!(actions[&9], Action::Delete);
    assert_eq!(actions[&10], Action::Attrs);
    assert_eq!(changes.len(), 11);

    assert_eq!(fs::read(p("conf")).unwrap(), b"new content\n");
    assert_eq!(perm(&p("conf")), 0o640, "unmanaged mode kept on update");
    assert_eq!(perm(&p("attrs")), 0o644);
    let md = fs::metadata(p("suid")).unwrap();
    assert_eq!(md.gid(), 1);
    assert_eq!(perm(&p("suid")), 0o4755, "set-user-ID kept across chown");
    assert!(!Path::new(&p("gone")).exists());
    assert!(fs::symlink_metadata(p("gone link")).is_err());
    assert_eq!(fs::read_link(p("retarget")).unwrap().to_str(), Some("/new"));
    assert_eq!(
        fs::read_link(p("file to link")).unwrap().to_str(),
        Some("conf")
    );
    assert_eq!(
        fs::read_link(p("dir to link")).unwrap().to_str(),
        Some("conf")
    );
    assert!(fs::symlink_metadata(p("empty gone")).is_err());
    assert!(fs::symlink_metadata(p("full gone")).is_err());
    assert_eq!(
        perm(&p("sgid")),
        0o755,
        "set-group-ID cleared on a directory"
    );
    no_temp_files(d);
}

#[test]
fn owner_and_group_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    let daemon = |m: u32| Attrs {
        owner: Some("daemon".into()),
        group: Some("daemon".into()),
        mode: Some(m),
    };
    let rs = vec![
        file(&p("f"), Some(b"x"), daemon(0o600)),
        dir(&p("d"), Presence::Present, daemon(0o700), false),
        res(Desired::Link(LinkSpec {
            path: p("l"),
            presence: Presence::Present,
            target: "f".into(),
            attrs: daemon(0o777),
            force: false,
            replace_folder: false,
        })),
    ];
    converge(d, &rs);
    for n in ["f", "d", "l"] {
        let md = fs::symlink_metadata(p(n)).unwrap();
        assert_eq!((md.uid(), md.gid()), (1, 1), "{n}");
    }
    // Back to root/root.
    let rs = vec![
        file(&p("f"), Some(b"x"), root(0o600)),
        dir(&p("d"), Presence::Present, root(0o700), false),
        res(Desired::Link(LinkSpec {
            path: p("l"),
            presence: Presence::Present,
            target: "f".into(),
            attrs: root(0o777),
            force: false,
            replace_folder: false,
        })),
    ];
    let changes = converge(d, &rs);
    assert!(
        changes.iter().all(|c| c.action == Action::Attrs),
        "{changes:#?}"
    );
    for n in ["f", "d", "l"] {
        let md = fs::symlink_metadata(p(n)).unwrap();
        assert_eq!((md.uid(), md.gid()), (0, 0), "{n}");
    }
}

#[test]
fn a_recursive_tree_with_hostile_names_converges_through_no_link() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    // Root's victims outside the tree, and links to them inside it.
    fs::write(p("victim"), "secret").unwrap();
    fs::set_permissions(p("victim"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(p("vdir")).unwrap();
    fs::set_permissions(p("vdir"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir(p("tree")).unwrap();
    for (i, name) in HOSTILE.iter().enumerate() {
        let sub = d.join("tree").join(format!("d{i}"));
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        let f = sub.join(name);
        fs::write(&f, "x").unwrap();
        fs::set_permissions(
            &f,
            fs::Permissions::from_mode(if i % 2 == 0 { 0o600 } else { 0o700 }),
        )
        .unwrap();
        std::os::unix::fs::symlink(p("victim"), sub.join(format!("{name}.link"))).unwrap();
    }
    std::os::unix::fs::symlink(p("vdir"), d.join("tree/vdir")).unwrap();
    let rs = vec![res(Desired::Directory(DirectorySpec {
        path: p("tree"),
        presence: Presence::Present,
        attrs: Attrs {
            owner: Some("daemon".into()),
            group: Some("daemon".into()),
            mode: Some(0o755),
        },
        force: false,
        parent_of: None,
        recurse: Some(Tree {
            mode: Some(ModeRule::parse("u=rwX,g=rX,o=rX").unwrap()),
        }),
    }))];
    let changes = converge(d, &rs);
    assert_eq!(changes.len(), 1);
    let n = HOSTILE.len();
    let details = &changes[0].details;
    assert!(
        details.contains(&format!(
            "owner of {} paths below {} → daemon",
            3 * n + 1,
            p("tree")
        )),
        "{details:?}"
    );
    for (i, name) in HOSTILE.iter().enumerate() {
        let sub = d.join("tree").join(format!("d{i}"));
        let md = fs::metadata(sub.join(name)).unwrap();
        let want = if i % 2 == 0 { 0o644 } else { 0o755 };
        assert_eq!((md.uid(), md.mode() & 0o7777), (1, want), "{name:?}");
        assert_eq!(fs::metadata(&sub).unwrap().mode() & 0o7777, 0o755);
        let link = fs::symlink_metadata(sub.join(format!("{name}.link"))).unwrap();
        assert_eq!(link.uid(), 1, "the link itself changes owner");
    }
    for (v, m) in [("victim", 0o600), ("vdir", 0o700)] {
        let md = fs::metadata(p(v)).unwrap();
        assert_eq!(
            (md.uid(), md.mode() & 0o7777),
            (0, m),
            "{v} is never reached"
        );
    }
    no_pwned(d);
}

/// The mode setter of a recursive folder's step, handed a name that became a link after
/// `find` listed it (the race it is built for): it opens without following and skips it.
#[test]
fn the_recursive_mode_setter_never_follows_a_name_swapped_for_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("victim"), "secret").unwrap();
    fs::set_permissions(d.join("victim"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(d.join("plain"), "x").unwrap();
    fs::set_permissions(d.join("plain"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(d.join("victim"), d.join("swapped")).unwrap();
    let out = Command::new("perl")
        .args(["-e", apply::FCHMOD, "0755"])
        .args(["0644"; 8])
        .args(["./swapped", "./plain", "./gone"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mode = |n: &str| fs::metadata(d.join(n)).unwrap().mode() & 0o7777;
    assert_eq!(mode("victim"), 0o600);
    assert_eq!(mode("plain"), 0o644);
}

#[test]
fn big_binary_files_round_trip_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut big = Vec::with_capacity(5 << 20);
    let mut x: u32 = 12345;
    while big.len() < 5 << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        big.push((x >> 16) as u8);
        if big.len() % 4099 == 0 {
            big.extend_from_slice(b"\0\0\nplay-end 0\n\0");
        }
    }
    let rs = vec![
        file(&path_of(d, "big.bin"), Some(&big), Attrs::default()),
        file(
            &path_of(d, "small after"),
            Some(b"tail\0end"),
            Attrs::default(),
        ),
        file(&path_of(d, "empty content"), Some(b""), Attrs::default()),
        file(&path_of(d, "last"), Some(b"\n"), Attrs::default()),
    ];
    converge(d, &rs);
    assert_eq!(fs::read(path_of(d, "big.bin")).unwrap(), big);
    assert_eq!(fs::read(path_of(d, "small after")).unwrap(), b"tail\0end");
    assert_eq!(fs::read(path_of(d, "empty content")).unwrap(), b"");
    assert_eq!(fs::read(path_of(d, "last")).unwrap(), b"\n");

    // The fetch brings the same bytes back.
    let paths = vec![path_of(d, "big.bin"), path_of(d, "small after")];
    let out = run(d, &probe::fetch_script(&paths), b"");
    assert_eq!(out.status, 0);
    let got = probe::parse_fetch(&out.stdout).unwrap();
    assert_eq!(got[&paths[0]], Ok(big));
    assert_eq!(got[&paths[1]], Ok(b"tail\0end".to_vec()));
}

#[test]
fn fetch_handles_hostile_names_and_skips_non_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut want = BTreeMap::new();
    let mut paths = Vec::new();
    for name in HOSTILE {
        let p = path_of(d, name);
        let bytes = format!("{name}\0\u{1}\n").into_bytes();
        fs::write(&p, &bytes).unwrap();
        want.insert(p.clone(), Ok(bytes));
        paths.push(p);
    }
    fs::write(path_of(d, "empty"), b"").unwrap();
    want.insert(path_of(d, "empty"), Ok(Vec::new()));
    paths.push(path_of(d, "empty"));
    fs::create_dir(path_of(d, "a dir")).unwrap();
    std::os::unix::fs::symlink(path_of(d, "plain"), path_of(d, "a link")).unwrap();
    paths.extend([
        path_of(d, "a dir"),
        path_of(d, "a link"),
        path_of(d, "missing"),
    ]);
    // Not files (any more: the probe saw files): said so, nothing read.
    for (name, why) in [
        ("a dir", "not a regular file (any more)"),
        ("a link", "a symbolic link; play does not follow it"),
        ("missing", "not a regular file (any more)"),
    ] {
        want.insert(
            path_of(d, name),
            Err(format!("{}: {why}", path_of(d, name))),
        );
    }
    let out = run(d, &probe::fetch_script(&paths), b"");
    assert_eq!(out.status, 0);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(probe::parse_fetch(&out.stdout).unwrap(), want);
    no_pwned(d);
}

#[test]
fn a_failing_step_stops_the_script_and_keeps_targets_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    fs::write(p("keep"), b"old content").unwrap();
    let rs = vec![
        file(&p("first"), Some(b"1"), Attrs::default()),
        file(&p("no such folder/x"), Some(b"2"), Attrs::default()),
        file(&p("third"), Some(b"3"), Attrs::default()),
    ];
    let changes = plan(&rs, &probe_in(d, &rs));
    assert_eq!(changes.len(), 3);
    let (o, out) = apply_in(d, &rs, &changes);
    assert_ne!(out.status, 0);
    assert_eq!(o.done, vec![0]);
    let (i, msg) = o.failed.clone().unwrap();
    assert_eq!(i, 1);
    assert!(msg.contains("No such file or directory"), "{msg}");
    assert!(Path::new(&p("first")).exists());
    assert!(!Path::new(&p("third")).exists(), "later steps must not run");

    // A failure after the new content is written (unknown owner): the old content stays.
    let rs = vec![
        dir(&p("made"), Presence::Present, Attrs::default(), false),
        file(
            &p("keep"),
            Some(b"NEW CONTENT THAT MUST NOT LAND"),
            Attrs {
                owner: Some("no-such-user-play".into()),
                group: None,
                mode: None,
            },
        ),
        file(&p("after"), Some(b"x"), Attrs::default()),
    ];
    let changes = plan(&rs, &probe_in(d, &rs));
    let (o, _) = apply_in(d, &rs, &changes);
    assert_eq!(o.done, vec![0]);
    let (i, msg) = o.failed.unwrap();
    assert_eq!(i, 1);
    assert!(msg.contains("no-such-user-play"), "{msg}");
    assert_eq!(fs::read(p("keep")).unwrap(), b"old content");
    assert!(!Path::new(&p("after")).exists());
    no_temp_files(d);

    // A file where a folder is expected.
    let rs = vec![file(&p("keep/below"), Some(b"x"), Attrs::default())];
    let changes = plan(&rs, &probe_in(d, &rs));
    assert_eq!(changes[0].action, Action::Create);
    let (o, _) = apply_in(d, &rs, &changes);
    assert_eq!(o.done, Vec::<usize>::new());
    let (i, msg) = o.failed.unwrap();
    assert_eq!(i, 0);
    assert!(msg.contains("Not a directory"), "{msg}");

    // rmdir refuses a folder that filled up after the probe.
    fs::create_dir(p("filled")).unwrap();
    let rs = vec![dir(&p("filled"), Presence::Absent, Attrs::default(), false)];
    let changes = plan(&rs, &probe_in(d, &rs));
    fs::write(p("filled/late"), b"x").unwrap();
    let (o, _) = apply_in(d, &rs, &changes);
    assert_eq!(o.failed.unwrap().0, 0);
    assert!(Path::new(&p("filled/late")).exists());
}

#[test]
fn truncated_stdin_never_lands_a_partial_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let target = path_of(d, "t");
    fs::write(&target, b"old").unwrap();
    let rs = vec![file(&target, Some(&vec![b'x'; 100_000]), Attrs::default())];
    let changes = plan(&rs, &probe_in(d, &rs));
    let steps: Vec<(&Change, &Resource)> = changes.iter().map(|c| (c, &rs[c.index])).collect();
    let (script, stdin) = apply::script(&steps);
    for cut in [0, 1, 50_000, 100_000, stdin.len() - 1] {
        let out = run(d, &script, &stdin[..cut]);
        let o = apply::parse(&out.stdout, &out.stderr, out.status);
        assert_eq!(o.done, Vec::<usize>::new(), "cut {cut}");
        assert_eq!(o.failed.as_ref().map(|f| f.0), Some(0), "cut {cut}");
        assert_eq!(fs::read(&target).unwrap(), b"old", "cut {cut}");
        no_temp_files(d);
    }
    let out = run(d, &script, &stdin);
    assert_eq!(
        apply::parse(&out.stdout, &out.stderr, out.status).done,
        vec![0]
    );
}

#[test]
fn a_killed_script_reports_the_step_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let rs = vec![
        file(&path_of(d, "a"), Some(b"a"), Attrs::default()),
        file(&path_of(d, "b"), Some(b"b"), Attrs::default()),
    ];
    let changes = plan(&rs, &probe_in(d, &rs));
    let steps: Vec<(&Change, &Resource)> = changes.iter().map(|c| (c, &rs[c.index])).collect();
    let (script, stdin) = apply::script(&steps);
    // Step 1 kills its own shell mid-way (stands for a dropped connection).
    let script = script.replacen("head -c 1 > \"$t\" || play_fail 1", "kill -TERM $$", 1);
    let out = run(d, &script, &stdin);
    let o = apply::parse(&out.stdout, &out.stderr, out.status);
    assert_eq!(o.done, vec![0]);
    let (i, msg) = o.failed.unwrap();
    assert_eq!(i, 1);
    assert!(msg.contains("died"), "{msg}");
    assert!(!Path::new(&path_of(d, "b")).exists());
    no_temp_files(d);
}

#[test]
fn permission_denied_is_reported_by_the_probe() {
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("setpriv missing: skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    let secret = path_of(d, "secret");
    fs::create_dir(&secret).unwrap();
    fs::write(path_of(d, "secret/file"), b"x").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    let unreadable = path_of(d, "unreadable");
    fs::write(&unreadable, b"x").unwrap();
    fs::set_permissions(&unreadable, fs::Permissions::from_mode(0o600)).unwrap();
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "sh",
    ];

    // A path below a folder we cannot search: an error, not "missing".
    let req = ProbeRequest {
        paths: vec![path_of(d, "secret/file")],
        emptiness: vec![],
    };
    let out = run_in(&nobody, d, &probe::script(&req), b"");
    match probe::parse(&out.stdout) {
        Err(ProbeError::Path { path, message }) => {
            assert_eq!(path, path_of(d, "secret/file"));
            assert!(message.contains("permission denied"), "{message}");
        }
        other => panic!("expected a permission error, got {other:?}"),
    }

    // A file we cannot read: found, but without a checksum; a folder we cannot list: unknown
    // emptiness.
    let req = ProbeRequest {
        paths: vec![unreadable.clone(), secret.clone()],
        emptiness: vec![secret.clone()],
    };
    let out = run_in(&nobody, d, &probe::script(&req), b"");
    let o = probe::parse(&out.stdout).unwrap();
    assert_eq!(
        o.path(&unreadable).kind,
        PathKind::File {
            size: 1,
            sha256: None
        }
    );
    assert_eq!(o.path(&secret).kind, PathKind::Directory { empty: None });
}

#[test]
fn probing_many_paths_stays_cheap() {
    // 2000 paths in one script: one find, one sha256sum (the script must not fork per path).
    // Counted, not timed: every program the probe could start per path is wrapped by a
    // script that records its start, first on PATH.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut rs = Vec::new();
    for i in 0..2000 {
        let p = path_of(d, &format!("f{i}"));
        if i % 2 == 0 {
            fs::write(&p, format!("{i}")).unwrap();
        }
        rs.push(file(&p, Some(format!("{i}").as_bytes()), Attrs::default()));
    }
    let wrap = tempfile::tempdir().unwrap();
    let log = wrap.path().join("started");
    let mut wrapped = 0;
    for prog in [
        "stat",
        "sha256sum",
        "readlink",
        "find",
        "ls",
        "cat",
        "head",
        "od",
        "base64",
        "wc",
        "test",
        "printf",
        "xargs",
        "sh",
        "dash",
        "bash",
        "awk",
        "sed",
        "tr",
        "cut",
    ] {
        let real = Command::new("sh")
            .args(["-c", &format!("command -v {prog}")])
            .output()
            .expect("sh");
        let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
        if !real.starts_with('/') {
            continue; // a shell builtin or not installed
        }
        let w = wrap.path().join(prog);
        fs::write(
            &w,
            format!(
                "#!/bin/sh\necho {prog} >> '{}'\nexec {real} \"$@\"\n",
                log.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&w, fs::Permissions::from_mode(0o755)).unwrap();
        wrapped += 1;
    }
    assert!(wrapped >= 5, "too few programs found to wrap");
    let path = format!(
        "{}:{}",
        wrap.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (command, stdin) = Wants::for_resources(&rs).command();
    let script = format!("PATH='{path}'; export PATH\n{command}");
    let out = run_in(SH, d, &script, &stdin);
    assert_eq!(out.status, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let o = probe::parse(&out.stdout).expect("probe output parses");
    assert_eq!(o.paths.len(), 1000);
    assert_eq!(plan(&rs, &o).len(), 1000);
    let started = fs::read_to_string(&log).unwrap_or_default();
    let n = started.lines().count();
    assert!(n >= 1, "the wrappers saw no program start: PATH not used?");
    assert!(
        n <= 20,
        "the probe of 2000 paths started {n} programs (one per path?): {}",
        started.lines().take(20).collect::<Vec<_>>().join(" ")
    );
}

#[test]
fn scripts_longer_than_one_argument_go_through_stdin() {
    // 600 resources with long names: the scripts are far beyond the 128 KiB `sh -c` limit.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let long = "n".repeat(180);
    let mut rs = Vec::new();
    for i in 0..200 {
        rs.push(file(
            &path_of(d, &format!("{long} '{i}'")),
            Some(format!("{i}\n").as_bytes()),
            mode(0o600),
        ));
        rs.push(dir(
            &path_of(d, &format!("{long} d{i}")),
            Presence::Present,
            Attrs::default(),
            false,
        ));
        rs.push(link(
            &path_of(d, &format!("{long} l{i}")),
            "x",
            Presence::Present,
            false,
        ));
    }
    assert!(Wants::for_resources(&rs).script().len() > 130 * 1024);
    let changes = converge(d, &rs);
    assert_eq!(changes.len(), 600);
    let steps: Vec<(&Change, &Resource)> = changes.iter().map(|c| (c, &rs[c.index])).collect();
    assert!(apply::script(&steps).0.len() > 130 * 1024);
    assert_eq!(
        fs::read(path_of(d, &format!("{long} '199'"))).unwrap(),
        b"199\n"
    );
    let paths: Vec<String> = (0..200)
        .map(|i| path_of(d, &format!("{long} '{i}'")))
        .collect();
    let (command, stdin) = probe::fetch_command(&paths);
    let got = probe::parse_fetch(&run(d, &command, &stdin).stdout).unwrap();
    assert_eq!(got.len(), 200);
    assert_eq!(got[&paths[7]], Ok(b"7\n".to_vec()));
}

#[test]
fn a_failing_find_fails_the_probe_instead_of_reporting_paths_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bin = path_of(d, "bin");
    fs::create_dir(&bin).unwrap();
    // A find without -printf (like busybox): prints an error, exits 1.
    fs::write(
        path_of(d, "bin/find"),
        "#!/bin/sh\necho 'find: unrecognized: -printf' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(path_of(d, "bin/find"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("PATH={bin}:{}", std::env::var("PATH").unwrap_or_default());
    let req = ProbeRequest {
        paths: vec![path_of(d, "bin")],
        emptiness: vec![],
    };
    let out = run_in(&["env", &path, "sh"], d, &probe::script(&req), b"");
    match probe::parse(&out.stdout) {
        Err(ProbeError::Host(m)) => assert!(m.contains("GNU find"), "{m}"),
        other => panic!("expected a probe failure, got {other:?}"),
    }
}

/// The probe's records of `tag` (`same`: the second find skipped; `reid`: its records).
fn records(out: &[u8], tag: &str) -> usize {
    out.split(|b| *b == 0)
        .filter(|f| *f == tag.as_bytes())
        .count()
}

/// The probe's second find (identities again after `sha256sum`, issue 13) costs a fork on every
/// host: it is skipped when the first find saw every folder on the way real and root's with no
/// group or other write bit (no one else could swap a name there), and run otherwise: a folder
/// another user owns or may write, or a link on the way. The sums are right either way.
#[test]
fn the_second_find_runs_only_where_another_user_could_swap_a_name() {
    // Under the build's own folder: root's on a test machine (a /tmp would be writable by all).
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = tmp.path();
    let mut up = d.to_path_buf();
    while let Some(parent) = up.parent() {
        let m = fs::symlink_metadata(parent).unwrap();
        assert!(
            m.uid() == 0 && m.mode() & 0o022 == 0 && m.is_dir(),
            "{} must be root's and not writable by others for this test",
            parent.display()
        );
        up = parent.to_path_buf();
    }
    let dir = path_of(d, "app");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let f = path_of(d, "app/f");
    fs::write(&f, b"x").unwrap();
    std::os::unix::fs::symlink(&dir, path_of(d, "via")).unwrap();

    let via = path_of(d, "via");
    let probe = |path: &str| {
        let req = ProbeRequest {
            // The link itself is stat'ed, not followed: it does not count.
            paths: vec![path.to_string(), via.clone()],
            emptiness: vec![],
        };
        let out = run(d, &probe::script(&req), b"");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let o = probe::parse(&out.stdout).expect("parses");
        let PathKind::File { sha256, .. } = &o.path(path).kind else {
            panic!("{path}: a file")
        };
        assert_eq!(
            sha256.as_deref(),
            Some(resources::sha256_hex(b"x").as_str())
        );
        (records(&out.stdout, "same"), records(&out.stdout, "reid"))
    };
    // Root's all the way: one find.
    assert_eq!(probe(&f), (1, 0));
    // A link on the way (root's, but its target's folders are not among those stat'ed).
    assert!(matches!(probe(&path_of(d, "via/f")), (0, n) if n > 0));
    // The folder group-writable (whatever its group), then another user's: two finds.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o775)).unwrap();
    assert!(matches!(probe(&f), (0, n) if n > 0));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    give_to_nobody(&dir);
    assert!(matches!(probe(&f), (0, n) if n > 0));
}

/// `chown -h` to nobody (65534): a link or folder another user owns.
fn give_to_nobody(p: &str) {
    std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
}

/// Every file step enters its folder first (`play_enter`): a link on the way is followed only
/// when nobody but root can swap it — the link root's, in a folder of root's that no one else
/// may write (or a sticky one). Under dash, bash and bash --posix.
#[test]
fn links_on_the_way_are_followed_only_when_no_other_user_can_swap_them() {
    for shell in [&["sh"][..], &["bash"], &["bash", "--posix"]] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let p = |n: &str| path_of(d, n);
        for f in ["srv", "home/app", "victim", "ww", "st"] {
            fs::create_dir_all(p(f)).unwrap();
        }
        give_to_nobody(&p("home/app"));
        fs::set_permissions(p("ww"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::set_permissions(p("st"), fs::Permissions::from_mode(0o1777)).unwrap();
        let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, p(at)).unwrap();
        link(&p("home/app"), "srv/lnk");
        link("../home", "srv/rel");
        link(&p("home"), "st/l");
        link(&p("home"), "ww/l");
        link(&p("victim"), "home/app/rootlnk");
        link(&p("victim"), "srv/nob");
        give_to_nobody(&p("srv/nob"));

        let apply_one = |path: &str| {
            let rs = vec![file(&p(path), Some(b"x\n"), Attrs::default())];
            let changes = plan(&rs, &probe_with(shell, d, &rs));
            apply_with(shell, d, &rs, &changes).0
        };
        // Followed: root's links in root's folders (absolute, relative, in a sticky folder).
        for (path, lands) in [
            ("srv/lnk/a.txt", "home/app/a.txt"),
            ("srv/rel/app/b.txt", "home/app/b.txt"),
            ("st/l/app/c.txt", "home/app/c.txt"),
        ] {
            let o = apply_one(path);
            assert_eq!(o.failed, None, "{shell:?} {path}");
            assert_eq!(fs::read(p(lands)).unwrap(), b"x\n", "{shell:?} {path}");
        }
        // Refused: a root link in a folder everyone may write, a root link in a folder of
        // another user, a link of another user.
        for (path, why) in [
            (
                "ww/l/app/d.txt",
                format!("{}: a symbolic link in a folder another user can change (owner uid 0, mode 777) is on the way to {}; play does not follow it", p("ww/l"), p("ww/l/app")),
            ),
            (
                "srv/lnk/rootlnk/e.txt",
                format!("{}: a symbolic link in a folder another user can change (owner uid 65534, mode 755) is on the way to {}; play does not follow it", p("home/app/rootlnk"), p("srv/lnk/rootlnk")),
            ),
            (
                "srv/nob/f.txt",
                format!("{}: a symbolic link owned by uid 65534 is on the way to {}; play does not follow it", p("srv/nob"), p("srv/nob")),
            ),
        ] {
            let o = apply_one(path);
            let (i, msg) = o.failed.expect(path);
            assert_eq!(i, 0);
            assert!(msg.contains(&why), "{shell:?} {path}: {msg}");
        }
        // A login without root walks too, also through a folder it may enter but not read.
        fs::create_dir_all(p("home/app/noread/in")).unwrap();
        give_to_nobody(&p("home/app/noread/in"));
        fs::set_permissions(p("home/app/noread"), fs::Permissions::from_mode(0o311)).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        let nobody: Vec<&str> = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
        .iter()
        .chain(shell)
        .copied()
        .collect();
        let rs = vec![file(
            &p("srv/lnk/noread/in/n.txt"),
            Some(b"x\n"),
            Attrs::default(),
        )];
        let changes = plan(&rs, &probe_with(&nobody, d, &rs));
        let (o, out) = apply_with(&nobody, d, &rs, &changes);
        assert_eq!(
            o.failed,
            None,
            "{shell:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fs::read(p("home/app/noread/in/n.txt")).unwrap(), b"x\n");
        assert!(
            fs::read_dir(p("victim")).unwrap().next().is_none(),
            "{shell:?}: nothing may land in victim"
        );
        assert!(!Path::new(&p("home/app/d.txt")).exists());
    }
}

/// A folder (mode 0755) holding the folders `inside`, for a race of nobody's
/// ([`while_nobody_swaps`]); `None` without setpriv or python3, which the race needs (the test
/// is then skipped).
fn race_folder(inside: &[&str]) -> Option<tempfile::TempDir> {
    if Command::new("setpriv").arg("--version").output().is_err()
        || !Path::new("/usr/bin/python3").exists()
    {
        eprintln!("setpriv or python3 missing: skipped");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for f in inside {
        fs::create_dir_all(tmp.path().join(f)).unwrap();
    }
    Some(tmp)
}

/// Calls `round(k)` for k in `0..rounds` while nobody (65534) exchanges each of `names` with
/// `NAME.l` (`renameat2(RENAME_EXCHANGE)`) in a tight loop; stops early once `round` says it
/// has seen enough and 5 s have passed. Returns how long the race ran.
fn while_nobody_swaps(
    names: &[String],
    rounds: usize,
    mut round: impl FnMut(usize) -> bool,
) -> std::time::Duration {
    let racer = "import ctypes, sys\nlibc = ctypes.CDLL(None)\nwhile True:\n    for n in sys.argv[1:]:\n        libc.renameat2(-100, n.encode(), -100, (n + '.l').encode(), 2)\n";
    let mut race = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", racer])
        .args(names)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    for k in 0..rounds {
        if round(k) && started.elapsed().as_secs() >= 5 {
            break;
        }
    }
    race.kill().unwrap();
    race.wait().unwrap();
    started.elapsed()
}

/// The race of issue 13: a folder on the way (`x`, in a folder of another user reached
/// through root's link, or in a sticky folder) is swapped with a link to a folder of root's
/// (`renameat2(RENAME_EXCHANGE)`, by that user, in a tight loop) while root's steps enter it.
/// Every step either writes into the real folder or fails saying the folder changed while
/// play entered it; nothing ever lands in root's folders. Under dash and bash.
#[test]
fn a_folder_swapped_with_a_link_while_play_enters_it_is_never_written_through() {
    let Some(tmp) = race_folder(&["srv", "home/app/x", "victim", "st/x", "st/rootsib"]) else {
        return;
    };
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    fs::set_permissions(p("st"), fs::Permissions::from_mode(0o1777)).unwrap();
    for f in ["home/app", "home/app/x", "st/x"] {
        give_to_nobody(&p(f));
    }
    std::os::unix::fs::symlink(p("home/app"), p("srv/lnk")).unwrap();
    std::os::unix::fs::symlink(p("victim"), p("home/app/x.l")).unwrap();
    std::os::unix::fs::symlink(p("st/rootsib"), p("st/x.l")).unwrap();
    give_to_nobody(&p("home/app/x.l"));
    give_to_nobody(&p("st/x.l"));

    // Planned before the race: every file is new.
    let cases = [("srv/lnk/x", "home/app"), ("st/x", "st")];
    let n = 400;
    let rs: Vec<Resource> = (0..n)
        .flat_map(|i| {
            cases.map(|(dir, _)| file(&p(&format!("{dir}/f{i}")), Some(b"x\n"), Attrs::default()))
        })
        .collect();
    let changes = plan(&rs, &probe_in(d, &rs));
    assert_eq!(changes.len(), rs.len());

    let (mut written, mut caught) = ([0; 2], [0; 2]);
    let holders = cases.map(|(_, holder)| p(&format!("{holder}/x")));
    let took = while_nobody_swaps(&holders, changes.len(), |k| {
        let shell: &[&str] = if k % 4 < 2 { &["sh"] } else { &["bash"] };
        let (o, _) = apply_with(shell, d, &rs, std::slice::from_ref(&changes[k]));
        match o.failed {
            None => written[k % 2] += 1,
            Some((_, msg)) => {
                assert!(
                    msg.contains("changed while play entered it; not followed")
                        || msg.contains("a symbolic link owned by uid 65534 is on the way"),
                    "{shell:?} {}: {msg}",
                    rs[k].desired.key()
                );
                if msg.contains("changed while play entered it") {
                    caught[k % 2] += 1;
                }
            }
        }
        written.iter().all(|&c| c >= 3) && caught.iter().all(|&c| c >= 1)
    });
    eprintln!("written {written:?}, caught {caught:?} in {took:?}");
    for f in ["victim", "st/rootsib"] {
        let left: Vec<_> = fs::read_dir(p(f))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            left.is_empty(),
            "written through the swapped link into {f}: {left:?}"
        );
    }
    // What was written is in the real folder (`x` or `x.l` now), all of it.
    for (c, (_, holder)) in cases.iter().enumerate() {
        let real = ["x", "x.l"]
            .map(|n| format!("{holder}/{n}"))
            .into_iter()
            .find(|f| !fs::symlink_metadata(p(f)).unwrap().is_symlink())
            .unwrap();
        assert_eq!(
            fs::read_dir(p(&real)).unwrap().count(),
            written[c],
            "{real}"
        );
    }
    // The race happened: steps were written and steps were caught, in both places.
    assert!(
        written.iter().all(|&c| c >= 3) && caught.iter().all(|&c| c >= 1),
        "written {written:?}, caught {caught:?}"
    );
}

/// The fetch of old contents for diffs (issue 13: it read by path, so a folder's owner could
/// make a root `play diff` print a root-only file): it reads a file only by entering its
/// folder with the apply's walk and opening the name without following a link. Followed:
/// root's link in root's folder. Refused, with the reason, and nothing of the target read: a
/// link of another user on the way, the file itself a link (another user's, or root's), a
/// FIFO. Under dash, bash and bash --posix; as root and as a login without root.
#[test]
fn the_fetch_reads_no_file_through_a_link_another_user_could_swap() {
    for shell in [&["sh"][..], &["bash"], &["bash", "--posix"]] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        let p = |n: &str| path_of(d, n);
        for f in ["srv", "home/app", "root"] {
            fs::create_dir_all(p(f)).unwrap();
        }
        fs::set_permissions(p("root"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(p("root/secret"), b"root data\n").unwrap();
        fs::set_permissions(p("root/secret"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(p("home/app/conf"), b"app conf\n").unwrap();
        for f in ["home/app", "home/app/conf"] {
            give_to_nobody(&p(f));
        }
        let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, p(at)).unwrap();
        link(&p("home/app"), "srv/lnk");
        link(&p("root/secret"), "srv/mine");
        link(&p("root"), "home/app/sub");
        link(&p("root/secret"), "home/app/x");
        for f in ["home/app/sub", "home/app/x"] {
            give_to_nobody(&p(f));
        }
        let fifo = Command::new("mkfifo").arg(p("home/app/fifo")).status();
        assert!(fifo.unwrap().success());

        let paths: Vec<String> = [
            "srv/lnk/conf",
            "home/app/sub/secret",
            "home/app/x",
            "srv/mine",
            "home/app/fifo",
        ]
        .map(p)
        .to_vec();
        let nobody: Vec<&str> = ["setpriv", "--reuid=65534", "--regid=65534"]
            .iter()
            .chain(["--clear-groups"].iter())
            .chain(shell)
            .copied()
            .collect();
        for login in [shell, &nobody[..]] {
            let out = run_in(login, d, &probe::fetch_script(&paths), b"");
            assert_eq!(out.status, 0, "{login:?}");
            let got = probe::parse_fetch(&out.stdout).unwrap();
            let all = [&out.stdout[..], &out.stderr[..]].concat();
            assert!(
                !all.windows(9).any(|w| w == b"root data")
                    && got
                        .values()
                        .flatten()
                        .all(|b| !b.windows(9).any(|w| w == b"root data")),
                "{login:?}: the root-only file was read: {got:?}"
            );
            assert_eq!(got[&paths[0]], Ok(b"app conf\n".to_vec()), "{login:?}");
            let why = |i: usize| got[&paths[i]].clone().unwrap_err();
            // Root does not follow nobody's link; nobody follows its own, into a folder it may
            // not enter.
            let sub = p("home/app/sub");
            let refused = if login == shell {
                format!("{sub}: a symbolic link owned by uid 65534 is on the way to {sub}; play does not follow it")
            } else {
                format!("{sub}: cannot enter the folder (Permission denied)")
            };
            assert_eq!(why(1), refused, "{login:?}");
            for i in [2, 3] {
                assert_eq!(
                    why(i),
                    format!("{}: a symbolic link; play does not follow it", paths[i]),
                    "{login:?}"
                );
            }
            assert_eq!(
                why(4),
                format!("{}: not a regular file (any more)", paths[4]),
                "{login:?}"
            );
        }
    }
}

/// The race: the folder's owner flips a file between a real file and a link to a root-only
/// file (`renameat2(RENAME_EXCHANGE)` in a tight loop), and the parent folder between a real
/// folder and a link to root's folder, while root fetches both many times (dash and bash).
/// Each fetch gives the owner's real content or says why it did not read; the root-only
/// content never.
#[test]
fn a_file_swapped_with_a_link_while_it_is_fetched_is_never_read_through() {
    let Some(tmp) = race_folder(&["home/app/dir", "root/dir"]) else {
        return;
    };
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    fs::set_permissions(p("root"), fs::Permissions::from_mode(0o700)).unwrap();
    for f in ["root/secret", "root/dir/conf"] {
        fs::write(p(f), b"root data\n").unwrap();
    }
    fs::write(p("home/app/conf"), b"app conf\n").unwrap();
    fs::write(p("home/app/dir/conf"), b"app conf\n").unwrap();
    for f in [
        "home/app",
        "home/app/conf",
        "home/app/dir",
        "home/app/dir/conf",
    ] {
        give_to_nobody(&p(f));
    }
    std::os::unix::fs::symlink(p("root/secret"), p("home/app/conf.l")).unwrap();
    std::os::unix::fs::symlink(p("root/dir"), p("home/app/dir.l")).unwrap();
    for f in ["home/app/conf.l", "home/app/dir.l"] {
        give_to_nobody(&p(f));
    }
    let paths = [p("home/app/conf"), p("home/app/dir/conf")];
    let (mut read, mut refused) = ([0; 2], [0; 2]);
    let mut leaked = Vec::new();
    let swapped = [p("home/app/conf"), p("home/app/dir")];
    let took = while_nobody_swaps(&swapped, 2000, |k| {
        let shell: &[&str] = if k % 2 == 0 { &["sh"] } else { &["bash"] };
        let out = run_in(shell, d, &probe::fetch_script(&paths), b"");
        let all = [&out.stdout[..], &out.stderr[..]].concat();
        if all.windows(9).any(|w| w == b"root data") {
            leaked.push(String::from_utf8_lossy(&all).into_owned());
        }
        let got = probe::parse_fetch(&out.stdout).unwrap();
        for (i, path) in paths.iter().enumerate() {
            match &got[path] {
                Ok(b) if b == b"app conf\n" => read[i] += 1,
                Ok(b) => leaked.push(String::from_utf8_lossy(b).into_owned()),
                Err(_) => refused[i] += 1,
            }
        }
        read.iter().all(|&c| c >= 3) && refused.iter().all(|&c| c >= 3)
    });
    eprintln!("read {read:?}, refused {refused:?} in {took:?}");
    assert!(leaked.is_empty(), "the root-only file was read: {leaked:?}");
    assert!(
        read.iter().all(|&c| c >= 3) && refused.iter().all(|&c| c >= 3),
        "the race did not happen: read {read:?}, refused {refused:?}"
    );
}

/// A `file:` with `copy_of` (built as the other path kinds here, for hostile names): each copy
/// converges from its source on the host (a second plan is empty); a source swapped for a link
/// to a root-only file after the probe, in a folder another user owns, is never read through:
/// the step fails and the copy keeps what it had.
#[test]
fn a_copy_of_a_host_file_converges_and_never_reads_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |n: &str| path_of(d, n);
    for f in ["src", "dst", "home/app"] {
        fs::create_dir_all(p(f)).unwrap();
    }
    let copy = |dest: &str, src: &str| {
        res(Desired::File(FileSpec {
            path: dest.into(),
            presence: Presence::Present,
            content: None,
            attrs: mode(0o640),
            validate: None,
            copy_of: Some(src.into()),
            keep: false,
        }))
    };
    let mut rs = Vec::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        let src = p(&format!("src/{name}"));
        fs::write(&src, format!("content {i}\n")).unwrap();
        rs.push(copy(&p(&format!("dst/{name}")), &src));
    }
    let changes = converge(d, &rs);
    assert_eq!(changes.len(), HOSTILE.len());
    for (i, name) in HOSTILE.iter().enumerate() {
        let dest = p(&format!("dst/{name}"));
        assert_eq!(
            fs::read(&dest).unwrap(),
            format!("content {i}\n").as_bytes()
        );
        assert_eq!(perm(&dest), 0o640);
    }
    no_pwned(d);
    no_temp_files(d);
    // A new source content is copied again.
    fs::write(p("src/plain"), "changed\n").unwrap();
    let changes = converge(d, &rs);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(fs::read(p("dst/plain")).unwrap(), b"changed\n");

    // The app user's folder: the source becomes a link to a root-only file after the probe.
    fs::write(p("secret"), "SECRET\n").unwrap();
    fs::set_permissions(p("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(p("home/app/cert"), "CERT\n").unwrap();
    give_to_nobody(&p("home/app/cert"));
    give_to_nobody(&p("home/app"));
    let rs = vec![copy(&p("out"), &p("home/app/cert"))];
    let obs = probe_in(d, &rs);
    let changes = plan(&rs, &obs);
    assert_eq!(changes.len(), 1);
    fs::remove_file(p("home/app/cert")).unwrap();
    std::os::unix::fs::symlink(p("secret"), p("home/app/cert")).unwrap();
    let (outcome, _) = apply_in(d, &rs, &changes);
    let (step, why) = outcome.failed.expect("the copy's step fails");
    assert_eq!(step, 0);
    assert!(
        why.contains("a symbolic link; play does not copy through it"),
        "{why}"
    );
    assert!(!Path::new(&p("out")).exists());
    no_temp_files(d);
}
