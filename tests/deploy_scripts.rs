//! The probe and apply fragments of `sync:`, `release:`, `git:` and `command:`, run for real
//! with `sh -c` on this machine, in temporary folders (no SSH, no lab): real find, sha256sum,
//! tar and git. probe → plan → apply → probe → plan must come back empty.
//!
//! Packages, users and groups change the machine itself: they are tested on a lab
//! (`tests/deploy.rs`).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use play::apply;
use play::probe::{self, ProbeRequest};
use play::resources::command::{self, Checks, CommandSpec, Guard};
use play::resources::deploy::{self, DeployObserved, DeployProbe};
use play::resources::git::{self, GitSpec};
use play::resources::release::{self, Pin, ReleaseSource, ReleaseSpec, Seen};
use play::resources::source::files::{Excludes, Layout, LocalTree, RemoteTree};
use play::resources::sync::{self, SyncSpec};
use play::resources::{Action, Observed, PathKind, PathState, Presence};

struct Out {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: i32,
}

fn run(cwd: &Path, script: &str, stdin: &[u8]) -> Out {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", script])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
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

/// The fragments' records, as the host's probe would print them.
fn deploy_probe(cwd: &Path, p: &DeployProbe) -> DeployObserved {
    let script = format!("LC_ALL=C; export LC_ALL\n{}printf 'end\\0'\n", p.fragment());
    let out = run(cwd, &script, b"");
    assert_eq!(
        out.status,
        0,
        "probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    deploy::parse_records(&out.stdout).expect("records parse")
}

/// The core probe's view of some paths (stat, link targets).
fn core_probe(cwd: &Path, paths: &[String]) -> Observed {
    let req = ProbeRequest {
        paths: paths.to_vec(),
        emptiness: vec![],
    };
    let (cmd, stdin) = probe::command(&req);
    let out = run(cwd, &cmd, &stdin);
    assert_eq!(
        out.status,
        0,
        "core probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    probe::parse(&out.stdout).expect("core probe parses")
}

/// Runs fragments inside the real apply script's preamble (`play_ok`, `play_fail`...).
fn apply(cwd: &Path, fragment: &str, stdin: &[u8]) -> (apply::ApplyOutcome, Out) {
    let (empty, _) = apply::script(&[]);
    let head = empty
        .strip_suffix("printf 'end\\0'\n")
        .expect("apply script ends with its end record");
    let script = format!("{head}{fragment}printf 'end\\0'\n");
    let out = run(cwd, &script, stdin);
    (apply::parse(&out.stdout, &out.stderr, out.status), out)
}

fn applied_ok(cwd: &Path, fragment: &str, stdin: &[u8], index: usize) {
    let (o, out) = apply(cwd, fragment, stdin);
    assert_eq!(
        o.failed,
        None,
        "apply failed:\n{fragment}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(o.done.contains(&index), "{o:?}");
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, bytes).expect("write");
}

fn tree(root: &Path, exclude: &[&str]) -> Arc<LocalTree> {
    let ex: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    Arc::new(LocalTree::read(root, &Excludes::new(&ex).expect("patterns")).expect("tree"))
}

fn sync_spec(dest: &Path, src: &Path, exclude: &[&str], delete: bool) -> SyncSpec {
    SyncSpec {
        dest: dest.display().to_string(),
        src: src.display().to_string(),
        tree: tree(src, exclude),
        layout: Layout::default(),
        delete,
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
    }
}

fn sync_probe(cwd: &Path, spec: &SyncSpec) -> RemoteTree {
    let mut p = DeployProbe::default();
    p.add_tree(&spec.dest, &spec.exclude);
    deploy_probe(cwd, &p)
        .trees
        .remove(&spec.dest)
        .expect("tree record")
}

/// Plans and applies a sync; returns the plan's details then its file lines (empty when
/// nothing changed).
fn converge_sync(cwd: &Path, spec: &SyncSpec) -> Vec<String> {
    let remote = sync_probe(cwd, spec);
    let Some(p) =
        sync::plan(spec, &play::resources::PathState::missing(), &remote).expect("plannable")
    else {
        return Vec::new();
    };
    let (frag, stdin) = sync::apply_fragment(7, spec, &p.work).expect("archive");
    applied_ok(cwd, &frag, &stdin, 7);
    let again = sync_probe(cwd, spec);
    assert_eq!(
        sync::plan(spec, &play::resources::PathState::missing(), &again).expect("plannable"),
        None,
        "converged"
    );
    [p.details, p.work.file_list().lines()].concat()
}

const NAMES: &[&str] = &[
    "plain.py",
    "with space.txt",
    "quote'single",
    "$(touch pwned)",
    "semi;touch pwned3",
    "-dash",
    "*glob?[x]",
    "back\\slash",
    "ünïcødé ✓",
];

#[test]
fn sync_converges_sends_only_what_differs_and_deletes() {
    let d = tempfile::tempdir().expect("tmp");
    let src = d.path().join("src");
    for (i, n) in NAMES.iter().enumerate() {
        write(&src, &format!("pkg/{n}"), format!("file {i}\n").as_bytes());
    }
    write(&src, "bin/run", b"#!/bin/sh\necho hi\n");
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(src.join("bin/run"), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    write(&src, "big.bin", &vec![0xa5u8; 300_000]);
    write(&src, "pkg/__pycache__/x.pyc", b"cache");
    let dest = d.path().join("dest dir");
    let spec = sync_spec(&dest, &src, &["__pycache__"], true);

    // From nothing: everything, by one rename.
    let details = converge_sync(d.path(), &spec);
    assert_eq!(
        details[0],
        format!("{} files from {}", NAMES.len() + 2, src.display())
    );
    for (i, n) in NAMES.iter().enumerate() {
        assert_eq!(
            fs::read(dest.join("pkg").join(n)).expect("synced"),
            format!("file {i}\n").as_bytes()
        );
    }
    assert_eq!(fs::read(dest.join("big.bin")).expect("big").len(), 300_000);
    assert!(!dest.join("pkg/__pycache__").exists());
    assert!(!d.path().join("pwned").exists() && !d.path().join("pwned3").exists());
    {
        use std::os::unix::fs::PermissionsExt;
        let m = |p: &str| {
            fs::metadata(dest.join(p))
                .expect("meta")
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(m("bin/run"), 0o755);
        assert_eq!(m("plain.py".replace("plain", "pkg/plain").as_str()), 0o644);
        assert_eq!(m("pkg"), 0o755);
        assert_eq!(m(""), 0o755);
    }
    // No leftovers next to it.
    let siblings: Vec<_> = fs::read_dir(d.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(siblings.len(), 2, "{siblings:?}");

    // Nothing changed: no change.
    assert!(converge_sync(d.path(), &spec).is_empty());

    // One change, one addition, one removal; files on the host that are excluded stay.
    write(&src, "pkg/plain.py", b"changed\n");
    write(&src, "new/deep/file.txt", b"new\n");
    fs::remove_file(src.join("pkg/with space.txt")).expect("rm");
    write(&dest, "pkg/__pycache__/host.pyc", b"host cache");
    write(&dest, "stray.txt", b"not in src");
    let inode_before = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(dest.join("big.bin")).expect("meta").ino()
    };
    let spec = sync_spec(&dest, &src, &["__pycache__"], true);
    let details = converge_sync(d.path(), &spec);
    assert_eq!(
        details,
        vec![
            "1 added, 1 changed, 2 removed",
            "+ new/deep/file.txt",
            "~ pkg/plain.py",
            "- pkg/with space.txt",
            "- stray.txt",
        ]
    );
    assert_eq!(
        fs::read(dest.join("pkg/plain.py")).expect("read"),
        b"changed\n"
    );
    assert_eq!(
        fs::read(dest.join("new/deep/file.txt")).expect("read"),
        b"new\n"
    );
    assert!(!dest.join("stray.txt").exists());
    assert_eq!(
        fs::read(dest.join("pkg/__pycache__/host.pyc")).expect("kept"),
        b"host cache"
    );
    {
        use std::os::unix::fs::MetadataExt;
        let after = fs::metadata(dest.join("big.bin")).expect("meta").ino();
        assert_eq!(after, inode_before, "an unchanged file is not rewritten");
    }

    // Without delete, files of the host stay.
    write(&dest, "stray.txt", b"again");
    let keep = sync_spec(&dest, &src, &["__pycache__"], false);
    assert!(converge_sync(d.path(), &keep).is_empty());
    assert!(dest.join("stray.txt").exists());

    // Modes are enforced.
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dest.join("bin/run"), fs::Permissions::from_mode(0o700))
            .expect("chmod");
    }
    let details = converge_sync(d.path(), &keep);
    assert_eq!(details[1], "~ bin/run (mode 0700 → 0755)");
}

fn release_seen(cwd: &Path, spec: &ReleaseSpec) -> (Observed, DeployObserved) {
    let core = core_probe(cwd, &spec.probe_paths());
    let mut p = DeployProbe::default();
    p.add_fragment(release::probe_fragment(std::slice::from_ref(&spec.dest)));
    if let Some((root, ex)) = spec.probe_tree() {
        p.add_tree(&root, &ex);
    }
    if let ReleaseSource::Git {
        repo, version, ssh, ..
    } = &spec.source
    {
        p.add_remote(repo, version, ssh);
    }
    (core, deploy_probe(cwd, &p))
}

/// Plans and applies a release; returns the plan's details and the live release id.
fn converge_release(cwd: &Path, spec: &ReleaseSpec) -> (Vec<String>, String) {
    let (core, deploy) = release_seen(cwd, spec);
    let history = release::seen_history(&deploy, &spec.dest);
    let tree = spec
        .probe_tree()
        .and_then(|(r, _)| deploy.trees.get(&r).cloned());
    let remote = match &spec.source {
        ReleaseSource::Git { repo, version, .. } => deploy
            .remotes
            .get(&(repo.clone(), version.clone()))
            .cloned(),
        _ => None,
    };
    let seen = Seen {
        dest: &core.path(&spec.dest),
        current: &core.path(&spec.current()),
        history: &history,
        tree: tree.as_ref(),
        remote: remote.as_ref(),
    };
    let details = match release::plan(spec, &seen).expect("plannable") {
        None => Vec::new(),
        Some(p) => {
            let (frag, stdin) = release::apply_fragment(3, spec, &p.work).expect("archive");
            applied_ok(cwd, &frag, &stdin, 3);
            [p.details, p.work.files.lines()].concat()
        }
    };
    let live = fs::read_link(Path::new(&spec.current())).expect("current is a link");
    let id = live
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    (details, id)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sync_releases_switch_keep_and_roll_back() {
    let d = tempfile::tempdir().expect("tmp");
    let src = d.path().join("app");
    write(&src, "hello.py", b"print('v1')\n");
    write(&src, "VERSION", b"1\n");
    write(&src, "lib/util.py", b"x = 1\n");
    let dest = d.path().join("srv/hello");
    let spec = |keep: usize, pin: Option<Pin>| ReleaseSpec {
        dest: dest.display().to_string(),
        source: ReleaseSource::Sync {
            src: "app".into(),
            tree: tree(&src, &["__pycache__"]),
            exclude: vec!["__pycache__".into()],
        },
        layout: Layout::default(),
        keep,
        pin,
        cache_root: d.path().join("cache").display().to_string(),
        steps: Default::default(),
    };

    let (details, id1) = converge_release(d.path(), &spec(2, None));
    assert_eq!(
        details,
        vec![format!("release {id1}"), "3 files".to_string()]
    );
    assert_eq!(
        fs::read(dest.join("current/hello.py")).expect("live"),
        b"print('v1')\n"
    );
    assert_eq!(
        fs::read_link(dest.join("current")).expect("link"),
        dest.join("releases").join(&id1)
    );
    // Again: nothing.
    assert_eq!(
        converge_release(d.path(), &spec(2, None)),
        (vec![], id1.clone())
    );
    // A cache file written at run time next to the code is excluded, so still nothing.
    write(
        &dest.join("current"),
        "__pycache__/hello.cpython.pyc",
        b"pyc",
    );
    assert_eq!(
        converge_release(d.path(), &spec(2, None)).0,
        Vec::<String>::new()
    );

    // One changed file: a new release listing exactly that file.
    write(&src, "hello.py", b"print('v2')\n");
    let (details, id2) = converge_release(d.path(), &spec(2, None));
    assert_ne!(id2, id1);
    assert_eq!(
        details,
        vec![
            format!("release {id1} → {id2}"),
            "0 added, 1 changed, 0 removed".into(),
            "~ hello.py".into()
        ]
    );
    assert_eq!(
        fs::read(dest.join("current/hello.py")).expect("live"),
        b"print('v2')\n"
    );
    assert_eq!(
        fs::read(dest.join("current/lib/util.py")).expect("copied"),
        b"x = 1\n"
    );
    assert_eq!(
        fs::read(dest.join("releases").join(&id1).join("hello.py")).expect("old kept"),
        b"print('v1')\n"
    );

    // A third: keep 2 prunes the first.
    write(&src, "hello.py", b"print('v3')\n");
    let (details, id3) = converge_release(d.path(), &spec(2, None));
    assert!(
        details.contains(&format!("remove old releases {id1}")),
        "{details:?}"
    );
    assert_eq!(entries(&dest.join("releases")), {
        let mut v = vec![id2.clone(), id3.clone()];
        v.sort();
        v
    });
    let log = fs::read_to_string(dest.join("revisions.log")).expect("log");
    let ids: Vec<&str> = log
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(ids, vec![id1.as_str(), id2.as_str(), id3.as_str()], "{log}");
    assert!(
        log.lines().last().unwrap_or("").ends_with("sync app"),
        "{log}"
    );

    // Rollback: the previous release, by the log; the one rolled back from stays.
    let (details, live) = converge_release(d.path(), &spec(2, Some(Pin::Previous)));
    assert_eq!(live, id2);
    assert_eq!(details, vec![format!("rollback {id3} → {id2}")]);
    assert_eq!(
        fs::read(dest.join("current/hello.py")).expect("live"),
        b"print('v2')\n"
    );
    assert!(dest.join("releases").join(&id3).is_dir());
    // Nothing before id2 is left (id1 was pruned): a clear error.
    let (core, deploy) = release_seen(d.path(), &spec(2, Some(Pin::Previous)));
    let h = release::seen_history(&deploy, &dest.display().to_string());
    let s = spec(2, Some(Pin::Previous));
    let e = release::plan(
        &s,
        &Seen {
            dest: &core.path(&s.dest),
            current: &core.path(&s.current()),
            history: &h,
            tree: None,
            remote: None,
        },
    )
    .unwrap_err();
    assert!(e.0.contains(&format!("no release before {id2}")), "{e}");
    // The next plain apply deploys the source again: a switch to id3, nothing rebuilt.
    let (details, live) = converge_release(d.path(), &spec(2, None));
    assert_eq!(live, id3);
    assert_eq!(
        details,
        vec![
            format!("release {id2} → {id3}"),
            format!("{id3} is on the host already: switch only")
        ]
    );
    // To a given id.
    let (_, live) = converge_release(d.path(), &spec(2, Some(Pin::Id(id2.clone()))));
    assert_eq!(live, id2);
}

fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository with two commits on `main` and tag `v1` on the first.
fn repo(d: &Path) -> (String, String, String) {
    let bare = d.join("repo.git");
    let work = d.join("work");
    fs::create_dir_all(&work).expect("mkdir");
    git(
        d,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            &bare.display().to_string(),
        ],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    write(&work, "app.py", b"v1\n");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "-a", "v1", "-m", "v1"]);
    let c1 = git(&work, &["rev-parse", "HEAD"]);
    write(&work, "app.py", b"v2\n");
    git(&work, &["commit", "-q", "-am", "two"]);
    let c2 = git(&work, &["rev-parse", "HEAD"]);
    git(
        &work,
        &["push", "-q", &bare.display().to_string(), "main", "--tags"],
    );
    (bare.display().to_string(), c1, c2)
}

fn converge_git(cwd: &Path, spec: &GitSpec) -> Result<Vec<String>, String> {
    let core = core_probe(cwd, std::slice::from_ref(&spec.dest));
    let mut p = DeployProbe::default();
    play::resources::Desired::Git(spec.clone()).add_probe(&mut p);
    let deploy = deploy_probe(cwd, &p);
    let checkout = git::seen_checkout(&deploy, &spec.dest).map_err(|e| e.0)?;
    let remote = deploy
        .remotes
        .get(&(spec.repo.clone(), spec.version.clone()));
    match git::plan(spec, &core.path(&spec.dest), &checkout, remote).map_err(|e| e.0)? {
        None => Ok(Vec::new()),
        Some(plan) => {
            applied_ok(cwd, &git::apply_fragment(2, spec, &plan.work), b"", 2);
            Ok(plan.details)
        }
    }
}

#[test]
fn git_checkouts_move_with_the_version() {
    let d = tempfile::tempdir().expect("tmp");
    let (bare, c1, c2) = repo(d.path());
    let dest = d.path().join("srv/src");
    let spec = |version: &str| GitSpec {
        dest: dest.display().to_string(),
        presence: Presence::Present,
        repo: bare.clone(),
        version: version.into(),
        depth: Some(1),
        owner: None,
        group: None,
        force: false,
        ssh: Default::default(),
    };
    let details = converge_git(d.path(), &spec("main")).expect("plan");
    assert_eq!(details, vec![format!("clone {bare} @ {} (main)", &c2[..7])]);
    assert_eq!(fs::read(dest.join("app.py")).expect("checked out"), b"v2\n");
    assert_eq!(git(&dest, &["rev-parse", "HEAD"]), c2);
    assert!(converge_git(d.path(), &spec("main"))
        .expect("plan")
        .is_empty());

    // An annotated tag resolves to its commit.
    let details = converge_git(d.path(), &spec("v1")).expect("plan");
    assert_eq!(details, vec![format!("{} → {} (v1)", &c2[..7], &c1[..7])]);
    assert_eq!(fs::read(dest.join("app.py")).expect("moved"), b"v1\n");
    assert!(converge_git(d.path(), &spec("v1"))
        .expect("plan")
        .is_empty());
    // A commit id.
    let details = converge_git(d.path(), &spec(&c2)).expect("plan");
    assert_eq!(details, vec![format!("{} → {}", &c1[..7], &c2[..7])]);

    // Unknown version, unreadable repository: clear errors.
    let e = converge_git(d.path(), &spec("nope")).unwrap_err();
    assert_eq!(
        e,
        format!("version `nope` not found in {bare} (no branch, tag or ref of that name)")
    );
    let mut gone = spec("main");
    gone.repo = d.path().join("missing.git").display().to_string();
    let e = converge_git(d.path(), &gone).unwrap_err();
    assert!(e.starts_with(&format!("cannot read {}", gone.repo)), "{e}");

    // A folder in the way.
    let other = d.path().join("occupied");
    write(&other, "x", b"x");
    let mut occ = spec("main");
    occ.dest = other.display().to_string();
    assert!(converge_git(d.path(), &occ)
        .unwrap_err()
        .contains("not a git checkout"));

    // Absent removes it.
    let mut rm = spec("main");
    rm.presence = Presence::Absent;
    assert_eq!(
        converge_git(d.path(), &rm).expect("plan"),
        Vec::<String>::new(),
        "details of a delete"
    );
    assert!(!dest.exists());
    let core = core_probe(d.path(), &[rm.dest.clone()]);
    assert_eq!(core.path(&rm.dest).kind, PathKind::Missing);
}

#[test]
fn git_releases_archive_the_commit() {
    let d = tempfile::tempdir().expect("tmp");
    let (bare, c1, c2) = repo(d.path());
    let dest = d.path().join("srv/app");
    let spec = |version: &str| ReleaseSpec {
        dest: dest.display().to_string(),
        source: ReleaseSource::Git {
            repo: bare.clone(),
            version: version.into(),
            depth: Some(1),
            ssh: Default::default(),
        },
        layout: Layout::default(),
        keep: 5,
        pin: None,
        cache_root: d.path().join("cache").display().to_string(),
        steps: Default::default(),
    };
    let (details, id) = converge_release(d.path(), &spec("v1"));
    assert_eq!(id, c1[..12]);
    assert_eq!(
        details,
        vec![format!("release {id}"), format!("commit {} (v1)", &c1[..7])]
    );
    assert_eq!(
        fs::read(dest.join("current/app.py")).expect("live"),
        b"v1\n"
    );
    assert_eq!(
        fs::read_to_string(dest.join("current/REVISION"))
            .expect("rev")
            .trim(),
        c1
    );
    assert!(!dest.join("current/.git").exists());
    // Run as root, the cache is in the root-only cache folder, not under DEST.
    assert!(!dest.join("repo").exists(), "no cache under DEST");
    let cache = spec("v1").cache();
    assert!(
        Path::new(&cache).join("HEAD").exists(),
        "the cache is {cache}"
    );
    assert!(!Path::new(&cache).join("play-archive.tar").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(d.path().join("cache"))
        .expect("cache folder")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the cache folder is root-only");
    assert!(converge_release(d.path(), &spec("v1")).0.is_empty());
    let (details, id2) = converge_release(d.path(), &spec("main"));
    assert_eq!(id2, c2[..12]);
    assert_eq!(details[0], format!("release {id} → {id2}"));
    assert_eq!(
        fs::read(dest.join("current/app.py")).expect("live"),
        b"v2\n"
    );
}

#[test]
fn command_guards_run_for_real() {
    let d = tempfile::tempdir().expect("tmp");
    let marker = d.path().join("made");
    let cmd = CommandSpec {
        command: format!("echo made > '{}'", marker.display()),
        creates: Some(marker.display().to_string()),
        unless: Some("test -f flag".into()),
        chdir: Some(d.path().display().to_string()),
        ..Default::default()
    };
    let guard = cmd.guard().expect("unless");
    let check = |p: &DeployProbe| deploy_probe(d.path(), p);
    let seen = |p: &DeployProbe, id: &str| command::guard_result(&check(p), id).expect("status");
    let mut p = DeployProbe::default();
    play::resources::Desired::Command(cmd.clone()).add_probe(&mut p);
    assert_eq!(
        seen(&p, &guard.id),
        Some(Some(1)),
        "flag missing: the check fails"
    );
    fs::write(d.path().join("flag"), b"").expect("flag");
    assert_eq!(seen(&p, &guard.id), Some(Some(0)));
    // A missing chdir is reported, not run.
    let nowhere = Guard::new("true", Some("/nonexistent/dir"), None);
    let mut p2 = DeployProbe::default();
    p2.add_fragment(command::probe_guard(&nowhere));
    assert_eq!(seen(&p2, &nowhere.id), Some(None));

    // The command runs, creates its path; its output does not disturb the script's records.
    let missing = PathState::missing();
    let plan = command::plan(
        &cmd,
        &Checks {
            creates: Some(&missing),
            unless: Some(Some(1)),
        },
        &[],
    )
    .expect("plan")
    .expect("runs");
    assert_eq!(plan.action, Action::Update);
    let noisy = CommandSpec {
        command: format!(
            "echo to-stdout; echo to-stderr >&2; echo made > '{}'",
            marker.display()
        ),
        ..cmd.clone()
    };
    applied_ok(d.path(), &command::apply_fragment(5, &noisy), b"", 5);
    assert_eq!(fs::read(&marker).expect("created"), b"made\n");
    let core = core_probe(d.path(), &[marker.display().to_string()]);
    assert_eq!(
        command::plan(
            &cmd,
            &Checks {
                creates: Some(&core.path(&marker.display().to_string())),
                unless: Some(Some(1))
            },
            &[]
        )
        .expect("plan"),
        None
    );

    // A failing command fails its step with its status and output.
    let failing = CommandSpec {
        command: "echo broken >&2; exit 3".into(),
        ..Default::default()
    };
    let (o, _) = apply(d.path(), &command::apply_fragment(9, &failing), b"");
    let (i, msg) = o.failed.expect("failed");
    assert_eq!(i, 9);
    assert!(msg.contains("broken") && msg.contains("status 3"), "{msg}");
    // Succeeding without creating the promised path is a failure too.
    let liar = CommandSpec {
        command: "true".into(),
        creates: Some(d.path().join("never").display().to_string()),
        ..Default::default()
    };
    let (o, _) = apply(d.path(), &command::apply_fragment(2, &liar), b"");
    assert!(o.failed.expect("failed").1.contains("did not create"));
    // The command's umask is 022, not the apply script's 077.
    let umask = CommandSpec {
        command: format!("umask > '{}'", d.path().join("umask").display()),
        ..Default::default()
    };
    applied_ok(d.path(), &command::apply_fragment(1, &umask), b"", 1);
    assert_eq!(
        fs::read_to_string(d.path().join("umask"))
            .expect("umask")
            .trim(),
        "0022"
    );
    // `environment:` reaches the command (quoted values stay whole), and never its argv.
    let env = CommandSpec {
        command: format!(
            "printf '%s|%s' \"$APP_MODE\" \"$GREETING\" > '{}'",
            d.path().join("env").display()
        ),
        environment: vec![
            ("APP_MODE".into(), "prod".into()),
            ("GREETING".into(), "it's $HOME; `x`".into()),
        ],
        ..Default::default()
    };
    let frag = command::apply_fragment(4, &env);
    applied_ok(d.path(), &frag, b"", 4);
    assert_eq!(
        fs::read_to_string(d.path().join("env")).expect("env"),
        "prod|it's $HOME; `x`"
    );
}
