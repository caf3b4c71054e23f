//! Reports of `play diff` / `play apply` on real lab hosts: exit codes of `diff --exit-code`,
//! the JSON report against its schema, Markdown as text, JUnit parsed with a real XML parser,
//! and the CI examples of docs/ci.md run as written.

mod support;

use std::path::Path;
use std::process::Command;

use quick_xml::events::Event;
use support::check::{host, json};
use support::lab::Lab;
use support::project::{Project, Run};

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    let out = lab.exec(host, cmd);
    assert!(
        out.status.success(),
        "{host}: `{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Validates a report against docs/report.schema.json (itself checked against its meta-schema).
fn assert_schema_valid(report: &serde_json::Value) {
    support::check::assert_schema_valid("report.schema.json", report);
}

fn change<'a>(h: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    h["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no change of {key} in {h:#}"))
}

/// What a JUnit file holds, read with quick-xml.
#[derive(Debug, Default)]
struct Junit {
    /// (tests, failures) attributes of `<testsuites>` and of `<testsuite>`.
    suites_attrs: Vec<(usize, usize)>,
    /// (classname, name, failure type) per test case.
    cases: Vec<(String, String, Option<String>)>,
}

fn attr(e: &quick_xml::events::BytesStart, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.as_ref() == name).then(|| {
            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .map(|v| v.into_owned())
                .expect("attribute value")
        })
    })
}

fn parse_junit(xml: &str) -> Junit {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut j = Junit::default();
    loop {
        let ev = reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid XML at {}: {e}\n{xml}", reader.buffer_position()));
        match ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "testsuites" | "testsuite" => {
                    let n = |k: &str| -> usize {
                        attr(&e, k)
                            .unwrap_or_else(|| panic!("no {k} attribute"))
                            .parse()
                            .expect("a number")
                    };
                    j.suites_attrs.push((n("tests"), n("failures")));
                }
                "testcase" => j.cases.push((
                    attr(&e, "classname").expect("classname"),
                    attr(&e, "name").expect("name"),
                    None,
                )),
                "failure" => {
                    let last = j.cases.last_mut().expect("failure inside a testcase");
                    last.2 = Some(attr(&e, "type").expect("failure type"));
                }
                _ => {}
            },
            _ => {}
        }
    }
    j
}

impl Junit {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.2.is_some()).count()
    }
    fn assert_counts_match(&self, xml: &str) {
        assert_eq!(
            self.suites_attrs.len(),
            2,
            "testsuites + one testsuite:\n{xml}"
        );
        for (tests, failures) in &self.suites_attrs {
            assert_eq!(*tests, self.cases.len(), "tests attribute:\n{xml}");
            assert_eq!(*failures, self.failures(), "failures attribute:\n{xml}");
        }
    }
    fn failure_of(&self, name: &str) -> Option<&str> {
        self.cases
            .iter()
            .find(|c| c.1 == name)
            .unwrap_or_else(|| panic!("no testcase {name} in {:?}", self.cases))
            .2
            .as_deref()
    }
}

const SITE: &str = r#"
- hosts: lab
  state:
    - directory: /etc/rep
    - file: /etc/rep/app.ini
      template: app.ini.j2
    - file: /etc/rep/old.ini
      state: absent
    - file: /etc/rep/motd
      content: "hello\nworld\n"
      mode: "0644"
    - file: /etc/rep/key.pem
      content: "PRIVATE KEY MATERIAL\n"
      sensitive: true
"#;

fn project(lab: &Lab) -> Project {
    Project::new(lab)
        .var("port", "8000")
        .file("site.yml", SITE)
        .file(
            "templates/app.ini.j2",
            "port = {{ port }}\nhost = {{ inventory_hostname }}\n",
        )
}

/// The schema check the report tests rely on rejects what breaks a schema (a missing required
/// key, a wrong type) and a schema that is not one, and accepts a document that matches.
#[test]
fn the_schema_check_rejects_what_breaks_the_schema() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let report = docs.join("report.schema.json");
    let empty = serde_json::json!({});
    match support::check::schema_errors(&report, &empty) {
        Err((1, text)) => assert!(text.contains("required"), "{text}"),
        other => panic!("an empty report passed or failed oddly: {other:?}"),
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.schema.json");
    std::fs::write(
        &bad,
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 12}"#,
    )
    .expect("write");
    assert!(matches!(
        support::check::schema_errors(&bad, &empty),
        Err((3, _))
    ));
    let small = dir.path().join("small.schema.json");
    std::fs::write(
        &small,
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["n"], "properties": {"n": {"type": "integer"}}}"#,
    )
    .expect("write");
    assert_eq!(
        support::check::schema_errors(&small, &serde_json::json!({"n": 1})),
        Ok(())
    );
    match support::check::schema_errors(&small, &serde_json::json!({"n": "one"})) {
        Err((1, text)) => assert!(text.contains("/n"), "{text}"),
        other => panic!("a string for an integer passed: {other:?}"),
    }
}

#[test]
fn formats_on_a_lab() {
    let lab = Lab::start("reports-formats", 3);
    let p = project(&lab);
    // h1 has the folder, an old file to delete and a motd to update.
    sh(
        &lab,
        "h1",
        "mkdir -p /etc/rep && echo old > /etc/rep/old.ini && printf 'hello\\nthere\\n' > /etc/rep/motd && chmod 0600 /etc/rep/motd",
    );

    // --- JSON to a file, the human text still on stdout
    let run = p
        .play(&[
            "diff",
            "site.yml",
            "--format",
            "json",
            "--output",
            "plan.json",
        ])
        .code(0)
        .shows("~ update file /etc/rep/motd")
        .shows("-there")
        .shows("(sensitive content changed)")
        .hides("PRIVATE KEY MATERIAL");
    assert!(!run.stdout.contains("schema_version"), "{}", run.stdout);
    let plan = json(&read(&p.path("plan.json")));
    assert_schema_valid(&plan);
    assert_eq!(plan["command"], "diff");
    assert_eq!(plan["success"], true);
    let t = &plan["totals"];
    assert_eq!(
        (&t["hosts"], &t["changed"], &t["ok"]),
        (&3.into(), &3.into(), &0.into()),
        "{plan:#}"
    );
    // h1: app.ini + key.pem created, motd updated, old.ini deleted; h2, h3: 4 created each.
    assert_eq!(
        (&t["created"], &t["updated"], &t["deleted"], &t["changes"]),
        (&10.into(), &1.into(), &1.into(), &12.into()),
        "{plan:#}"
    );
    let h1 = host(&plan, "h1");
    assert_eq!(h1["status"], "changed");
    let motd = change(h1, "/etc/rep/motd");
    assert_eq!(motd["action"], "update");
    assert_eq!(motd["details"][0], "mode 0600 → 0644");
    assert_eq!(motd["before"]["size"], 12);
    let diff = motd["diff"].as_str().expect("a diff");
    assert!(
        diff.contains("-there\n") && diff.contains("+world\n"),
        "{diff}"
    );
    let key = change(h1, "/etc/rep/key.pem");
    assert_eq!(
        (&key["sensitive"], &key["diff"], &key["after"]["sha256"]),
        (
            &true.into(),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        )
    );
    let app = change(host(&plan, "h2"), "/etc/rep/app.ini");
    assert_eq!(app["before"], serde_json::Value::Null);
    assert_eq!(app["after"]["size"], "port = 8000\nhost = h2\n".len());
    assert!(app["diff"].as_str().expect("diff").contains("+host = h2\n"));
    assert_eq!(
        change(h1, "/etc/rep/old.ini")["after"],
        serde_json::Value::Null
    );
    assert_eq!(
        sh(&lab, "h1", "cat /etc/rep/old.ini"),
        "old\n",
        "diff touches nothing"
    );

    // --- JSON on stdout (no --output): the document alone on stdout, the text on stderr
    let run = p.play(&["diff", "site.yml", "--format", "json"]).code(0);
    let doc = json(&run.stdout);
    assert_eq!(doc["totals"], plan["totals"]);
    assert!(run.stderr.contains("~ update file /etc/rep/motd"));

    // --- Markdown, checked as text
    let md = p
        .play(&["diff", "site.yml", "--format", "markdown"])
        .code(0)
        .stdout;
    assert!(md.starts_with("### play diff: `site.yml`\n"), "{md}");
    assert!(
        md.contains("| host | status | created | updated | deleted | restarts |\n|---|---|--:|--:|--:|--:|\n"),
        "{md}"
    );
    assert!(
        md.contains("| h1 | changes pending | 2 | 1 | 1 | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("| h2 | changes pending | 4 | 0 | 0 | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("| **total: 3 host(s)** | 0 failed, 0 unreachable | 10 | 1 | 1 | 0 |"),
        "{md}"
    );
    assert_eq!(md.matches("<details><summary><code>").count(), 3, "{md}");
    assert_eq!(md.matches("</details>").count(), 3, "{md}");
    assert!(
        md.contains("<details><summary><code>h1</code>: 4 change(s)</summary>"),
        "{md}"
    );
    assert!(
        md.contains("```diff\n--- /etc/rep/motd\n+++ /etc/rep/motd\n"),
        "{md}"
    );
    assert!(
        md.contains("- `+` create file `/etc/rep/key.pem` — (sensitive content changed)"),
        "{md}"
    );
    assert!(!md.contains("PRIVATE KEY MATERIAL"), "{md}");

    // --- JUnit: counts match; --changes-fail makes every host with changes a failure
    p.play(&["diff", "site.yml", "--format", "junit", "-o", "plan.xml"])
        .code(0);
    let xml = read(&p.path("plan.xml"));
    let j = parse_junit(&xml);
    j.assert_counts_match(&xml);
    assert_eq!((j.cases.len(), j.failures()), (3, 0), "{xml}");
    p.play(&[
        "diff",
        "site.yml",
        "--format",
        "junit",
        "-o",
        "drift.xml",
        "--changes-fail",
    ])
    .code(0);
    let xml = read(&p.path("drift.xml"));
    let j = parse_junit(&xml);
    j.assert_counts_match(&xml);
    assert_eq!((j.cases.len(), j.failures()), (3, 3), "{xml}");
    assert_eq!(j.failure_of("h2"), Some("changes"));

    // --- text to a file: the same report, without colors
    p.play(&["diff", "site.yml", "--output", "plan.txt"])
        .code(0);
    let txt = read(&p.path("plan.txt"));
    assert!(
        txt.contains("~ update file /etc/rep/motd") && !txt.contains('\x1b'),
        "{txt}"
    );

    // --- apply: h2's folder is read-only (a failed resource), h3 unreachable
    sh(
        &lab,
        "h2",
        "mkdir -p /etc/rep && mount -t tmpfs -o ro tmpfs /etc/rep",
    );
    sh(&lab, "h3", "pkill -x sshd; true");
    let run = p
        .play(&[
            "apply",
            "site.yml",
            "--format",
            "junit",
            "--output",
            "apply.xml",
        ])
        .code(1)
        .shows("UNREACHABLE")
        .shows("FAILED");
    let xml = read(&p.path("apply.xml"));
    let j = parse_junit(&xml);
    j.assert_counts_match(&xml);
    // 3 hosts + h2's failed resource; failures: h2, its resource, h3.
    assert_eq!(
        (j.cases.len(), j.failures()),
        (4, 3),
        "{xml}\n{}",
        run.stdout
    );
    assert_eq!(j.failure_of("h1"), None);
    assert_eq!(j.failure_of("h2"), Some("failed"));
    assert_eq!(j.failure_of("h3"), Some("unreachable"));
    let resource = j
        .cases
        .iter()
        .find(|c| c.0 == "play.apply.h2")
        .unwrap_or_else(|| panic!("no failed resource of h2:\n{xml}"));
    assert_eq!(resource.1, "file /etc/rep/app.ini");
    assert_eq!(resource.2.as_deref(), Some("failed"));
    assert_eq!(sh(&lab, "h1", "cat /etc/rep/motd"), "hello\nworld\n");

    // --- JSON of apply and of the diff after it: statuses and errors
    let run = p.play(&["apply", "site.yml", "--format", "json"]).code(1);
    let applied = json(&run.stdout);
    assert_schema_valid(&applied);
    assert_eq!(applied["success"], false);
    assert_eq!(host(&applied, "h1")["status"], "ok", "converged already");
    assert_eq!(host(&applied, "h2")["status"], "failed");
    let h2_changes = host(&applied, "h2")["changes"].as_array().expect("changes");
    assert!(
        h2_changes.iter().all(|c| c["applied"] == false),
        "{applied:#}"
    );
    let h3 = host(&applied, "h3");
    assert_eq!(h3["status"], "unreachable");
    assert!(h3["error"].as_str().is_some_and(|e| !e.is_empty()));
    let t = &applied["totals"];
    assert_eq!(
        (&t["ok"], &t["failed"], &t["unreachable"], &t["created"]),
        (&1.into(), &1.into(), &1.into(), &0.into()),
        "{applied:#}"
    );
}

#[test]
fn diff_exit_codes_on_a_lab() {
    let lab = Lab::start("reports-exit", 2);
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /etc/exit-code\n      content: \"v1\\n\"\n",
    );
    // change pending → 2, for every format
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("+ create file /etc/exit-code");
    for format in ["json", "markdown", "junit"] {
        p.play(&["diff", "--exit-code", "--format", format, "site.yml"])
            .code(2);
    }
    // without --exit-code, changes are not an error
    p.play(&["diff", "site.yml"]).code(0);
    // no change → 0
    p.play(&["apply", "site.yml"]).code(0);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    p.play(&["diff", "--exit-code", "--format", "json", "site.yml"])
        .code(0);
    // input errors → 1, nothing contacted or changed
    let bad = p.file(
        "bad.yml",
        "- hosts: lab\n  state:\n    - file: /etc/exit-code\n      contnt: x\n",
    );
    bad.play(&["diff", "--exit-code", "bad.yml"])
        .code(1)
        .shows("unknown key `contnt`, did you mean `content`?");
    let bad = bad.file(
        "undefined.yml",
        "- hosts: lab\n  state:\n    - file: /etc/exit-code\n      content: \"{{ nope }}\"\n",
    );
    bad.play(&["diff", "--exit-code", "--format", "json", "undefined.yml"])
        .code(1)
        .shows("undefined variable `nope`");
    bad.play(&["diff", "--exit-code", "missing.yml"]).code(1);
    assert_eq!(sh(&lab, "h1", "cat /etc/exit-code"), "v1\n");
    // an unreachable host → 1, with or without changes pending elsewhere
    sh(&lab, "h2", "pkill -x sshd; true");
    bad.play(&["diff", "--exit-code", "site.yml"])
        .code(1)
        .shows("UNREACHABLE");
    let changed = bad.file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /etc/exit-code\n      content: \"v2\\n\"\n",
    );
    let run = changed
        .play(&["diff", "--exit-code", "--format", "junit", "site.yml"])
        .code(1);
    let j = parse_junit(&run.stdout);
    j.assert_counts_match(&run.stdout);
    assert_eq!(j.failure_of("h1"), None, "h1 has a pending change only");
    assert_eq!(j.failure_of("h2"), Some("unreachable"));
}

/// The `play ...` lines of the GitLab job (stage order) and of the Jenkinsfile, which must be
/// the same.
fn ci_commands(doc: &str) -> Vec<String> {
    let block = |lang: &str| -> String {
        let start = doc
            .find(&format!("```{lang}\n"))
            .unwrap_or_else(|| panic!("no ```{lang} block in docs/ci.md"))
            + lang.len()
            + 4;
        let len = doc[start..].find("```").expect("end of block");
        doc[start..start + len].to_string()
    };
    let gitlab: serde_yaml::Value =
        serde_yaml::from_str(&block("yaml")).expect("the GitLab example is valid YAML");
    let stages: Vec<String> = gitlab["stages"]
        .as_sequence()
        .expect("stages")
        .iter()
        .map(|s| s.as_str().expect("stage").to_string())
        .collect();
    let mut from_gitlab = Vec::new();
    for stage in &stages {
        let mapping = gitlab.as_mapping().expect("mapping");
        for (_, job) in mapping.iter() {
            if job.get("stage").and_then(|s| s.as_str()) != Some(stage) {
                continue;
            }
            for line in job["script"].as_sequence().expect("script") {
                let line = line.as_str().expect("script line");
                if line.starts_with("play ") {
                    from_gitlab.push(line.to_string());
                }
            }
        }
    }
    let from_jenkins: Vec<String> = block("groovy")
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("sh '")
                .and_then(|rest| rest.strip_suffix('\''))
        })
        .filter(|c| c.starts_with("play "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        from_gitlab, from_jenkins,
        "docs/ci.md: the GitLab job and the Jenkinsfile must run the same commands"
    );
    assert_eq!(
        from_gitlab.len(),
        4,
        "check, diff, apply, drift: {from_gitlab:?}"
    );
    from_gitlab
}

fn run_ci_line(p: &Project, bin_dir: &Path, line: &str, pass_file: &Path) -> Run {
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-e", "-c", line])
        .env("PATH", path)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env("PLAY_VAULT_PASSWORD_FILE", pass_file)
        .current_dir(p.root())
        .output()
        .expect("run sh");
    Run {
        args: vec![line.to_string()],
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn ci_examples_run_against_a_lab() {
    let doc = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md"));
    let commands = ci_commands(&doc);
    let lab = Lab::start("reports-ci", 2);
    let p = Project::new(&lab)
        .file(
            "playbooks/site.yml",
            "- hosts: lab\n  roles: [app]\n  state:\n    - file: /etc/ci/db.ini\n      template: db.ini.j2\n      mode: \"0600\"\n",
        )
        .file(
            "roles/app/state.yml",
            "- directory: /etc/ci\n- file: /etc/ci/app.ini\n  content: \"env = {{ env_name }}\\n\"\n",
        )
        .file(
            "playbooks/templates/db.ini.j2",
            "user = app\npassword = {{ db_password }}\n",
        )
        .file("inventories/staging/group_vars/all/env.yml", "env_name: staging\n")
        .file(
            "inventories/staging/group_vars/all/db.vault.yml",
            "db_password: ci-secret-9f2e71\n",
        );
    // The inventory the CI uses: the lab's, as inventories/staging/hosts.yml.
    std::fs::copy(p.inventory(), p.path("inventories/staging/hosts.yml")).expect("copy");
    std::fs::write(p.path("vault-pass"), "ci passphrase\n").expect("write");
    let bin = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(support::lab::play_bin(), bin.path().join("play")).expect("link");
    let pass = p.path("vault-pass");
    run_ci_line(
        &p,
        bin.path(),
        "play vault encrypt inventories/staging/group_vars/all/db.vault.yml",
        &pass,
    )
    .code(0);

    // A merge request: check, then the plan (changes pending must not fail the job).
    let check = run_ci_line(&p, bin.path(), &commands[0], &pass)
        .code(0)
        .shows("0 problem(s)");
    assert!(check.stdout.contains("2 host(s)"), "{}", check.stdout);
    run_ci_line(&p, bin.path(), &commands[1], &pass).code(0);
    let plan = read(&p.path("plan.md"));
    assert!(
        plan.contains("| h1 | changes pending | 3 | 0 | 0 | 0 |"),
        "{plan}"
    );
    assert!(plan.contains("+env = staging"), "{plan}");
    assert!(!plan.contains("ci-secret-9f2e71"), "{plan}");
    assert!(plan.contains("(sensitive content changed)"), "{plan}");
    let plan_file = read(&p.path("plan.json"));
    assert!(!plan_file.contains("ci-secret-9f2e71"), "{plan_file}");
    // Merged: the reviewed plan applied, with its JUnit report.
    run_ci_line(&p, bin.path(), &commands[2], &pass)
        .code(0)
        .shows("applying plan plan-");
    let xml = read(&p.path("apply.xml"));
    let j = parse_junit(&xml);
    j.assert_counts_match(&xml);
    assert_eq!((j.cases.len(), j.failures()), (2, 0), "{xml}");
    for h in ["h1", "h2"] {
        assert_eq!(
            sh(&lab, h, "cat /etc/ci/db.ini /etc/ci/app.ini"),
            "user = app\npassword = ci-secret-9f2e71\nenv = staging\n"
        );
    }
    // The next merge request's plan: nothing to do.
    run_ci_line(&p, bin.path(), &commands[1], &pass).code(0);
    let plan = read(&p.path("plan.md"));
    assert!(plan.contains("No changes"), "{plan}");
    // The scheduled drift check: none, then a file changed by hand fails the job.
    run_ci_line(&p, bin.path(), &commands[3], &pass).code(0);
    sh(&lab, "h2", "echo drifted > /etc/ci/app.ini");
    run_ci_line(&p, bin.path(), &commands[3], &pass).code(2);
    let drift = parse_junit(&read(&p.path("drift.xml")));
    assert_eq!((drift.cases.len(), drift.failures()), (2, 1));
    // A broken change fails the check job, with the place of each problem.
    let p = p.file(
        "playbooks/site.yml",
        "- hosts: lab\n  roles: [app]\n  state:\n    - file: /etc/ci/db.ini\n      templat: db.ini.j2\n",
    );
    run_ci_line(&p, bin.path(), &commands[0], &pass)
        .code(1)
        .shows("playbooks/site.yml:5:7: unknown key `templat`, did you mean `template`?");
}

fn sha12(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))[..12].to_string()
}

/// Issue 13: a 100 MB single-line file printed 125 MB of report. Every format prints a bounded
/// amount per change: a summary (sizes, sha256) for huge content of long lines, a diff capped
/// in lines and bytes otherwise.
#[test]
fn huge_contents_print_bounded_reports_on_a_lab() {
    let lab = Lab::start("reports-huge", 1);
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab
  state:
    - file: /etc/huge/one-line
      src: one-line
    - file: /etc/huge/many-lines
      src: many-lines
",
    );
    sh(
        &lab,
        "h1",
        "mkdir -p /etc/huge && echo small > /etc/huge/one-line",
    );
    let one_line = vec![b'x'; 100_000_000];
    p.write("files/one-line", &one_line);
    let many: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
    p.write("files/many-lines", many.as_bytes());
    let summary = format!(
        "(binary or large content: 6 → 100000000 bytes, sha256 {} → {})",
        sha12(b"small\n"),
        sha12(&one_line)
    );
    let bounded = |run: &Run| {
        assert!(
            run.stdout.len() + run.stderr.len() < 100_000,
            "play {:?}: {} + {} bytes of report",
            run.args,
            run.stdout.len(),
            run.stderr.len()
        );
    };

    let run = p
        .play(&["diff", "site.yml"])
        .code(0)
        .shows("~ update file /etc/huge/one-line")
        .shows(&summary)
        .shows("+ create file /etc/huge/many-lines")
        .shows("+line 0\n")
        .shows(" more lines, ")
        .hides("+line 99999");
    bounded(&run);

    let run = p
        .play(&["diff", "site.yml", "--format", "markdown"])
        .code(0)
        .shows(&summary)
        .shows(" more lines, ");
    bounded(&run);
    let run = p.play(&["diff", "site.yml", "--format", "junit"]).code(0);
    bounded(&run);
    parse_junit(&run.stdout).assert_counts_match(&run.stdout);

    let run = p.play(&["diff", "site.yml", "--format", "json"]).code(0);
    bounded(&run);
    let report = json(&run.stdout);
    assert_schema_valid(&report);
    let h1 = host(&report, "h1");
    let one = change(h1, "/etc/huge/one-line");
    assert_eq!(one["diff"], serde_json::Value::Null, "{one:#}");
    assert_eq!(one["after"]["size"], 100_000_000, "{one:#}");
    let diff = change(h1, "/etc/huge/many-lines")["diff"]
        .as_str()
        .expect("a capped diff")
        .to_string();
    assert!(
        diff.starts_with("--- /dev/null\n+++ /etc/huge/many-lines\n"),
        "{diff}"
    );
    assert!(diff.lines().count() <= 301, "{diff}");
    assert!(
        diff.lines()
            .last()
            .is_some_and(|l| l.contains(" more lines, ")),
        "{diff}"
    );
}
