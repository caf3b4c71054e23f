//! Reviewed plans on a lab: `play diff --out` then `play apply --plan` applies exactly the plan;
//! a host changed by hand in between is refused as stale (named, with the resource), the
//! others applied; changed sources are refused unless `--allow-source-change`; the run history
//! (`play log`, `play show`); no plan file or run record holds a secret in clear.

mod support;

use std::process::Command;

use support::check::{assert_schema_valid, files_under, host, json};
use support::lab::Lab;
use support::project::{Project, Run};

const DB_PASSWORD: &str = "Plan-vault-S3cr3t-91";
const MARKED: &str = "marked-plan-value-55";

const SITE: &str = r#"
- hosts: lab
  vars_files: [vars/app.vault.yml]
  state:
    - directory: /etc/plan
    - file: /etc/plan/motd
      content: "hello from play\n"
    - file: /etc/plan/db.ini
      content: "password = {{ db_password }}\n"
      mode: "0600"
    - file: /etc/plan/marked
      content: "marked-plan-value-55\n"
      sensitive: true
"#;

/// `play SUB -i INVENTORY --color never ARGS...` in the project, with the vault passphrase.
fn play(p: &Project, args: &[&str]) -> Run {
    p.play_env(args, &[("PLAY_VAULT_PASSWORD_FILE", &p.path("pass"))])
}

/// `play ARGS...` without inventory options (log, show, vault), in the project.
fn play_plain(p: &Project, args: &[&str]) -> Run {
    let out = Command::new(support::lab::play_bin())
        .args(args)
        .env("PLAY_VAULT_PASSWORD_FILE", p.path("pass"))
        .current_dir(p.root())
        .output()
        .expect("run play");
    Run::from(args, out)
}

/// `play show RUN --format json`, parsed, checked against docs/run.schema.json.
fn show_json(p: &Project, run: &str) -> serde_json::Value {
    let rec = json(
        &play_plain(p, &["show", run, "--format", "json"])
            .code(0)
            .stdout,
    );
    assert_schema_valid("run.schema.json", &rec);
    rec
}

/// (kind, key) of each change of a host of a report or plan.
fn changes_of(doc: &serde_json::Value, name: &str) -> Vec<(String, String)> {
    host(doc, name)["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (c["kind"].to_string(), c["key"].to_string()))
        .collect()
}

#[test]
fn plan_files_are_applied_exactly_and_stale_hosts_refused() {
    let lab = Lab::start("plan-exact", 3);
    let p = Project::new(&lab)
        .file("site.yml", SITE)
        .file("other.yml", "- hosts: lab\n  state: []\n")
        .file(
            "vars/app.vault.yml",
            &format!("db_password: {DB_PASSWORD}\n"),
        )
        .file("pass", "plan test passphrase\n");
    play_plain(&p, &["vault", "encrypt", "vars/app.vault.yml"]).code(0);
    for h in ["h1", "h2", "h3"] {
        lab.sh(h, "mkdir -p /etc/plan && printf 'old\\n' > /etc/plan/motd");
    }

    // --- diff --out: a plan file (0600, valid, no secret) and a Markdown report
    let diff = play(
        &p,
        &[
            "diff",
            "site.yml",
            "--out",
            "plan.json",
            "--format",
            "markdown",
            "--output",
            "plan.md",
        ],
    )
    .code(0)
    .shows("written to plan.json");
    let plan_text = std::fs::read_to_string(p.path("plan.json")).expect("plan file");
    let mode = std::fs::metadata(p.path("plan.json"))
        .expect("stat")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let plan = json(&plan_text);
    assert_schema_valid("plan.schema.json", &plan);
    let plan_id = plan["id"].as_str().expect("id").to_string();
    assert!(diff.stdout.contains(&plan_id), "{}", diff.stdout);
    let h1 = host(&plan, "h1");
    let keys: Vec<&str> = h1["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        ["/etc/plan/motd", "/etc/plan/db.ini", "/etc/plan/marked"]
    );
    let motd = &h1["changes"][0];
    assert_eq!(motd["content"]["text"], "hello from play\n");
    assert!(motd["depends"]["path /etc/plan/motd"]
        .as_str()
        .expect("fingerprint")
        .starts_with("file size=4 sha256="));
    for c in &h1["changes"].as_array().expect("changes")[1..] {
        assert_eq!(c["sensitive"], true, "{c:#}");
        assert!(c["content"]["digest"]
            .as_str()
            .expect("digest")
            .starts_with("salted-sha256:"));
    }
    assert!(plan["sources"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .any(|f| f["path"] == "vars/app.vault.yml"));

    // --- a hand edit on h2 between diff and apply: h2 refused as stale, h1 and h3 applied
    lab.sh("h2", "printf 'edited by hand\\n' > /etc/plan/motd");
    play(
        &p,
        &[
            "apply",
            "--plan",
            "plan.json",
            "--format",
            "json",
            "--output",
            "apply.json",
        ],
    )
    .code(1)
    .shows("stale")
    .shows("file /etc/plan/motd: ")
    .shows("path /etc/plan/motd: file size=4 sha256=")
    .shows(&format!("applying plan {plan_id}"));
    let report = json(&std::fs::read_to_string(p.path("apply.json")).expect("report"));
    assert_schema_valid("report.schema.json", &report);
    assert_eq!(report["applied_from_plan"], plan_id.as_str());
    assert_eq!(host(&report, "h1")["status"], "changed");
    assert_eq!(host(&report, "h3")["status"], "changed");
    assert_eq!(host(&report, "h2")["status"], "failed");
    // Exactly the plan's changes, all applied.
    for h in ["h1", "h3"] {
        assert_eq!(changes_of(&report, h), changes_of(&plan, h), "{h}");
        assert!(host(&report, h)["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["applied"] == true));
    }
    assert!(host(&report, "h2")["error"]
        .as_str()
        .expect("error")
        .contains("/etc/plan/motd"));
    for h in ["h1", "h3"] {
        assert_eq!(lab.sh(h, "cat /etc/plan/motd"), "hello from play\n");
        assert_eq!(
            lab.sh(h, "cat /etc/plan/db.ini"),
            format!("password = {DB_PASSWORD}\n")
        );
    }
    assert_eq!(lab.sh("h2", "cat /etc/plan/motd"), "edited by hand\n");
    assert_eq!(
        lab.sh(
            "h2",
            "test -e /etc/plan/db.ini && echo there || echo absent"
        ),
        "absent\n"
    );

    // --- Markdown says which plan was applied
    let md = play(
        &p,
        &[
            "apply",
            "--plan",
            "plan.json",
            "--limit",
            "h1",
            "--format",
            "markdown",
        ],
    )
    .code(1);
    assert!(
        md.stdout
            .contains(&format!("applied from plan `{plan_id}`")),
        "{}",
        md.stdout
    );
    // h1 was applied: the plan's changes are no longer needed there, the plan is stale.
    assert!(md.stderr.contains("no longer needed"), "{}", md.stderr);

    // --- a new plan, then the sources change: refused before any host is contacted
    play(
        &p,
        &["diff", "site.yml", "--out", "plan2.json", "--exit-code"],
    )
    .code(2);
    let plan2 = json(&std::fs::read_to_string(p.path("plan2.json")).expect("plan2"));
    assert_schema_valid("plan.schema.json", &plan2);
    assert_eq!(
        host(&plan2, "h1")["changes"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(
        host(&plan2, "h2")["changes"].as_array().map(Vec::len),
        Some(3)
    );
    let edited = format!("# reviewed\n{SITE}");
    std::fs::write(p.path("site.yml"), edited).expect("edit site.yml");
    play(&p, &["apply", "--plan", "plan2.json"])
        .code(1)
        .shows("sources changed")
        .shows("site.yml: changed");
    assert_eq!(lab.sh("h2", "cat /etc/plan/motd"), "edited by hand\n");
    // A playbook other than the plan's is refused.
    play(&p, &["apply", "--plan", "plan2.json", "other.yml"])
        .code(1)
        .shows("was made for playbook site.yml");
    // --allow-source-change does not allow other changes: a content rendered otherwise now
    // refuses the host that would get it.
    std::fs::write(
        p.path("site.yml"),
        SITE.replace("hello from play", "hello, changed after review"),
    )
    .expect("edit site.yml");
    play(
        &p,
        &["apply", "--plan", "plan2.json", "--allow-source-change"],
    )
    .code(1)
    .shows("file /etc/plan/motd: the rendered content differs from the plan's");
    assert_eq!(lab.sh("h2", "cat /etc/plan/motd"), "edited by hand\n");
    std::fs::write(p.path("site.yml"), format!("# reviewed\n{SITE}")).expect("edit site.yml");
    // --allow-source-change: every host's fresh plan still is the saved one.
    play(
        &p,
        &[
            "apply",
            "site.yml",
            "--plan",
            "plan2.json",
            "--allow-source-change",
        ],
    )
    .code(0);
    assert_eq!(lab.sh("h2", "cat /etc/plan/motd"), "hello from play\n");
    play(&p, &["diff", "site.yml", "--exit-code"]).code(0);

    // --- the run history: diff --out, apply, apply, diff --out, apply refused (sources), apply
    // refused (content), apply
    let log = play_plain(&p, &["log"]).code(0);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", log.stdout);
    assert!(
        lines[0].contains(" diff ") && lines[0].contains(&plan_id),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(" apply ") && lines[1].contains("FAILED"),
        "{}",
        lines[1]
    );
    assert!(lines[4].contains("FAILED 0 host(s)"), "{}", lines[4]);
    let refused = lines[4].split_whitespace().next().expect("id");
    play_plain(&p, &["show", refused])
        .code(0)
        .shows("stopped before contacting any host")
        .shows("sources changed");
    let stopped = show_json(&p, refused);
    assert!(stopped["error"]
        .as_str()
        .is_some_and(|e| e.contains("site.yml: changed")));
    assert!(lines[5].contains("FAILED 3 host(s)"), "{}", lines[5]);
    assert!(
        lines[6].contains(" apply ") && lines[6].contains(" ok "),
        "{}",
        lines[6]
    );
    let tail = play_plain(&p, &["log", "-n", "2"]).code(0);
    assert_eq!(tail.stdout.lines().collect::<Vec<_>>(), lines[5..]);
    let first_apply = lines[1].split_whitespace().next().expect("id");
    let second_diff = lines[3].split_whitespace().next().expect("id");
    let rec = show_json(&p, second_diff);
    assert_eq!(
        (&rec["command"], &rec["exit_code"]),
        (&"diff".into(), &2.into())
    );
    let shown = play_plain(&p, &["show", first_apply]).code(0);
    assert!(
        shown
            .stdout
            .contains(&format!("applied from plan  {plan_id}")),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("h2: failed"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("update file /etc/plan/motd"),
        "{}",
        shown.stdout
    );
    let rec = show_json(&p, first_apply);
    assert_eq!(rec["command"], "apply");
    assert_eq!(rec["plan_id"], plan_id.as_str());
    assert_eq!(rec["exit_code"], 1);
    assert_eq!(
        host(&rec, "h1")["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["applied"] == true)
            .count(),
        3
    );
    assert_eq!(host(&rec, "h2")["changes"][0]["applied"], false);
    play_plain(&p, &["show", "last", "--format", "markdown"])
        .code(0)
        .shows("| applied from plan |")
        .shows("| h2 | changed | 3 |");
    play_plain(&p, &["show", "no-such-run"])
        .code(1)
        .shows("no run no-such-run");
    // --record DIR
    play(
        &p,
        &[
            "diff",
            "site.yml",
            "--out",
            "plan3.json",
            "--record",
            "elsewhere",
        ],
    )
    .code(0);
    let other = play_plain(&p, &["log", "--record", "elsewhere"]).code(0);
    assert_eq!(other.stdout.lines().count(), 1, "{}", other.stdout);

    // --- no plan file, record or report holds the vault value or the sensitive one
    let mut files = Vec::new();
    files_under(p.root(), &mut files);
    let checked: Vec<&(String, String)> = files
        .iter()
        .filter(|(name, _)| {
            name.contains(".play/runs")
                || name.contains("elsewhere")
                || name.ends_with(".json")
                || name.ends_with(".md")
        })
        .collect();
    assert!(checked.len() >= 10, "{}", checked.len());
    for (name, text) in checked {
        for s in [DB_PASSWORD, MARKED] {
            assert!(!text.contains(s), "{s:?} in clear in {name}:\n{text}");
        }
    }
}

/// A file that is a copy of another path of the host (`copy_of`) is replaced only while it is
/// still what the probe saw, as every file play writes. Edited by hand between `play diff
/// --out` and `play apply --plan`, its host is refused as stale (the plan's fingerprint of the
/// path); edited after the apply's probe, by an earlier step of the same run, the copy's step
/// refuses it ("changed since the plan", not overwritten), as a `file:` with content does, and
/// the other steps go on: with a saved plan and with a plain apply.
#[test]
fn a_copy_never_overwrites_a_destination_changed_since_the_plan() {
    let lab = Lab::start("copy-of-stale", 1);
    let reset = || {
        lab.sh(
            "h1",
            "mkdir -p /srv/copy && cd /srv/copy && printf 'v2\\n' > src.conf && printf 'v1\\n' > dst.conf && printf 'v1\\n' > plain.conf && rm -f after.conf",
        )
    };
    let state = || lab.sh("h1", "cd /srv/copy && cat dst.conf plain.conf");
    let p = Project::new(&lab)
        .file(
            "copy.yml",
            "- hosts: lab\n  state:\n    - file: /srv/copy/dst.conf\n      copy_of: /srv/copy/src.conf\n",
        )
        .file(
            "race.yml",
            r#"- hosts: lab
  state:
    # an operator's edit, after the probe, before the steps below
    - command: "printf 'operator\\n' | tee /srv/copy/dst.conf /srv/copy/plain.conf >/dev/null"
    - file: /srv/copy/dst.conf
      copy_of: /srv/copy/src.conf
    - file: /srv/copy/plain.conf
      content: "managed\n"
    - file: /srv/copy/after.conf
      content: "later\n"
"#,
        );

    // --- by hand between diff --out and apply --plan: the host is refused as stale
    reset();
    p.play(&["diff", "copy.yml", "--out", "copy.json"])
        .code(0)
        .shows("from /srv/copy/src.conf: sha256 ");
    lab.sh("h1", "printf 'by hand\\n' > /srv/copy/dst.conf");
    p.play(&["apply", "--plan", "copy.json"])
        .code(1)
        .shows("stale")
        .shows("path /srv/copy/dst.conf: file size=3 sha256=");
    assert_eq!(lab.sh("h1", "cat /srv/copy/dst.conf"), "by hand\n");

    // --- after the apply's probe: the copy's step refuses, as the content file's does
    let refused = |run: Run| {
        for path in ["/srv/copy/dst.conf", "/srv/copy/plain.conf"] {
            let said = format!(
                "file {path}: {path}: changed since the plan (now other content); not overwritten"
            );
            let line = (run.stdout.lines())
                .find(|l| l.contains(&format!("update file {path}")))
                .unwrap_or_default();
            assert!(
                run.stdout.contains(&said) && line.ends_with("[not applied]"),
                "{path}: {}",
                run.stdout
            );
        }
    };
    reset();
    p.play(&["diff", "race.yml", "--out", "race.json"]).code(0);
    refused(p.play(&["apply", "--plan", "race.json"]).code(1));
    assert_eq!(state(), "operator\noperator\n");
    assert_eq!(lab.sh("h1", "cat /srv/copy/after.conf"), "later\n");
    // the same without a saved plan
    reset();
    refused(p.play(&["apply", "race.yml"]).code(1));
    assert_eq!(state(), "operator\noperator\n");
    assert_eq!(lab.sh("h1", "cat /srv/copy/after.conf"), "later\n");
    // nothing in the way: copied
    reset();
    p.play(&["apply", "copy.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/copy/dst.conf"), "v2\n");
}
