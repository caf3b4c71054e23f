//! `unarchive:` on a real lab host: a tar.gz extracted by its owner, a zip by root (unzip),
//! a changed archive extracted again, hostile archives that write nothing outside DEST, a
//! root extraction refused in a tree another user can write, and an archive downloaded and
//! extracted in one apply. One lab for all.

mod support;

use support::lab::Lab;
use support::project::Project;

/// Python on the host writing the archives of the test into /srv/arc: `app.tar.gz` (a folder
/// `bundle/` with `main.js` holding `VERSION`, an executable `bin/run`), `app.zip` (the same),
/// and hostile ones (`evil.tar.gz`, `evil.zip`: an absolute member, a `..` member, a symbolic
/// link out of DEST then a member through it).
fn make_archives(lab: &Lab, version: &str) {
    let script = format!(
        r##"mkdir -p /srv/arc /srv/outside && python3 - <<'PLAYARC'
import io, stat, tarfile, zipfile
v = b"{version}\n"
t = tarfile.open("/srv/arc/app.tar.gz.tmp", "w:gz")
def add(t, name, data=b"x", mode=0o644, link=None, kind=None):
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    ti.uid = ti.gid = 4242
    if link:
        ti.type = tarfile.SYMTYPE; ti.linkname = link
        t.addfile(ti)
    elif kind == "dir":
        ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        t.addfile(ti)
    else:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
add(t, "bundle", kind="dir")
add(t, "bundle/main.js", v)
add(t, "bundle/bin/run", b"#!/bin/sh\n", 0o755)
t.close()
z = zipfile.ZipFile("/srv/arc/app.zip", "w")
z.writestr("bundle/main.js", v)
zi = zipfile.ZipInfo("bundle/bin/run"); zi.external_attr = (stat.S_IFREG | 0o755) << 16
z.writestr(zi, "#!/bin/sh\n")
z.close()
e = tarfile.open("/srv/arc/evil.tar.gz", "w:gz")
add(e, "out", link="/srv/outside")
add(e, "out/pwned")
add(e, "/srv/abs-pwned")
add(e, "../dotdot-pwned")
add(e, "ok.txt")
e.close()
z = zipfile.ZipFile("/srv/arc/evil.zip", "w")
zi = zipfile.ZipInfo("out"); zi.create_system = 3; zi.external_attr = (stat.S_IFLNK | 0o777) << 16
z.writestr(zi, "/srv/outside")
z.writestr("out/pwned", "x")
z.writestr("/srv/abs-pwned", "x")
z.writestr("../dotdot-pwned", "x")
z.writestr("ok.txt", "x")
z.close()
PLAYARC
mv /srv/arc/app.tar.gz.tmp /srv/arc/app.tar.gz"##
    );
    let out = lab.exec("h1", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const TAR_YML: &str = "- hosts: lab\n  state:\n    - unarchive: /srv/app\n      src: /srv/arc/app.tar.gz\n      owner: deploy\n      group: deploy\n      mode: \"0750\"\n";

const ZIP_YML: &str =
    "- hosts: lab\n  state:\n    - unarchive: /srv/zapp\n      src: /srv/arc/app.zip\n";

/// Nothing the hostile archives hold was written outside their DEST.
fn nothing_outside(lab: &Lab) {
    assert_eq!(lab.sh("h1", "ls -A /srv/outside"), "");
    assert_eq!(
        lab.sh(
            "h1",
            "ls -d /srv/abs-pwned /srv/dotdot-pwned /dotdot-pwned 2>/dev/null; true"
        ),
        ""
    );
}

#[test]
fn archives_are_extracted_once_and_again_when_changed() {
    if !std::path::Path::new("/usr/bin/unzip").exists() {
        panic!("unzip is not installed on this machine (.ci/run installs it)");
    }
    let lab = Lab::start("unarchive", 1);
    make_archives(&lab, "v1");
    let p = Project::new(&lab).file("tar.yml", TAR_YML);

    // A tar.gz extracted by its owner: everything below DEST is deploy's, DEST has its mode.
    p.play(&["apply", "tar.yml"])
        .code(0)
        .shows("+ create unarchive /srv/app");
    assert_eq!(lab.sh("h1", "cat /srv/app/bundle/main.js"), "v1\n");
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%U:%G %a' /srv/app /srv/app/bundle /srv/app/bundle/main.js /srv/app/bundle/bin/run"
        ),
        "deploy:deploy 750\ndeploy:deploy 755\ndeploy:deploy 644\ndeploy:deploy 755\n"
    );
    p.play(&["diff", "--exit-code", "tar.yml"]).code(0);
    let run = p.play(&["apply", "tar.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // A changed archive is extracted again; then no change.
    make_archives(&lab, "v2");
    p.play(&["diff", "--exit-code", "tar.yml"])
        .code(2)
        .shows("app.tar.gz changed since the last extraction");
    p.play(&["apply", "tar.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/app/bundle/main.js"), "v2\n");
    p.play(&["diff", "--exit-code", "tar.yml"]).code(0);

    // A zip extracted by root (unzip), root's; then no change.
    let p = p.file("zip.yml", ZIP_YML);
    p.play(&["apply", "zip.yml"])
        .code(0)
        .shows("+ create unarchive /srv/zapp");
    assert_eq!(lab.sh("h1", "cat /srv/zapp/bundle/main.js"), "v2\n");
    assert_eq!(
        lab.sh("h1", "stat -c '%U %a' /srv/zapp/bundle/bin/run"),
        "root 755\n"
    );
    p.play(&["diff", "--exit-code", "zip.yml"]).code(0);

    // `creates` present: nothing extracted, whatever the archive.
    let p = p.file(
        "creates.yml",
        "- hosts: lab\n  state:\n    - unarchive: /srv/zapp\n      src: /srv/arc/evil.zip\n      creates: /srv/zapp/bundle\n",
    );
    p.play(&["diff", "--exit-code", "creates.yml"]).code(0);

    // Hostile archives, by root and by a user: the step fails, nothing is written outside
    // DEST (an absolute member, a `..` member, a member through a link the archive made).
    for (n, src, owner) in [
        (1, "evil.tar.gz", ""),
        (2, "evil.tar.gz", "      owner: deploy\n"),
        (3, "evil.zip", ""),
        (4, "evil.zip", "      owner: deploy\n"),
    ] {
        p.write(
            "evil.yml",
            format!(
                "- hosts: lab\n  state:\n    - unarchive: /srv/evil{n}\n      src: /srv/arc/{src}\n{owner}"
            )
            .as_bytes(),
        );
        p.play(&["apply", "evil.yml"]).code(1);
        nothing_outside(&lab);
        assert_eq!(lab.sh("h1", &format!("cat /srv/evil{n}/ok.txt")), "x");
    }

    // Root does not extract into a tree another user can write (a link they plant there would
    // be followed): the step fails, saying to give `owner:`.
    lab.sh(
        "h1",
        "mkdir -p /srv/shared/bundle && chown deploy /srv/shared/bundle && ln -s /srv/outside /srv/shared/bundle/bin",
    );
    let p = p.file(
        "shared.yml",
        "- hosts: lab\n  state:\n    - unarchive: /srv/shared\n      src: /srv/arc/app.tar.gz\n",
    );
    p.play(&["apply", "shared.yml"])
        .code(1)
        .shows("give `owner:` to extract as that user");
    nothing_outside(&lab);

    // An archive downloaded and extracted in one apply: the extraction is known after the
    // download.
    lab.sh("h1", "mkdir -p /srv/dl");
    let p = p.file(
        "dl.yml",
        "- hosts: lab\n  state:\n    - download: /srv/dl/app.tar.gz\n      url: file:///srv/arc/app.tar.gz\n    - unarchive: /srv/fresh\n      src: /srv/dl/app.tar.gz\n      owner: deploy\n",
    );
    p.play(&["diff", "dl.yml"])
        .code(0)
        .shows("+ create unarchive /srv/fresh (/srv/dl/app.tar.gz changes before it) (known after download /srv/dl/app.tar.gz)");
    p.play(&["apply", "dl.yml"])
        .code(0)
        .shows("+ create download /srv/dl/app.tar.gz");
    assert_eq!(lab.sh("h1", "cat /srv/fresh/bundle/main.js"), "v2\n");
    p.play(&["diff", "--exit-code", "dl.yml"]).code(0);
}
