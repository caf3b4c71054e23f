//! Rolling batches on a lab: `serial: 2` with one host's program failing stops after that batch,
//! and the remaining hosts are untouched (checked on the hosts); the same with a `wait_for`
//! health gate that one host does not pass.

mod support;

use support::lab::Lab;
use support::project::{Project, Run};

/// Asserts that `hosts` ended neither failed nor unreachable.
fn assert_converged(run: &Run, hosts: &[&str]) {
    for h in hosts {
        let (_, _, failed, unreachable) = run.recap(h);
        assert_eq!(failed + unreachable, 0, "{h} converged:\n{}", run.stdout);
    }
}

/// Asserts that a `serial: 2` run over h1..h6 failed on h3 and stopped after batch 2, and that
/// h5 and h6 are untouched: `touched` (a shell test) is false on them.
fn assert_stopped_at_h3(run: &Run, lab: &Lab, touched: &str) {
    let out = &run.stdout;
    assert_eq!(run.recap("h3").2, 1, "h3 failed:\n{out}");
    assert_converged(run, &["h1", "h2", "h4"]);
    assert!(
        out.contains("NOT RUN:") && out.contains("batch 2 failed on 1 of 2 hosts"),
        "{out}"
    );
    for h in ["h5", "h6"] {
        let o = lab.exec(h, &format!("{touched} && echo touched || echo untouched"));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "untouched\n",
            "{h} must not be touched"
        );
    }
}

const SITE: &str = r#"
- hosts: lab
  serial: 2
  max_fail_percentage: 0
  state:
    - file: /etc/rolled
      content: "{{ inventory_hostname }}\n"
    - program: worker
      command: "/bin/sh -c 'test $(hostname) != h3 && exec sleep 1000'"
      state: running
"#;

#[test]
fn a_failing_batch_stops_the_rollout() {
    let lab = Lab::start("rolling-serial", 6);
    let p = Project::new(&lab).file("site.yml", SITE);
    let run = p.play(&["apply", "site.yml"]).code(1);
    // Batches: h1,h2 | h3,h4 | h5,h6. h3's program dies: batch 2 is 50% failed > 0%.
    assert_stopped_at_h3(
        &run,
        &lab,
        "{ test -e /etc/rolled || test -e /etc/supervisor/conf.d/worker.conf; }",
    );
    for h in ["h1", "h2", "h4"] {
        let o = lab.exec(h, "cat /etc/rolled");
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{h}\n"));
    }
    // Without the failure, the whole rollout goes through batch by batch.
    let p = p.file("site.yml", &SITE.replace("test $(hostname) != h3 && ", ""));
    p.play(&["apply", "site.yml"]).code(0);
    for h in ["h5", "h6"] {
        let o = lab.exec(h, "cat /etc/rolled");
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{h}\n"));
    }
}

/// Every host serves /srv/www over HTTP on its own address, port 8000; h3 has no `health`
/// file there (http.server answers 404) until the `when` marked H3_HEALTHY is removed.
const GATED: &str = r#"
- hosts: lab
  serial: 2
  max_fail_percentage: 0
  wait_for:
    http: "http://{{ ssh_host }}:8000/health"
    timeout: 3
    interval: 0.5
  state:
    - directory: /srv/www
    - file: /srv/www/health
      content: "ok\n"
      when: "inventory_hostname != 'h3'"  # H3_HEALTHY
    - program: web
      command: /usr/bin/python3 -m http.server 8000 --bind {{ ssh_host }} --directory /srv/www
      state: running
"#;

#[test]
fn a_host_failing_its_health_gate_stops_the_rollout() {
    let lab = Lab::start("rolling-health", 6);
    let p = Project::new(&lab).file("site.yml", GATED);
    let run = p.play(&["apply", "site.yml"]).code(1);
    let out = &run.stdout;
    // Batches: h1,h2 | h3,h4 | h5,h6. h3 converges but answers 404: batch 2 is 50% failed.
    let h3 = &lab.host("h3").addr;
    assert!(
        out.contains(&format!(
            "FAILED: health check http://{h3}:8000/health: no 2xx answer within 3s (last: HTTP 404)"
        )),
        "{out}"
    );
    assert_stopped_at_h3(&run, &lab, "test -e /srv/www");
    // diff never runs the gate: h3 is converged as far as its state goes.
    let diff = p.play(&["diff", "site.yml"]).code(0);
    assert!(!diff.stdout.contains("health check"), "{}", diff.stdout);

    // A command gate, without serial (one batch): only h3 fails, everyone else converges.
    let command = GATED
        .replace("  serial: 2\n", "")
        .replace(
            "http: \"http://{{ ssh_host }}:8000/health\"",
            "command: \"test -e /srv/www/health || { echo no health file on $(hostname) >&2; exit 1; }\"",
        );
    let run = p
        .file("site.yml", &command)
        .play(&["apply", "site.yml"])
        .code(1);
    let out = &run.stdout;
    assert!(
        out.contains("no success (exit 0) within 3s (last: exit 1: no health file on h3)"),
        "{out}"
    );
    assert_converged(&run, &["h1", "h2", "h4", "h5", "h6"]);
    for h in ["h1", "h2", "h4", "h5", "h6"] {
        let o = lab.exec(h, "cat /srv/www/health");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n", "{h}");
    }

    // All healthy: the rollout goes through, every host's gate passes.
    let healthy = GATED.replace(
        "      when: \"inventory_hostname != 'h3'\"  # H3_HEALTHY\n",
        "",
    );
    let p = Project::new(&lab).file("site.yml", &healthy);
    let run = p.play(&["apply", "site.yml", "-v"]).code(0);
    for h in &lab.hosts {
        assert!(
            run.stdout.contains(&format!(
                "health check http://{}:8000/health passed",
                h.addr
            )),
            "{}",
            run.stdout
        );
    }
}
