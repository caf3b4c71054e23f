//! Resources that depend on each other inside one run, against a real lab host: parents no
//! one declared, folders inside a checkout the same run clones, a link whose target the run
//! makes, a command whose `creates` the checkout brings; and the privilege boundaries of the
//! file steps (links swapped in by the folder's owner during a real apply, an operator's edit
//! between the probe and the apply).

mod support;

use support::lab::Lab;
use support::project::Project;

const SITE: &str = r#"- hosts: lab
  state:
    - file: /etc/app/logo.bin
      content: "logo\n"
    - file: /opt/deep/a/b/c.txt
      content: "deep\n"
      mode: "0640"
    - git: /srv/app
      repo: /srv/repo.git
      version: main
    - directory: /srv/app/static/images
      mode: "0750"
    - directory: /srv/app/media/uploads
    - link: /srv/static
      target: /srv/app/static
    - command: "false"
      creates: /srv/app/static/style.css
    - command: "touch /srv/app/media/.ready"
      creates: /srv/app/media/.ready
"#;

#[test]
fn dependent_resources_converge_in_one_apply() {
    let lab = Lab::start("tree-deps", 1);
    lab.sh("h1",
        "set -e; export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
         git init -q --bare -b main /srv/repo.git
         git init -q -b main /tmp/w && cd /tmp/w
         mkdir static && echo 'body{}' > static/style.css && echo app > app.py
         git add . && git commit -qm one && git push -q /srv/repo.git main",
    );
    let p = Project::new(&lab).file("site.yml", SITE);

    // The plan lists the parents as their own lines and says what is known only later.
    let diff = p.play(&["diff", "site.yml", "--exit-code"]).code(2);
    let diff = diff
        .shows("+ create directory /etc/app (parent of /etc/app/logo.bin)")
        .shows("+ create directory /opt/deep (parent of /opt/deep/a/b/c.txt)")
        .shows("+ create directory /opt/deep/a/b (parent of /opt/deep/a/b/c.txt)")
        .shows("+ create directory /srv/app/static/images (known after git /srv/app)")
        .shows("(parent of /srv/app/media/uploads) (known after git /srv/app)")
        .hides("create directory /srv/app (parent");
    // `false` would fail the run: the checkout brings what it `creates`, so it must not run.
    assert!(
        diff.stdout.contains("command false") && diff.stdout.contains("known after git /srv/app"),
        "{}",
        diff.stdout
    );

    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /etc/app/logo.bin"), "logo\n");
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%U %a' /etc/app /opt/deep/a /opt/deep/a/b/c.txt"
        ),
        "root 755\nroot 755\nroot 640\n"
    );
    assert_eq!(lab.sh("h1", "stat -c '%a' /srv/app/static/images"), "750\n");
    assert_eq!(lab.sh("h1", "cat /srv/static/style.css"), "body{}\n");
    lab.sh(
        "h1",
        "test -d /srv/app/media/uploads && test -e /srv/app/media/.ready",
    );

    // Converged: nothing left to do, and the no-op stays one round trip.
    p.play(&["diff", "site.yml", "--exit-code"]).code(0);
    let again = p
        .play(&["apply", "site.yml", "-v"])
        .code(0)
        .shows("1 round trip(s) to the host");
    assert_eq!(again.recap("h1").1, 0, "{}", again.stdout);

    // An owner the host lacks and the run does not create: a plan error, before any step.
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /etc/first.conf\n      content: \"1\\n\"\n    - file: /etc/ghost.conf\n      content: \"x\\n\"\n      owner: ghost\n      group: spooks\n",
    );
    p.play(&["apply", "site.yml"]).code(1).shows(
        "file /etc/ghost.conf: needs user `ghost`, group `spooks`: not on the host, and no `user:`/`group:` of this run creates it (declared at site.yml:5:7)",
    );
    lab.sh("h1", "test ! -e /etc/first.conf");
    // Created by the run: fine.
    let p = p.file(
        "site.yml",
        "- hosts: lab\n  state:\n    - group: spooks\n    - user: ghost\n    - file: /etc/ghost.conf\n      content: \"x\\n\"\n      owner: ghost\n      group: spooks\n",
    );
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "stat -c '%U %G' /etc/ghost.conf"),
        "ghost spooks\n"
    );
}

#[test]
fn file_steps_hold_the_privilege_boundary() {
    let lab = Lab::start("tree-privs", 1);
    // A folder the deploy user owns, with a root file in it, and victims outside it.
    lab.sh(
        "h1",
        "set -e; mkdir -p /srv/drop && chown deploy: /srv/drop
         printf 'root data\\n' > /srv/drop/f.conf && chmod 600 /srv/drop/f.conf
         printf 'secret\\n' > /etc/victim && chmod 600 /etc/victim
         printf 'secret2\\n' > /etc/victim2 && chmod 600 /etc/victim2
         ln -s /etc /srv/linked && chown -h deploy: /srv/linked
         printf 'old\\n' > /etc/edited.conf",
    );
    // 1. attrs-only change; after the probe, the folder's owner swaps the file for a link to
    //    /etc/victim (a command as deploy, run between the probe and the file's step).
    // 2. a new file into the deploy folder while deploy renames links over any temp name.
    let p = Project::new(&lab).file(
        "site.yml",
        r#"- hosts: lab
  state:
    - command: "ln -s /etc/victim /srv/drop/.swap && mv -T /srv/drop/.swap /srv/drop/f.conf"
      user: deploy
    - file: /srv/drop/f.conf
      mode: "0644"
      owner: deploy
"#,
    );
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("not a regular file any more");
    assert_eq!(
        lab.sh("h1", "stat -c '%U %a' /etc/victim"),
        "root 600\n",
        "the attrs change must not go through the link"
    );

    // A racing owner: every name that appears in the folder is replaced by a link to victim2.
    let racer = "su -s /bin/sh deploy -c 'i=0; while [ $i -lt 3000 ]; do for f in /srv/drop/.*; do case $f in */.|*/..) ;; *) [ -L \"$f\" ] || ln -sfn /etc/victim2 \"$f.x\" && mv -Tf \"$f.x\" \"$f\" 2>/dev/null;; esac; done; i=$((i+1)); done' >/dev/null 2>&1 &";
    lab.sh("h1", racer);
    let p = Project::new(&lab).file(
        "site.yml",
        r#"- hosts: lab
  state:
    - file: /srv/drop/new.conf
      content: "new\n"
      owner: deploy
      mode: "0644"
"#,
    );
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(lab.sh("h1", "stat -c '%U %a' /etc/victim2"), "root 600\n");
    assert_eq!(lab.sh("h1", "cat /etc/victim2"), "secret2\n");
    let _ = lab.exec("h1", "pkill -u deploy -f 'while'; true");

    // 3. a parent folder that is a link another user owns is refused by the plan.
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /srv/linked/planted\n      content: \"x\\n\"\n",
    );
    p.play(&["diff", "site.yml"])
        .code(1)
        .shows("owned by deploy on the way to /srv/linked/planted");
    lab.sh("h1", "test ! -e /etc/planted");

    // 5. a sync destination that is a link (to a folder outside the tree), with delete: the
    //    plan refuses, nothing outside is deleted; a link with force over a non-empty folder
    //    is refused by the plan, not half-done by the apply.
    lab.sh(
        "h1",
        "mkdir -p /etc/outside /srv/full && echo keep > /etc/outside/keep.txt && ln -s /etc/outside /srv/synced && touch /srv/full/x",
    );
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - sync: /srv/synced\n      src: site\n      delete: true\n    - link: /srv/full\n      target: /tmp\n      force: true\n",
    );
    p.write("files/site/index.html", b"hi\n");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("is a symbolic link (→ /etc/outside); a sync does not write or delete through it");
    assert_eq!(lab.sh("h1", "cat /etc/outside/keep.txt"), "keep\n");
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - link: /srv/full\n      target: /tmp\n      force: true\n",
    );
    p.play(&["diff", "site.yml"])
        .code(1)
        .shows("a non-empty directory stands there");

    // 6. a release owned by deploy: deploy swaps `releases/` for a link to /etc; the next
    //    release is refused, /etc keeps its owner.
    let release = |v: &str| {
        let p = Project::new(&lab).file(
            "site.yml",
            "- hosts: lab\n  state:\n    - release: /srv/rel\n      from: {sync: app}\n      owner: deploy\n",
        );
        p.write("files/app/app.py", format!("v = {v}\n").as_bytes());
        p
    };
    release("1").play(&["apply", "site.yml"]).code(0);
    lab.sh(
        "h1",
        "su -s /bin/sh deploy -c 'mv /srv/rel/releases /srv/rel/old && ln -s /etc /srv/rel/releases'",
    );
    release("2")
        .play(&["apply", "site.yml"])
        .code(1)
        .shows("/srv/rel/releases: a symbolic link; play does not follow it");
    assert_eq!(lab.sh("h1", "stat -c %U /etc"), "root\n");

    // 7. a synced tree owned by deploy: after the probe, deploy swaps a folder of it for a
    //    link to /etc; the sync writes as deploy, so nothing lands in /etc.
    let site = |css: &str, swap: bool| {
        let cmd = if swap {
            "    - command: \"mv /srv/site/static /srv/site/static.old && ln -s /etc /srv/site/static\"\n      user: deploy\n"
        } else {
            ""
        };
        let p = Project::new(&lab).file(
            "site.yml",
            &format!("- hosts: lab\n  state:\n{cmd}    - sync: /srv/site\n      src: site\n      owner: deploy\n      delete: true\n"),
        );
        p.write("files/site/static/app.css", css.as_bytes());
        p
    };
    site("a{}\n", false).play(&["apply", "site.yml"]).code(0);
    site("b{}\n", true).play(&["apply", "site.yml"]).code(1);
    lab.sh("h1", "test ! -e /etc/app.css");
    assert_eq!(lab.sh("h1", "stat -c %U /etc"), "root\n");

    // 8. the same tree synced WITHOUT owner: root would write there; deploy could put a link
    //    under it at any time, so the step refuses the tree (and writes nothing).
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - sync: /srv/site\n      src: site\n      delete: true\n",
    );
    p.write("files/site/static/app.css", b"c{}\n");
    p.write("files/site/new.txt", b"new\n");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("another user than root can write in this folder");
    lab.sh(
        "h1",
        "test ! -e /srv/site/new.txt && test ! -e /etc/new.txt",
    );

    // 4. an operator's edit between the probe and the apply is not overwritten.
    let p = Project::new(&lab).file(
        "site.yml",
        r#"- hosts: lab
  state:
    - command: "echo operator > /etc/edited.conf"
    - file: /etc/edited.conf
      content: "managed\n"
    - file: /etc/after-edit.conf
      content: "later\n"
"#,
    );
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("file /etc/edited.conf: /etc/edited.conf: changed since the plan (now other content); not overwritten")
        .shows("update file /etc/edited.conf [not applied]");
    assert_eq!(lab.sh("h1", "cat /etc/edited.conf"), "operator\n");
    // The rest of the host's steps went on.
    assert_eq!(lab.sh("h1", "cat /etc/after-edit.conf"), "later\n");
}

/// Issue 13's link race in entering a folder, as the folder's owner during real applies:
/// `/srv/lnk` is root's link to `/home/deploy/dir`, which deploy owns. deploy swaps `x` in it
/// with a link to a folder of root's (`renameat2(RENAME_EXCHANGE)` in a tight loop) while root
/// applies files under `/srv/lnk/x` again and again: each apply writes them into the real
/// folder or fails (the plan refusing deploy's link, or the step saying the folder changed
/// while play entered it), and root's folder is never written. Without a race, a link root
/// owns in deploy's folder is refused too: deploy could swap it.
#[test]
fn entering_a_folder_holds_against_its_racing_owner() {
    let lab = Lab::start("enter-owner-race", 1);
    lab.sh(
        "h1",
        "set -e; mkdir -p /home/deploy/dir/x /srv /etc/kept && chown deploy: /home/deploy/dir /home/deploy/dir/x
         ln -s /home/deploy/dir /srv/lnk
         printf 'root data\\n' > /etc/kept/f1 && chmod 600 /etc/kept/f1
         ln -s /etc/kept /home/deploy/dir/rootlnk
         su -s /bin/sh deploy -c 'ln -s /etc/kept /home/deploy/dir/x.l'",
    );
    let kept = || lab.sh("h1", "cd /etc/kept && stat -c '%n %U %a %s' -- * && cat f1");
    let before = kept();
    let uid = lab.sh("h1", "id -u deploy");

    // A link of root's in deploy's folder: refused by the step, nothing written through it.
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /srv/lnk/rootlnk/planted\n      content: \"x\\n\"\n",
    );
    p.play(&["apply", "site.yml"]).code(1).shows(&format!(
        "/home/deploy/dir/rootlnk: a symbolic link in a folder another user can change (owner uid {}, mode 755) is on the way to /srv/lnk/rootlnk; play does not follow it",
        uid.trim()
    ));
    assert_eq!(kept(), before);

    // The race: deploy swaps x and x.l for five minutes at most (stopped below), in bursts
    // of up to 30 ms with pauses of up to 60 ms between them: a probe that meets a burst says
    // the folder changed while it was probed, one in a pause lets the steps meet the next one.
    lab.sh(
        "h1",
        "su -s /bin/sh deploy -c 'cd /home/deploy/dir && exec timeout 300 python3 -c \"
import ctypes, random, time
libc = ctypes.CDLL(None)
while True:
    end = time.monotonic() + random.uniform(0, 0.03)
    while time.monotonic() < end:
        libc.renameat2(-100, b\\\"x\\\", -100, b\\\"x.l\\\", 2)
    time.sleep(random.uniform(0, 0.06))
\"' >/dev/null 2>&1 &",
    );
    // Each apply: written (exit 0, or 1 when the probe after it met the race), or refused by its step (a link of deploy's seen, or the
    // folder changed while play entered it), or stopped before any step by what the race did
    // to the probe (deploy's link refused by the plan, `find` failing on a vanishing name, a
    // name on the way changed while it was probed) or
    // to the files (changed since the plan).
    let step_refused = [
        "changed while play entered it; not followed".to_string(),
        format!(
            "a symbolic link owned by uid {} is on the way to /srv/lnk/x",
            uid.trim()
        ),
    ];
    let stopped = [
        "owned by deploy on the way to /srv/lnk/x",
        "probe output: find failed",
        ": changed since the plan (now ",
        ": changed while it was probed (",
    ];
    let (mut applied, mut refused) = (0, 0);
    for round in 0..300 {
        let p = Project::new(&lab).file(
            "site.yml",
            &format!(
                "- hosts: lab\n  state:\n    - file: /srv/lnk/x/f{}\n      content: \"{round}\\n\"\n      mode: \"0644\"\n",
                round % 2
            ),
        );
        let run = p.play(&["apply", "site.yml"]);
        let out = format!("{}{}", run.stdout, run.stderr);
        match run.status {
            // Written; the probe after the apply may then read deploy's link instead.
            Some(0) => applied += 1,
            Some(1) if out.contains("did not converge after apply") => applied += 1,
            Some(1) if step_refused.iter().any(|m| out.contains(m.as_str())) => refused += 1,
            Some(1) if stopped.iter().any(|m| out.contains(m)) => {}
            _ => panic!("round {round}: unexpected outcome: {out}"),
        }
        assert_eq!(
            kept(),
            before,
            "round {round}: written through the link: {out}"
        );
        if applied >= 2 && refused >= 3 && round >= 20 {
            break;
        }
    }
    let _ = lab.exec("h1", "pkill -u deploy -f renameat2; true");
    eprintln!("applied {applied}, refused {refused}");
    assert_eq!(kept(), before);
    lab.sh(
        "h1",
        "test ! -e /etc/kept/f2 && test ! -e /etc/f1 && test ! -e /etc/f2",
    );
    // Steps ran during the race: some applies wrote, some steps were refused.
    assert!(
        applied >= 1 && refused >= 1,
        "applied {applied}, refused {refused}"
    );
}

/// On h1: `deploy` owns `/home/deploy/app` with `conf` and `dir/conf` (`app conf`), and links
/// `conf.l` to root's `/etc/kept/secret` and `dir.l` to root's `/etc/kept/dir` (`/etc/kept`
/// 0700; both root files 0600, made by `make` on stdout); then, for five minutes at most,
/// deploy exchanges `conf` with `conf.l` and `dir` with `dir.l` (`renameat2`) in a tight loop,
/// in bursts of up to 30 ms with pauses between them: up to `pause` seconds, one in three
/// 0.3 to 1 s (with `pause` 0: none).
fn flip_app_files_with_root_ones(lab: &Lab, make: &str, pause: f64) {
    // With pauses, a third of them are long (0.3 to 1 s): a loaded machine (CI, three test
    // binaries at once) takes longer than `pause` from a probe to its fetch, and the race must
    // also let some fetches meet the file the probe saw.
    let sleep = if pause > 0.0 {
        format!(
            "random.uniform(0, {pause}) if random.random() < 0.67 else random.uniform(0.3, 1.0)"
        )
    } else {
        "0".to_string()
    };
    lab.sh(
        "h1",
        &format!("set -e; mkdir -p /home/deploy/app/dir /etc/kept/dir && chmod 700 /etc/kept
         {make} > /etc/kept/secret && cp /etc/kept/secret /etc/kept/dir/conf
         chmod 600 /etc/kept/secret /etc/kept/dir/conf
         printf 'app conf\\n' > /home/deploy/app/conf && printf 'app conf\\n' > /home/deploy/app/dir/conf
         chown -R deploy: /home/deploy/app
         su -s /bin/sh deploy -c 'ln -s /etc/kept/secret /home/deploy/app/conf.l && ln -s /etc/kept/dir /home/deploy/app/dir.l'"),
    );
    lab.sh(
        "h1",
        &format!(
            "su -s /bin/sh deploy -c 'cd /home/deploy/app && exec timeout 300 python3 -c \"
import ctypes, random, time
libc = ctypes.CDLL(None)
while True:
    end = time.monotonic() + random.uniform(0, 0.03)
    while time.monotonic() < end:
        for n in (b\\\"conf\\\", b\\\"dir\\\"):
            libc.renameat2(-100, n, -100, n + b\\\".l\\\", 2)
    time.sleep({sleep})
\"' >/dev/null 2>&1 &"
        ),
    );
}

/// `value` appears in `out` as a whole value, not as part of a longer hex string (a size such
/// as 77777 may well occur inside a hash, a salt or an id).
fn shows_value(out: &str, value: &str) -> bool {
    let hex = |c: Option<char>| c.is_some_and(|c| c.is_ascii_hexdigit());
    out.match_indices(value).any(|(i, _)| {
        !hex(out[..i].chars().next_back()) && !hex(out[i + value.len()..].chars().next())
    })
}

/// None of `leaked` is in any file of the project (reports, plans, run records).
fn assert_in_no_record(p: &Project, leaked: &[&str]) {
    // Whole values only: a size such as 77777 may well occur inside a hash or an id.
    let pattern = format!("(^|[^0-9a-fA-F])({})([^0-9a-fA-F]|$)", leaked.join("|"));
    let found = std::process::Command::new("grep")
        .args(["-rlE", &pattern, "."])
        .current_dir(p.root())
        .output();
    let found = found.expect("grep runs").stdout;
    assert_eq!(
        String::from_utf8_lossy(&found),
        "",
        "in the project's records"
    );
}

/// Issue 13, the diff's fetch of old contents: deploy, owning `/home/deploy/app`, flips its
/// `conf` between a real file and a link to a root-only file, and its folder `dir` between a
/// real folder and a link to a root-only folder, while root runs `play diff` (text and JSON)
/// and `play apply` with a content change of both, again and again. The diff shows deploy's
/// real content, or says it could not be read safely; the root-only content never appears in
/// any output, report or run record.
#[test]
fn the_diff_never_shows_a_file_its_racing_owner_links_in() {
    let lab = Lab::start("enter-fetch-race", 1);
    // Pauses: a probe that meets a burst fails (the path changed while it was probed), so
    // the fetch is reached only after a probe in a pause.
    flip_app_files_with_root_ones(&lab, "printf 'root data\\n'", 0.06);
    let p = Project::new(&lab);
    let secret = ["root data", "cm9vdCBkYXRh"]; // and its base64
    let (mut shown, mut said) = (0, 0);
    for round in 0..300 {
        p.write(
            "site.yml",
            format!(
                "- hosts: lab\n  state:\n    - file: /home/deploy/app/conf\n      content: \"new {round}\\n\"\n    - file: /home/deploy/app/dir/conf\n      content: \"new {round}\\n\"\n"
            )
            .as_bytes(),
        );
        let run = match round % 3 {
            0 => p.play(&["diff", "site.yml"]),
            1 => p.play(&["diff", "site.yml", "--format", "json", "--output", "r.json"]),
            _ => p.play(&["apply", "site.yml"]),
        };
        let mut out = format!("{}{}", run.stdout, run.stderr);
        if round % 3 == 1 {
            out.push_str(&std::fs::read_to_string(p.path("r.json")).unwrap_or_default());
        }
        assert!(
            matches!(run.status, Some(0..=2)),
            "round {round}: unexpected outcome: {out}"
        );
        assert!(
            !secret.iter().any(|s| out.contains(s)),
            "round {round}: the root-only file is shown: {out}"
        );
        // deploy's real content as old content: `app conf`, or what an earlier apply wrote.
        shown += usize::from(out.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("-app conf") || l.starts_with("-new ")
        }));
        said += usize::from(out.contains("old content not shown, it could not be read safely: "));
        if shown >= 3 && said >= 3 && round >= 30 {
            break;
        }
    }
    let _ = lab.exec("h1", "pkill -u deploy -f renameat2; true");
    eprintln!("shown {shown}, said {said}");
    // Nor in the run records the applies left.
    assert_in_no_record(&p, &secret);
    // The race reached the fetch: deploy's content was diffed, and a swapped one was refused.
    assert!(shown >= 1 && said >= 1, "shown {shown}, said {said}");
}

/// The probe's stats and sums (issue 13): `deploy` flipping its `conf` with a link to a
/// root-only file, and its folder `dir` with a link to a root-only folder (`renameat2`
/// exchange, tight loop), while root runs `play diff` (JSON report, plan file) again and
/// again: the root-only file's sha256 and size never appear in any output, report, plan file
/// or run record; the probe says the path changed while it was probed instead.
#[test]
fn the_probe_never_reports_a_file_its_racing_owner_links_in() {
    let lab = Lab::start("enter-probe-race", 1);
    flip_app_files_with_root_ones(&lab, "head -c 77777 /dev/urandom", 0.0);
    let sum = lab.sh("h1", "sha256sum /etc/kept/secret");
    let sum = sum
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(sum.len(), 64, "{sum}");
    let p = Project::new(&lab);
    let leaked = [sum.as_str(), "77777"];
    let (mut changed, mut planned) = (0, 0);
    for round in 0..100 {
        p.write(
            "site.yml",
            format!(
                "- hosts: lab\n  state:\n    - file: /home/deploy/app/conf\n      content: \"new {round}\\n\"\n    - file: /home/deploy/app/dir/conf\n      content: \"new {round}\\n\"\n"
            )
            .as_bytes(),
        );
        let (run, file) = if round % 2 == 0 {
            let run = p.play(&["diff", "site.yml", "--format", "json", "--output", "r.json"]);
            (run, "r.json")
        } else {
            (
                p.play(&["diff", "site.yml", "--out", "plan.json"]),
                "plan.json",
            )
        };
        let mut out = format!("{}{}", run.stdout, run.stderr);
        out.push_str(&std::fs::read_to_string(p.path(file)).unwrap_or_default());
        let _ = std::fs::remove_file(p.path(file));
        assert!(
            matches!(run.status, Some(0..=2)),
            "round {round}: unexpected outcome: {out}"
        );
        assert!(
            !leaked.iter().any(|s| shows_value(&out, s)),
            "round {round}: the root-only file's sha256 or size is shown: {out}"
        );
        changed += usize::from(out.contains("changed while it was probed"));
        planned += usize::from(run.status == Some(2));
    }
    let _ = lab.exec("h1", "pkill -u deploy -f renameat2; true");
    eprintln!("changed {changed}, planned {planned}");
    assert_in_no_record(&p, &leaked);
    // The race reached the probe.
    assert!(changed >= 1, "changed {changed}, planned {planned}");
}
