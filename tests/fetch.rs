//! The fetch kinds on real lab hosts, without network: `download:` from an HTTP server on
//! loopback (a thread of the test), by the host or the controller, and from `file:` URLs;
//! `apt_source:` with a local flat repository, and a PPA whose key comes from a loopback Launchpad
//! API and keyserver; `venv:` from hand-built wheels;
//! `pip:` outside a venv from the same wheels; `facts.os_codename` (bad input: tests/check.rs).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use sha2::{Digest, Sha256};
use support::lab::Lab;
use support::project::Project;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tiny HTTP/1.0 server on `addr` (port chosen by the system) serving `body` for every
/// GET, on a thread that lives as long as the test; its `http://ADDR:PORT`.
fn serve(addr: std::net::Ipv4Addr, body: &'static [u8]) -> String {
    serve_routes(addr, move |_| Some(body.to_vec()))
}

/// [`serve`] answering each GET with `route(PATH)` (the request's path and query), or 404
/// when it gives none.
fn serve_routes(
    addr: std::net::Ipv4Addr,
    route: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static,
) -> String {
    let listener = TcpListener::bind((addr, 0)).expect("bind a loopback port");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            // The headers, up to the empty line.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or_default();
            let (status, body) = match route(path) {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", b"not found\n".to_vec()),
            };
            let mut s = &stream;
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}:{port}")
}

const BODY: &[u8] = b"tool v1\n";

fn download_yml(url: &str, sum: &str) -> String {
    format!(
        "- hosts: lab\n  state:\n    - directory: /srv/dl\n    - download: /srv/dl/tool\n      url: {url}\n      sha256: \"{sum}\"\n      mode: \"0750\"\n    - command: \"echo ran >> /srv/dl.log\"\n      on_change: [/srv/dl/tool]\n"
    )
}

#[test]
fn download_from_http_and_file_urls() {
    let lab = Lab::start("fetch-dl", 1);
    let base = serve(Lab::base_for("fetch-dl"), BODY);
    let url = format!("{base}/tool");
    let p = Project::new(&lab).file("dl.yml", &download_yml(&url, &sha(BODY)));

    // Fetched once, with its mode; the watching command runs; then no change at all.
    p.play(&["apply", "dl.yml"])
        .code(0)
        .shows("+ create download /srv/dl/tool");
    assert_eq!(lab.sh("h1", "cat /srv/dl/tool"), "tool v1\n");
    assert_eq!(lab.sh("h1", "stat -c %a /srv/dl/tool"), "750\n");
    assert_eq!(lab.sh("h1", "cat /srv/dl.log"), "ran\n");
    p.play(&["diff", "--exit-code", "dl.yml"]).code(0);
    let run = p.play(&["apply", "dl.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    assert_eq!(lab.sh("h1", "cat /srv/dl.log"), "ran\n");

    // A file changed on the host is fetched again.
    lab.sh("h1", "printf 'local\\n' > /srv/dl/tool");
    p.play(&["diff", "--exit-code", "dl.yml"])
        .code(2)
        .shows("sha256");
    p.play(&["apply", "dl.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/dl/tool"), "tool v1\n");

    // A wrong checksum fails the host and leaves the file as it was, without temp files.
    lab.sh("h1", "printf 'local\\n' > /srv/dl/tool");
    let p = p.file("dl.yml", &download_yml(&url, &sha(b"another body")));
    p.play(&["apply", "dl.yml"])
        .code(1)
        .shows(&format!("not {}", sha(b"another body")));
    assert_eq!(lab.sh("h1", "cat /srv/dl/tool"), "local\n");
    assert_eq!(lab.sh("h1", "ls -A /srv/dl"), "tool\n");

    // A file: URL (the host reads it itself).
    lab.sh(
        "h1",
        "mkdir -p /srv/mirror && printf 'mirrored\\n' > /srv/mirror/m.txt",
    );
    let p = p.file(
        "file.yml",
        &format!(
            "- hosts: lab\n  state:\n    - download: /srv/dl/m.txt\n      url: file:///srv/mirror/m.txt\n      sha256: {}\n",
            sha(b"mirrored\n")
        ),
    );
    p.play(&["apply", "file.yml"])
        .code(0)
        .shows("+ create download /srv/dl/m.txt");
    assert_eq!(lab.sh("h1", "cat /srv/dl/m.txt"), "mirrored\n");
    p.play(&["diff", "--exit-code", "file.yml"]).code(0);

    // from: controller: the test's server is reached by the controller only; the bytes travel
    // with the apply script. A wrong checksum fails before anything is sent.
    let ctl = |sum: &str| {
        format!(
            "- hosts: lab\n  state:\n    - download: /srv/dl/ctl\n      url: {url}\n      sha256: {sum}\n      from: controller\n      owner: deploy\n"
        )
    };
    let p = p.file("ctl.yml", &ctl(&sha(b"another body")));
    p.play(&["apply", "ctl.yml"])
        .code(1)
        .shows("fetched on the controller");
    assert_eq!(lab.sh("h1", "ls -A /srv/dl"), "m.txt\ntool\n");
    let p = p.file("ctl.yml", &ctl(&sha(BODY)));
    p.play(&["apply", "ctl.yml"])
        .code(0)
        .shows("+ create download /srv/dl/ctl");
    assert_eq!(lab.sh("h1", "cat /srv/dl/ctl"), "tool v1\n");
    assert_eq!(lab.sh("h1", "stat -c %U /srv/dl/ctl"), "deploy\n");
    p.play(&["diff", "--exit-code", "ctl.yml"]).code(0);

    // Without sha256 (Ansible's get_url without a checksum): fetched while missing only; a
    // changed source is not fetched again, a removed file is.
    let p = p.file(
        "nosum.yml",
        "- hosts: lab\n  state:\n    - download: /srv/dl/n.txt\n      url: file:///srv/mirror/m.txt\n      mode: \"0600\"\n",
    );
    p.play(&["apply", "nosum.yml"])
        .code(0)
        .shows("+ create download /srv/dl/n.txt");
    assert_eq!(
        lab.sh("h1", "cat /srv/dl/n.txt; stat -c %a /srv/dl/n.txt"),
        "mirrored\n600\n"
    );
    lab.sh("h1", "printf 'newer\\n' > /srv/mirror/m.txt");
    p.play(&["diff", "--exit-code", "nosum.yml"]).code(0);
    lab.sh("h1", "rm /srv/dl/n.txt");
    p.play(&["apply", "nosum.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/dl/n.txt"), "newer\n");
    lab.sh("h1", "rm /srv/dl/n.txt");

    // state: absent removes it.
    let p = p.file(
        "gone.yml",
        "- hosts: lab\n  state:\n    - download: /srv/dl/m.txt\n      state: absent\n",
    );
    p.play(&["apply", "gone.yml"])
        .code(0)
        .shows("- delete download /srv/dl/m.txt");
    assert_eq!(lab.sh("h1", "ls -A /srv/dl"), "ctl\ntool\n");
}

/// A signing key made by gpg on the controller, in a throwaway home: `gpg(args, stdin)` runs
/// gpg there and gives its stdout.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Gpg {
        let g = Gpg {
            home: tempfile::tempdir().expect("tempdir"),
        };
        g.run(
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                "play tests <tests@example.invalid>",
                "ed25519",
                "sign",
                "never",
            ],
            b"",
        );
        g
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut child = std::process::Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--quiet"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run gpg");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin).expect("write gpg's stdin");
        drop(input);
        let out = child.wait_with_output().expect("wait gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The key's fingerprint (hexadecimal digits, uppercase).
    fn fingerprint(&self) -> String {
        let out = self.run(
            &["--with-colons", "--fingerprint", "tests@example.invalid"],
            b"",
        );
        String::from_utf8_lossy(&out)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').nth(8))
            .expect("gpg lists a fingerprint")
            .to_string()
    }

    /// The public key, armored or binary.
    fn public(&self, armored: bool) -> Vec<u8> {
        let mut args = vec!["--export", "tests@example.invalid"];
        if armored {
            args.insert(0, "--armor");
        }
        self.run(&args, b"")
    }
}

/// An armored OpenPGP public key made by gpg on the controller (a throwaway home).
fn armored_key() -> Vec<u8> {
    Gpg::new().public(true)
}

fn sources_yml(extra: &str) -> String {
    format!(
        "- hosts: lab\n  state:\n    - apt_source: local\n      uris: file:/srv/repo\n      suites: [\"./\"]\n      trusted: true\n{extra}    - package: hello-play\n      update_cache: true\n    - command: \"echo ran >> /srv/sources.log\"\n      on_change: [local]\n"
    )
}

#[test]
fn apt_source_serves_a_package() {
    let lab = Lab::start("fetch-apt", 1);
    support::apt::publish(&lab, "h1", &[("hello-play", "1.0")]);
    // The repository stays; the source is play's to write.
    lab.sh("h1", "rm -f /etc/apt/sources.list.d/play-test.list");
    let key = armored_key();
    let p = Project::new(&lab).file("src.yml", &sources_yml("      key: local.asc\n"));
    p.write("files/local.asc", &key);

    p.play(&["apply", "src.yml"])
        .code(0)
        .shows("+ create apt_source local")
        .shows("+ create package hello-play");
    assert_eq!(
        support::apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "1.0".into()))
    );
    let text = lab.sh("h1", "cat /etc/apt/sources.list.d/local.sources");
    assert!(
        text.contains("URIs: file:/srv/repo\nSuites: ./\nSigned-By: /etc/apt/keyrings/local.asc\nTrusted: yes\n"),
        "{text}"
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/apt/keyrings/local.asc").as_bytes(),
        &key[..]
    );
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%a %U' /etc/apt/sources.list.d/local.sources /etc/apt/keyrings/local.asc"
        ),
        "644 root\n644 root\n"
    );
    assert_eq!(lab.sh("h1", "cat /srv/sources.log"), "ran\n");
    p.play(&["diff", "--exit-code", "src.yml"]).code(0);
    let run = p.play(&["apply", "src.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // The key dropped: removed, the file rewritten, the watcher runs again.
    let p = p.file("src.yml", &sources_yml(""));
    p.play(&["diff", "--exit-code", "src.yml"])
        .code(2)
        .shows("-Signed-By: /etc/apt/keyrings/local.asc");
    p.play(&["apply", "src.yml"])
        .code(0)
        .shows("- /etc/apt/keyrings/local.asc");
    assert_eq!(lab.sh("h1", "ls -A /etc/apt/keyrings"), "");
    assert_eq!(lab.sh("h1", "cat /srv/sources.log"), "ran\nran\n");
    p.play(&["diff", "--exit-code", "src.yml"]).code(0);
}

#[test]
fn os_codename_is_a_fact() {
    let lab = Lab::start("fetch-fact", 1);
    let want = lab.sh(
        "h1",
        ". /etc/os-release; printf '%s\\n' \"$VERSION_CODENAME\"",
    );
    let p = Project::new(&lab).file(
        "c.yml",
        "- hosts: lab\n  state:\n    - file: /srv/codename\n      content: \"{{ facts.os_codename }}\\n\"\n",
    );
    p.play(&["apply", "c.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/codename"), want);
    assert!(
        !want.trim().is_empty(),
        "this host's os-release has no VERSION_CODENAME"
    );
}

/// Builds pure-Python wheels `(name, version)` by hand (zip files with METADATA, WHEEL and
/// RECORD; each package's `VERSION` is its version) into `/srv/wheels` of `host`.
fn build_wheels(lab: &Lab, host: &str, wheels: &[(&str, &str)]) {
    let list: Vec<String> = wheels
        .iter()
        .map(|(n, v)| format!("(\"{n}\", \"{v}\")"))
        .collect();
    let script = format!(
        r#"mkdir -p /srv/wheels && python3 - <<'PLAYWHEELS'
import base64, hashlib, zipfile
for name, ver in [{}]:
    dist = f"{{name}}-{{ver}}.dist-info"
    files = {{
        f"{{name}}/__init__.py": f"VERSION = '{{ver}}'\n",
        f"{{dist}}/METADATA": f"Metadata-Version: 2.1\nName: {{name}}\nVersion: {{ver}}\n",
        f"{{dist}}/WHEEL": "Wheel-Version: 1.0\nGenerator: play-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }}
    record = []
    for p, c in files.items():
        d = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{{p}},sha256={{d}},{{len(c.encode())}}")
    record.append(f"{{dist}}/RECORD,,")
    files[f"{{dist}}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(f"/srv/wheels/{{name}}-{{ver}}-py3-none-any.whl", "w") as z:
        for p, c in files.items():
            z.writestr(p, c)
PLAYWHEELS
"#,
        list.join(", ")
    );
    lab.sh(host, &script);
}

fn venv_yml(packages: &str, extra: &str) -> String {
    format!(
        "- hosts: lab\n  state:\n    - venv: /srv/venv\n      packages: {packages}\n      pip_args: [--no-index, --find-links, /srv/wheels]\n      user: deploy\n{extra}    - command: \"echo ran >> /srv/venv.log\"\n      on_change: [/srv/venv]\n    - program: venvuser\n      command: /srv/venv/bin/python -c \"import time; time.sleep(100000)\"\n      restart_on: [/srv/venv]\n    - program: bystander\n      command: /bin/sleep 100000\n"
    )
}

#[test]
fn venv_from_a_local_wheel_folder() {
    let lab = Lab::start("fetch-venv", 1);
    build_wheels(
        &lab,
        "h1",
        &[
            ("playtool", "1.0"),
            ("playtool", "1.1"),
            ("play_lib", "2.0"),
        ],
    );
    let version = |m: &str| {
        lab.sh(
            "h1",
            &format!("/srv/venv/bin/python -c 'import {m}; print({m}.VERSION)'"),
        )
    };
    let p = Project::new(&lab).file("v.yml", &venv_yml("[\"playtool==1.0\", play-lib]", ""));
    p.play(&["apply", "v.yml"])
        .code(0)
        .shows("+ create venv /srv/venv");
    assert_eq!(version("playtool"), "1.0\n");
    assert_eq!(version("play_lib"), "2.0\n");
    assert_eq!(
        lab.sh("h1", "stat -c %U /srv/venv /srv/venv/bin/python"),
        "deploy\ndeploy\n"
    );
    assert_eq!(lab.sh("h1", "cat /srv/venv.log"), "ran\n");
    p.play(&["diff", "--exit-code", "v.yml"]).code(0);
    let run = p.play(&["apply", "v.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // A moved pin: only that package; the watchers run and restart, nothing else does.
    let pid = |name: &str| lab.sh("h1", &format!("supervisorctl pid {name}"));
    let (user_pid, other_pid) = (pid("venvuser"), pid("bystander"));
    let p = p.file("v.yml", &venv_yml("[\"playtool==1.1\", play-lib]", ""));
    p.play(&["apply", "v.yml"])
        .code(0)
        .shows("playtool 1.0 → playtool==1.1");
    assert_eq!(version("playtool"), "1.1\n");
    assert_eq!(lab.sh("h1", "cat /srv/venv.log"), "ran\nran\n");
    assert_ne!(
        pid("venvuser"),
        user_pid,
        "the program watching the venv restarts"
    );
    assert_eq!(pid("bystander"), other_pid, "the other program does not");
    p.play(&["diff", "--exit-code", "v.yml"]).code(0);

    // A requirements file: installed, its sha256 recorded; an edit installs again.
    lab.sh("h1", "printf 'playtool==1.0\\n' > /srv/req.txt");
    let p = p.file(
        "v.yml",
        &venv_yml("[play-lib]", "      requirements: /srv/req.txt\n"),
    );
    p.play(&["apply", "v.yml"]).code(0).shows("-r /srv/req.txt");
    assert_eq!(version("playtool"), "1.0\n");
    p.play(&["diff", "--exit-code", "v.yml"]).code(0);
    lab.sh("h1", "printf 'playtool==1.1\\n' > /srv/req.txt");
    p.play(&["diff", "--exit-code", "v.yml"])
        .code(2)
        .shows("-r /srv/req.txt");
    p.play(&["apply", "v.yml"]).code(0);
    assert_eq!(version("playtool"), "1.1\n");
    p.play(&["diff", "--exit-code", "v.yml"]).code(0);

    // The requirements file written earlier in the same run: installed from in that run.
    let written = |pin: &str| {
        format!(
            "- hosts: lab\n  state:\n    - file: /srv/req.txt\n      content: \"playtool=={pin}\\n\"\n    - venv: /srv/venv\n      requirements: /srv/req.txt\n      pip_args: [--no-index, --find-links, /srv/wheels]\n"
        )
    };
    let p = p.file("w.yml", &written("1.0"));
    p.play(&["apply", "w.yml"])
        .code(0)
        .shows("(known after /srv/req.txt)");
    assert_eq!(version("playtool"), "1.0\n");
    p.play(&["diff", "--exit-code", "w.yml"]).code(0);

    // state: absent removes it.
    let p = p.file(
        "gone.yml",
        "- hosts: lab\n  state:\n    - venv: /srv/venv\n      state: absent\n",
    );
    p.play(&["apply", "gone.yml"])
        .code(0)
        .shows("- delete venv /srv/venv");
    assert_eq!(
        lab.sh("h1", "ls /srv/venv 2>/dev/null || echo gone"),
        "gone\n"
    );
}

/// Signs the flat repository of `host` (`support::apt::publish`) with `gpg`'s key: a `Release`
/// listing its `Packages`, clear-signed on the controller as `InRelease`.
fn sign_repository(lab: &Lab, host: &str, gpg: &Gpg) {
    let release = lab.sh(
        host,
        "cd /srv/repo && printf 'Date: %s\\nSHA256:\\n %s %s Packages\\n' \"$(date -Ru)\" \"$(sha256sum Packages | cut -d' ' -f1)\" \"$(stat -c %s Packages)\"",
    );
    write_signed(lab, host, gpg, &release, "/srv/repo/InRelease");
}

/// `release` clear-signed on the controller with `gpg`'s key, written on `host` to `dest` (a
/// shell word, after `/etc/os-release` is read: `$VERSION_CODENAME` may name the suite).
fn write_signed(lab: &Lab, host: &str, gpg: &Gpg, release: &str, dest: &str) {
    let signed = gpg.run(
        &["--clearsign", "--local-user", "tests@example.invalid"],
        release.as_bytes(),
    );
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(signed);
    lab.sh(
        host,
        &format!(". /etc/os-release; echo {b64} | base64 -d > {dest}"),
    );
}

fn keys_yml(key_url: &str) -> String {
    format!(
        "- hosts: lab\n  state:\n    - apt_source: signed\n      uris: file:/srv/repo\n      suites: [\"./\"]\n      key_url: {key_url}\n    - package: hello-play\n      update_cache: true\n    - download: /srv/keys/tool\n      url: file:///srv/keys-src/tool\n    - file: /usr/local/bin/tool-copy\n      copy_of: /srv/keys/tool\n      mode: \"0755\"\n"
    )
}

/// `apt_source:` with `key_url`: the host fetches the key over HTTP (a server on loopback)
/// and apt checks the repository's signature with it (the source is not `trusted`); a `file:`
/// with `copy_of` a file an earlier `download:` of the run fetches is known after it, then
/// follows its source; both converge (a second `diff --exit-code` is 0). A binary key is
/// refused by the step and nothing is written.
#[test]
fn keys_from_urls_and_copies_of_host_files_converge() {
    let lab = Lab::start("keys-url", 1);
    support::apt::publish(&lab, "h1", &[("hello-play", "1.0")]);
    lab.sh("h1", "rm -f /etc/apt/sources.list.d/play-test.list; mkdir -p /srv/keys-src && printf 'tool 1\\n' > /srv/keys-src/tool");
    let gpg = Gpg::new();
    sign_repository(&lab, "h1", &gpg);
    let public = gpg.public(true);
    let base = serve(
        Lab::base_for("keys-url"),
        Box::leak(public.clone().into_boxed_slice()),
    );
    let p = Project::new(&lab).file("k.yml", &keys_yml(&format!("{base}/key.asc")));

    p.play(&["apply", "k.yml"])
        .code(0)
        .shows("+ create apt_source signed")
        .shows("/etc/apt/keyrings/signed.asc from http://")
        .shows("+ create package hello-play")
        .shows("(known after download /srv/keys/tool)");
    assert_eq!(
        support::apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "1.0".into()))
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/apt/keyrings/signed.asc").as_bytes(),
        &public[..]
    );
    assert_eq!(
        lab.sh("h1", "stat -c '%a %U' /etc/apt/keyrings/signed.asc"),
        "644 root\n"
    );
    assert_eq!(lab.sh("h1", "cat /usr/local/bin/tool-copy"), "tool 1\n");
    assert_eq!(lab.sh("h1", "stat -c %a /usr/local/bin/tool-copy"), "755\n");
    p.play(&["diff", "--exit-code", "k.yml"]).code(0);

    // The copied file's source changes on the host: the copy follows it.
    lab.sh("h1", "printf 'tool 2\\n' > /srv/keys/tool");
    p.play(&["diff", "--exit-code", "k.yml"])
        .code(2)
        .shows("~ update file /usr/local/bin/tool-copy (from /srv/keys/tool: sha256");
    p.play(&["apply", "k.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /usr/local/bin/tool-copy"), "tool 2\n");
    p.play(&["diff", "--exit-code", "k.yml"]).code(0);

    // A binary key at the URL: the step fails, the key file is not written.
    let binary = serve(
        Lab::base_for("keys-url"),
        Box::leak(gpg.public(false).into_boxed_slice()),
    );
    let p = p.file(
        "bin.yml",
        &format!("- hosts: lab\n  state:\n    - apt_source: binary\n      uris: file:/srv/repo\n      suites: [\"./\"]\n      key_url: {binary}/key.gpg\n"),
    );
    p.play(&["apply", "bin.yml"])
        .code(1)
        .shows("not an ASCII-armored OpenPGP key");
    assert_eq!(lab.sh("h1", "ls -A /etc/apt/keyrings"), "signed.asc\n");
}

/// A `pip:` playbook of the wheels in /srv/wheels, with a command watching the first name.
fn pip_yml(entries: &str) -> String {
    format!(
        "- hosts: lab\n  state:\n{entries}    - command: \"echo ran >> /srv/pip.log\"\n      on_change: [playpip]\n"
    )
}

#[test]
fn pip_outside_a_venv_from_a_local_wheel_folder() {
    let lab = Lab::start("pip-site", 1);
    build_wheels(
        &lab,
        "h1",
        &[("playpip", "1.0"), ("playpip", "1.1"), ("playuser", "2.0")],
    );
    let import = |user: &str, m: &str| {
        lab.sh(
            "h1",
            &format!("cd / && runuser -u {user} -- /usr/bin/python3 -c 'import {m}; print({m}.VERSION, {m}.__file__)'"),
        )
    };
    let wheels = "      pip_args: [--no-index, --find-links, /srv/wheels]\n";
    // Debian 12's python is externally managed (PEP 668): refused when planned, saying what to do.
    let p = Project::new(&lab).file(
        "p.yml",
        &pip_yml(&format!("    - pip: \"playpip==1.0\"\n{wheels}")),
    );
    p.play(&["diff", "p.yml"])
        .code(1)
        .shows("EXTERNALLY-MANAGED")
        .shows("break_system_packages: true");

    // As root into the system site, and a `--user` install as deploy into ~deploy/.local.
    let both = |pin: &str, state: &str| {
        pip_yml(&format!(
            "    - pip: \"playpip{pin}\"\n{wheels}      break_system_packages: true\n{state}    - pip: [playuser]\n{wheels}      user: deploy\n      break_system_packages: true\n{state}"
        ))
    };
    let p = p.file("p.yml", &both("==1.0", ""));
    p.play(&["apply", "p.yml"])
        .code(0)
        .shows("+ create pip playpip")
        .shows("+ create pip playuser");
    let sys = import("root", "playpip");
    assert!(sys.starts_with("1.0 /usr/local/lib/python3"), "{sys}");
    let user = import("deploy", "playuser");
    assert!(
        user.starts_with("2.0 /home/deploy/.local/lib/python3"),
        "{user}"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c %U /home/deploy/.local/lib/python3*/site-packages/playuser"
        ),
        "deploy\n"
    );
    assert_eq!(lab.sh("h1", "cat /srv/pip.log"), "ran\n");
    p.play(&["diff", "--exit-code", "p.yml"]).code(0);
    let run = p.play(&["apply", "p.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    assert_eq!(
        lab.sh("h1", "cat /srv/pip.log"),
        "ran\n",
        "nothing changed: the watcher did not run"
    );

    // A moved pin: that one only, and what watches it runs.
    let p = p.file("p.yml", &both("==1.1", ""));
    p.play(&["apply", "p.yml"])
        .code(0)
        .shows("playpip 1.0 → playpip==1.1")
        .hides("playuser");
    assert!(import("root", "playpip").starts_with("1.1 "));
    assert_eq!(lab.sh("h1", "cat /srv/pip.log"), "ran\nran\n");
    p.play(&["diff", "--exit-code", "p.yml"]).code(0);

    // What apt installed counts (Debian's pip), and is not pip's to remove.
    let p = p.file("apt.yml", "- hosts: lab\n  state:\n    - pip: pip\n");
    p.play(&["diff", "--exit-code", "apt.yml"]).code(0);
    let p = p.file("apt.yml", "- hosts: lab\n  state:\n    - pip: pip\n      state: absent\n      break_system_packages: true\n");
    p.play(&["diff", "apt.yml"])
        .code(1)
        .shows("installed by apt")
        .shows("package: python3-pip");

    // state: absent removes both.
    let p = p.file("p.yml", &both("", "      state: absent\n"));
    p.play(&["apply", "p.yml"])
        .code(0)
        .shows("- delete pip playpip")
        .shows("- delete pip playuser");
    let gone = |user: &str, m: &str| {
        lab.sh(
            "h1",
            &format!("cd / && runuser -u {user} -- /usr/bin/python3 -c 'import {m}' 2>/dev/null && echo there || echo gone"),
        )
    };
    assert_eq!(gone("root", "playpip"), "gone\n");
    assert_eq!(gone("deploy", "playuser"), "gone\n");
    p.play(&["diff", "--exit-code", "p.yml"]).code(0);
}

/// A PPA's archive on `host` at `file:/srv/ppa/tests/tools/ubuntu`, in Launchpad's layout
/// (`dists/CODENAME/main/binary-ARCH/Packages`, the host's codename and architecture), holding
/// the packages of its `support::apt::publish` repository, its `InRelease` clear-signed on the
/// controller with `gpg`'s key.
fn publish_ppa(lab: &Lab, host: &str, gpg: &Gpg) {
    let release = lab.sh(
        host,
        r#"set -e
. /etc/os-release; c=$VERSION_CODENAME; a=$(dpkg --print-architecture)
r=/srv/ppa/tests/tools/ubuntu p=main/binary-$a/Packages
mkdir -p "$r/dists/$c/main/binary-$a" && cp /srv/repo/*.deb "$r/" && cp /srv/repo/Packages "$r/dists/$c/$p"
cd "$r/dists/$c"
printf 'Origin: tests\nSuite: %s\nCodename: %s\nArchitectures: %s\nComponents: main\nDate: %s\nSHA256:\n %s %s %s\n' "$c" "$c" "$a" "$(date -Ru)" "$(sha256sum "$p" | cut -d' ' -f1)" "$(stat -c %s "$p")" "$p""#,
    );
    let dest = "/srv/ppa/tests/tools/ubuntu/dists/$VERSION_CODENAME/InRelease";
    write_signed(lab, host, gpg, &release, dest);
}

fn ppa_yml(base: &str, names: &[&str]) -> String {
    let mut s = String::from("- hosts: lab\n  state:\n");
    for name in names {
        s.push_str(&format!(
            "    - apt_source: {name}\n      ppa: tests/{name}\n      ppa_uri: file:/srv/ppa\n      ppa_api: {base}/api/1.0/\n      keyserver: {base}/ks\n"
        ));
    }
    s + "    - package: hello-play\n      update_cache: true\n"
}

/// `apt_source:` with `ppa:`: a server on loopback plays Launchpad's API (the PPA's
/// `signing_key_fingerprint`) and the keyserver (the armored key of that fingerprint only);
/// the host fetches both during apply, writes the key and the sources file naming the PPA's
/// archive for its codename, and apt checks the archive's signature with that key (the source
/// is not `trusted`). A second apply changes nothing. A fingerprint the keyserver does not
/// have, or none, fails the step saying so and writes neither file.
#[test]
fn ppa_key_from_launchpad_and_a_keyserver() {
    let lab = Lab::start("fetch-ppa", 1);
    support::apt::publish(&lab, "h1", &[("hello-play", "1.0")]);
    lab.sh("h1", "rm -f /etc/apt/sources.list.d/play-test.list");
    let gpg = Gpg::new();
    publish_ppa(&lab, "h1", &gpg);
    let (fpr, public) = (gpg.fingerprint(), gpg.public(true));
    let codename = lab.sh("h1", ". /etc/os-release; printf %s \"$VERSION_CODENAME\"");
    let key = public.clone();
    let lookup = format!("/ks/pks/lookup?op=get&options=mr&search=0x{fpr}");
    let api = |fpr: &str| {
        format!("{{\"name\": \"x\", \"signing_key_fingerprint\": {fpr}, \"private\": false}}")
    };
    let (ok, wrong, none) = (
        api(&format!("\"{fpr}\"")),
        api(&format!("\"{}\"", &"0123456789ABCDEF".repeat(3)[..40])),
        api("null"),
    );
    let base = serve_routes(Lab::base_for("fetch-ppa"), move |path| match path {
        "/api/1.0/~tests/+archive/tools" => Some(ok.clone().into_bytes()),
        "/api/1.0/~tests/+archive/wrong" => Some(wrong.clone().into_bytes()),
        "/api/1.0/~tests/+archive/none" => Some(none.clone().into_bytes()),
        p if p == lookup => Some(key.clone()),
        _ => None,
    });
    let p = Project::new(&lab).file("ppa.yml", &ppa_yml(&base, &["tools"]));

    p.play(&["apply", "ppa.yml"])
        .code(0)
        .shows("+ create apt_source tools")
        .shows(&format!(
            "/etc/apt/keyrings/tools.asc from {base}/ks (the signing key of ppa:tests/tools)"
        ))
        .shows("+ create package hello-play");
    assert_eq!(
        support::apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "1.0".into()))
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/apt/sources.list.d/tools.sources"),
        format!("# play: apt_source tools\nTypes: deb\nURIs: file:/srv/ppa/tests/tools/ubuntu\nSuites: {codename}\nComponents: main\nSigned-By: /etc/apt/keyrings/tools.asc\n")
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/apt/keyrings/tools.asc").as_bytes(),
        &public[..]
    );
    p.play(&["diff", "--exit-code", "ppa.yml"]).code(0);
    let run = p.play(&["apply", "ppa.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // A fingerprint the keyserver does not have, and none: each step fails, nothing written.
    let listing = "ls -A /etc/apt/keyrings /etc/apt/sources.list.d";
    let before = lab.sh("h1", listing);
    for (name, says) in [
        ("wrong", "no key of fingerprint 0123456789ABCDEF0123"),
        (
            "none",
            "no signing_key_fingerprint (40 or 64 hexadecimal digits) for ppa:tests/none",
        ),
    ] {
        p.write("bad.yml", ppa_yml(&base, &[name]).as_bytes());
        p.play(&["apply", "bad.yml"]).code(1).shows(says);
        assert_eq!(lab.sh("h1", listing), before, "{name}");
    }
}
