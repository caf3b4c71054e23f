//! Secrets on a lab: vault files (group_vars, host_vars, vars_files) decrypted in memory; no
//! secret value in any output of any format, in error messages, or in the hosts' logs, while
//! the files on the hosts have the right content. `play vault encrypt|decrypt|edit`.

mod support;

use std::path::Path;
use std::process::Command;

use support::check::files_under;
use support::lab::Lab;
use support::project::{Project, Run};

const DB_PASSWORD: &str = "Zq7-secret-Wx91";
const API_TOKEN: &str = "tok-5e3a9b1c77";
const SESSION_KEY: &str = "sess-key-31337";
const H2_ONLY: &str = "h2-secret-77aa";
const ROTATED: &str = "Rot8-secret-Yy22";
const ALL_SECRETS: [&str; 5] = [DB_PASSWORD, API_TOKEN, SESSION_KEY, H2_ONLY, ROTATED];

const SITE: &str = r#"
- hosts: lab
  vars_files: [vars/app.vault.yml]
  state:
    - directory: /etc/sec
    - file: /etc/sec/db.ini
      template: db.ini.j2
      mode: "0600"
    - file: /etc/sec/token
      content: "{{ api_token }}\n"
    - file: /etc/sec/session
      content: "key={{ session_key }}\n"
    - file: /etc/sec/public.ini
      content: "user = app\nport = {{ port }}\n"
    - file: /etc/sec/marked
      content: "not a secret, but marked\n"
      sensitive: true
- hosts: h2
  state:
    - file: /etc/sec/h2
      content: "{{ h2_only }}\n"
"#;

/// Every output seen, to grep for secrets at the end.
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn run(&mut self, r: Run) -> Run {
        let what = format!("play {:?}", r.args);
        self.0.push((format!("{what} stdout"), r.stdout.clone()));
        self.0.push((format!("{what} stderr"), r.stderr.clone()));
        r
    }
    fn file(&mut self, p: &Project, rel: &str) -> String {
        let text = std::fs::read_to_string(p.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        self.0.push((rel.to_string(), text.clone()));
        text
    }
    fn assert_no_secret(&self) {
        assert!(
            self.0.len() > 40,
            "too few outputs collected: {}",
            self.0.len()
        );
        for (what, text) in &self.0 {
            for s in ALL_SECRETS {
                assert!(!text.contains(s), "secret {s:?} leaked in {what}:\n{text}");
            }
        }
    }
}

/// `play SUB -i INVENTORY --color never ARGS...` in the project, with the vault passphrase file
/// (or none).
fn play(p: &Project, args: &[&str], pass: Option<&Path>) -> Run {
    let inv = p.inventory();
    let (sub, rest) = args.split_first().expect("a subcommand");
    let mut cmd = Command::new(support::lab::play_bin());
    cmd.arg(sub)
        .arg("-i")
        .arg(&inv)
        .args(["--color", "never"])
        .args(rest)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env_remove("PLAY_VAULT_PASSWORD_FILE")
        .current_dir(p.root());
    if let Some(pass) = pass {
        cmd.env("PLAY_VAULT_PASSWORD_FILE", pass);
    }
    let out = cmd.output().expect("run play");
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `play vault ARGS...` in the project.
fn vault(p: &Project, args: &[&str], pass: &Path, env: &[(&str, &str)]) -> Run {
    let out = Command::new(support::lab::play_bin())
        .arg("vault")
        .args(args)
        .env("PLAY_VAULT_PASSWORD_FILE", pass)
        .envs(env.iter().copied())
        .current_dir(p.root())
        .output()
        .expect("run play vault");
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    let out = lab.exec(host, cmd);
    assert!(
        out.status.success(),
        "{host}: `{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn secrets_stay_out_of_every_output() {
    let lab = Lab::start("secrets-redact", 2);
    let p = Project::new(&lab)
        .var("port", "8000")
        .file("site.yml", SITE)
        .file(
            "templates/db.ini.j2",
            "[db]\nuser = app\npassword = {{ db_password }}\n",
        )
        .file(
            "group_vars/all/db.vault.yml",
            &format!("db_password: {DB_PASSWORD}\napi_token: {API_TOKEN}\n"),
        )
        .file("host_vars/h2.vault.yml", &format!("h2_only: {H2_ONLY}\n"))
        .file(
            "vars/app.vault.yml",
            &format!("session_key: {SESSION_KEY}\n"),
        )
        .file("pass", "correct horse battery staple\n")
        .file("wrong-pass", "not the passphrase\n");
    let pass = p.path("pass");
    let mut seen = Seen::default();

    // --- encrypt the three vault files; the files on disk hold no secret
    for f in [
        "group_vars/all/db.vault.yml",
        "host_vars/h2.vault.yml",
        "vars/app.vault.yml",
    ] {
        seen.run(vault(&p, &["encrypt", f], &pass, &[]))
            .code(0)
            .shows("encrypted");
        let text = seen.file(&p, f);
        assert!(
            text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
            "{text}"
        );
        seen.run(vault(&p, &["encrypt", f], &pass, &[]))
            .code(1)
            .shows("already encrypted");
    }

    // --- no passphrase, wrong passphrase: clear errors, nothing shown
    seen.run(play(&p, &["diff", "site.yml"], None))
        .code(1)
        .shows("needs a passphrase")
        .shows("PLAY_VAULT_PASSWORD_FILE");
    seen.run(play(&p, &["diff", "site.yml"], Some(&p.path("wrong-pass"))))
        .code(1)
        .shows("wrong vault passphrase");

    // --- check: clean, and nothing shown
    seen.run(play(&p, &["check", "site.yml"], Some(&pass)))
        .code(0)
        .shows("0 problem(s)");

    // --- the inventory views show vars, never the secret values
    for args in [
        &["inventory", "--host", "h2"][..],
        &["inventory", "--list", "--format", "json"][..],
    ] {
        seen.run(play(&p, args, Some(&pass)))
            .code(0)
            .shows("[redacted]");
    }

    // --- diff in every format, to stdout and to files
    let text = seen
        .run(play(&p, &["diff", "--exit-code", "site.yml"], Some(&pass)))
        .code(2)
        .shows("+ create file /etc/sec/db.ini")
        .shows("(sensitive content changed)")
        .shows("+port = 8000")
        .stdout;
    // The four files holding secrets (db.ini, token, session; h2 on h2) and the one marked.
    assert_eq!(
        text.matches("(sensitive content changed)").count(),
        9,
        "{text}"
    );
    for format in ["json", "markdown", "junit"] {
        seen.run(play(
            &p,
            &["diff", "site.yml", "--format", format],
            Some(&pass),
        ))
        .code(0);
        let out = format!("plan.{format}");
        seen.run(play(
            &p,
            &["diff", "site.yml", "--format", format, "--output", &out],
            Some(&pass),
        ))
        .code(0);
        seen.file(&p, &out);
    }
    let plan: serde_json::Value = serde_json::from_str(&seen.file(&p, "plan.json")).expect("JSON");
    let h1_changes = plan["hosts"][0]["changes"].as_array().expect("changes");
    let by_key = |k: &str| {
        h1_changes
            .iter()
            .find(|c| c["key"] == k)
            .unwrap_or_else(|| panic!("no {k} in {plan:#}"))
    };
    for k in [
        "/etc/sec/db.ini",
        "/etc/sec/token",
        "/etc/sec/session",
        "/etc/sec/marked",
    ] {
        let c = by_key(k);
        assert_eq!(c["sensitive"], true, "{c:#}");
        assert_eq!(c["diff"], serde_json::Value::Null);
        assert_eq!(c["after"]["sha256"], serde_json::Value::Null);
    }
    assert_eq!(by_key("/etc/sec/public.ini")["sensitive"], false);
    assert!(by_key("/etc/sec/public.ini")["diff"]
        .as_str()
        .is_some_and(|d| d.contains("+port = 8000")));

    // --- apply (JSON report to a file, text on stdout): the hosts get the real values
    seen.run(play(
        &p,
        &[
            "apply",
            "site.yml",
            "--format",
            "json",
            "--output",
            "apply.json",
        ],
        Some(&pass),
    ))
    .code(0);
    seen.file(&p, "apply.json");
    for h in ["h1", "h2"] {
        assert_eq!(
            sh(&lab, h, "cat /etc/sec/db.ini"),
            format!("[db]\nuser = app\npassword = {DB_PASSWORD}\n")
        );
        assert_eq!(sh(&lab, h, "stat -c %a /etc/sec/db.ini"), "600\n");
        assert_eq!(sh(&lab, h, "cat /etc/sec/token"), format!("{API_TOKEN}\n"));
        assert_eq!(
            sh(&lab, h, "cat /etc/sec/session"),
            format!("key={SESSION_KEY}\n")
        );
    }
    assert_eq!(sh(&lab, "h2", "cat /etc/sec/h2"), format!("{H2_ONLY}\n"));
    seen.run(play(&p, &["diff", "--exit-code", "site.yml"], Some(&pass)))
        .code(0);

    // --- rotate the password with `play vault edit`: an update, still without its values
    let editor = format!("sed -i s/{DB_PASSWORD}/{ROTATED}/");
    seen.run(vault(
        &p,
        &["edit", "group_vars/all/db.vault.yml"],
        &pass,
        &[("EDITOR", editor.as_str()), ("VISUAL", "")],
    ))
    .code(0)
    .shows("saved, encrypted");
    seen.file(&p, "group_vars/all/db.vault.yml");
    let text = seen
        .run(play(&p, &["diff", "--exit-code", "site.yml"], Some(&pass)))
        .code(2)
        .shows("~ update file /etc/sec/db.ini")
        .stdout;
    assert_eq!(text.matches("update file").count(), 2, "{text}");
    for format in ["json", "markdown", "junit"] {
        let out = format!("rotate.{format}");
        seen.run(play(
            &p,
            &["diff", "site.yml", "--format", format, "-o", &out],
            Some(&pass),
        ))
        .code(0);
        seen.file(&p, &out);
    }
    seen.run(play(
        &p,
        &[
            "apply",
            "site.yml",
            "--format",
            "markdown",
            "-o",
            "rotate-apply.md",
        ],
        Some(&pass),
    ))
    .code(0);
    let md = seen.file(&p, "rotate-apply.md");
    assert!(md.contains("(sensitive content changed)"), "{md}");
    seen.run(play(
        &p,
        &["apply", "site.yml", "--format", "junit"],
        Some(&pass),
    ))
    .code(0);
    assert_eq!(
        sh(&lab, "h1", "cat /etc/sec/db.ini"),
        format!("[db]\nuser = app\npassword = {ROTATED}\n")
    );

    // --- a secret in an error message is masked (exit 1 before any host is contacted)
    let bad = p.file(
        "bad.yml",
        "- hosts: lab\n  state:\n    - file: /etc/sec/x\n      mode: \"{{ api_token }}\"\n",
    );
    seen.run(play(&bad, &["apply", "bad.yml"], Some(&pass)))
        .code(1)
        .shows("invalid mode `[redacted]`");
    seen.run(play(&bad, &["check", "bad.yml"], Some(&pass)))
        .code(1)
        .shows("invalid mode `[redacted]`");
    seen.run(play(
        &bad,
        &["diff", "bad.yml", "--format", "json"],
        Some(&pass),
    ))
    .code(1)
    .shows("[redacted]");

    // --- decrypt / encrypt round trip
    seen.run(vault(&bad, &["decrypt", "vars/app.vault.yml"], &pass, &[]))
        .code(0);
    assert_eq!(
        std::fs::read_to_string(bad.path("vars/app.vault.yml")).expect("read"),
        format!("session_key: {SESSION_KEY}\n")
    );
    seen.run(vault(&bad, &["encrypt", "vars/app.vault.yml"], &pass, &[]))
        .code(0);
    seen.file(&bad, "vars/app.vault.yml");
    // Invalid YAML inside a vault file: the position, never the text.
    std::fs::write(bad.path("broken.vault.yml"), format!("a: [{API_TOKEN}\n")).expect("write");
    seen.run(vault(&bad, &["encrypt", "broken.vault.yml"], &pass, &[]))
        .code(1)
        .shows("invalid YAML");

    // --- every output and file written by play, without a single secret
    seen.assert_no_secret();

    // --- nor in the hosts' logs: files under /var/log and play's state on each host, and the
    // hosts' console logs kept by the lab
    for h in ["h1", "h2"] {
        for s in ALL_SECRETS {
            let out = lab.exec(
                h,
                &format!("grep -r -l -F -e '{s}' /var/log /var/lib/play /run/supervisor* 2>/dev/null; true"),
            );
            let found = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(found.trim().is_empty(), "{h}: secret {s:?} in {found}");
        }
    }
    let mut lab_files = Vec::new();
    files_under(&lab.dir.join("hosts"), &mut lab_files);
    assert!(
        !lab_files.is_empty(),
        "no lab host files under {}",
        lab.dir.display()
    );
    for (path, text) in &lab_files {
        for s in ALL_SECRETS {
            assert!(!text.contains(s), "secret {s:?} in {path}");
        }
    }
}
