//! Rolling batches on a lab: `serial: 2` with one host's program failing stops after that batch,
//! and the remaining hosts are untouched (checked on the hosts).

mod support;

use support::lab::Lab;
use support::project::Project;

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
    let out = &run.stdout;
    // Batches: h1,h2 | h3,h4 | h5,h6. h3's program dies: batch 2 is 50% failed > 0%.
    assert_eq!(run.recap("h3").2, 1, "h3 failed:\n{out}");
    for h in ["h1", "h2", "h4"] {
        assert_eq!(run.recap(h).2 + run.recap(h).3, 0, "{h} converged:\n{out}");
        let o = lab.exec(h, "cat /etc/rolled");
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{h}\n"));
    }
    assert!(
        out.contains("NOT RUN:") && out.contains("batch 2 failed on 1 of 2 hosts"),
        "{out}"
    );
    for h in ["h5", "h6"] {
        let o = lab.exec(h, "test -e /etc/rolled || test -e /etc/supervisor/conf.d/worker.conf && echo touched || echo untouched");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "untouched\n",
            "{h} must not be touched"
        );
    }
    // Without the failure, the whole rollout goes through batch by batch.
    let p = p.file("site.yml", &SITE.replace("test $(hostname) != h3 && ", ""));
    p.play(&["apply", "site.yml"]).code(0);
    for h in ["h5", "h6"] {
        let o = lab.exec(h, "cat /etc/rolled");
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{h}\n"));
    }
}
