//! Gathered values (`gather:`) against a real lab host: read-only commands run inside the
//! first probe (plain, `chdir`, as another `user`, a `loop`, a `when` false, a failing
//! command, binary and multi-line output, a role's `gather.yml`), their values used by a
//! `when:`, templates and a `loop:`; the plan, the apply, convergence, the round trips, and the
//! note a run with changes gives.

mod support;

use support::lab::Lab;
use support::project::Project;

const GATHERS: &str = r#"  vars:
    tools: [sh, no-such-tool-here]
  roles: [reader]
  gather:
    ruby_version:
      command: cat .ruby-version
      chdir: /srv/app
    as_deploy:
      command: id -un
      user: deploy
    tool_paths:
      command: "command -v {{ item }}"
      loop: "{{ tools }}"
    never:
      command: "touch /tmp/gather-ran-though-when-false"
      when: "tools | length > 5"
    failing: "echo bad >&2; exit 3"
    blob: "printf 'a\\000b\\377\\nsecond line\\n'"
"#;

const STATE: &str = r#"  state:
    - file: /etc/gathered/summary.txt
      template: summary.j2
    - file: /etc/gathered/failing.txt
      content: "rc={{ failing.rc }} failed={{ failing.failed }} err={{ failing.stderr }}\n"
      when: failing.rc != 0
    - file: /etc/gathered/not-when-ok.txt
      content: "never here\n"
      when: failing.rc == 0
    - file: /etc/gathered/role.txt
      content: "{{ from_role.stdout }}\n"
"#;

const LOOP: &str = r#"    - file: "/etc/gathered/tool-{{ item.item }}.txt"
      content: "rc={{ item.rc }} path={{ item.stdout }}\n"
      loop: "{{ tool_paths.results }}"
"#;

const SUMMARY: &str = "ruby {{ ruby_version.stdout }} ({{ ruby_version.stdout_lines | length }} line)
as {{ as_deploy.stdout }}
never skipped={{ never.skipped }} changed={{ never.changed }}
{% for r in tool_paths.results %}{{ r.item }} rc={{ r.rc }}
{% endfor %}blob lines={{ blob.stdout_lines | length }} {% for l in blob.stdout_lines %}[{{ l | length }}]{% endfor %} second={{ blob.stdout_lines[1] }}
";

#[test]
fn gathered_values_are_read_in_the_first_probe_and_used() {
    let lab = Lab::start("gather", 1);
    lab.sh(
        "h1",
        "set -e; mkdir -p /srv/app && printf '3.2.1\\n' > /srv/app/.ruby-version; rm -f /tmp/gather-ran-though-when-false",
    );
    let site = format!("- hosts: lab\n{GATHERS}{STATE}{LOOP}");
    let noloop = format!("- hosts: lab\n{GATHERS}{STATE}");
    let p = Project::new(&lab)
        .file("site.yml", &site)
        .file("noloop.yml", &noloop)
        .file("templates/summary.j2", SUMMARY)
        .file("roles/reader/gather.yml", "from_role: echo from-role\n")
        .file("roles/reader/state.yml", "[]\n");

    let diff = p
        .play(&["diff", "site.yml", "--exit-code"])
        .code(2)
        .shows("+ create file /etc/gathered/summary.txt")
        .shows("+ create file /etc/gathered/failing.txt")
        .shows("+ create file /etc/gathered/tool-sh.txt")
        .shows("+ create file /etc/gathered/tool-no-such-tool-here.txt")
        .shows("+ create file /etc/gathered/role.txt")
        .hides("not-when-ok")
        .shows("note: gathered values were read before this run's changes");
    assert!(diff.stdout.contains("ruby_version"), "{}", diff.stdout);
    // `when` false: the command did not run.
    lab.sh("h1", "test ! -e /tmp/gather-ran-though-when-false");

    p.play(&["apply", "site.yml"]).code(0);
    let summary = lab.sh("h1", "cat /etc/gathered/summary.txt");
    // `command -v` of a missing program: 127 from the host's `sh` (dash).
    assert_eq!(
        summary,
        "ruby 3.2.1 (1 line)\nas deploy\nnever skipped=True changed=False\nsh rc=0\nno-such-tool-here rc=127\nblob lines=2 [4][11] second=second line\n"
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/gathered/failing.txt"),
        "rc=3 failed=True err=bad\n"
    );
    assert_eq!(lab.sh("h1", "cat /etc/gathered/role.txt"), "from-role\n");
    assert_eq!(
        lab.sh("h1", "cat /etc/gathered/tool-sh.txt"),
        format!("rc=0 path={}", lab.sh("h1", "command -v sh"))
    );
    lab.sh("h1", "test ! -e /etc/gathered/not-when-ok.txt");
    lab.sh("h1", "test ! -e /tmp/gather-ran-though-when-false");

    // Converged; the loop over gathered results needs their values for its keys: a second
    // probe. Without it, the gathers cost no round trip of their own.
    p.play(&["diff", "site.yml", "--exit-code"]).code(0);
    p.play(&["apply", "site.yml", "-v"])
        .code(0)
        .shows("2 round trip(s) to the host")
        .hides("note: gathered values were read");
    p.play(&["apply", "noloop.yml", "-v"])
        .code(0)
        .shows("1 round trip(s) to the host");

    // A value the run itself changes is read before it: the next run converges.
    let p = p.file(
        "later.yml",
        "- hosts: lab\n  gather:\n    marker: cat /etc/gathered/marker\n  state:\n    - file: /etc/gathered/marker\n      content: \"written\\n\"\n    - file: /etc/gathered/seen\n      content: \"seen={{ marker.stdout }} rc={{ marker.rc }}\\n\"\n",
    );
    p.play(&["apply", "later.yml"])
        .code(0)
        .shows("note: gathered values were read before this run's changes (marker)");
    assert_eq!(lab.sh("h1", "cat /etc/gathered/seen"), "seen= rc=1\n");
    p.play(&["apply", "later.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "cat /etc/gathered/seen"),
        "seen=written rc=0\n"
    );
    p.play(&["diff", "later.yml", "--exit-code"]).code(0);

    // A gather that names a fact is refused before anything runs, located.
    let p = p.file(
        "bad.yml",
        "- hosts: lab\n  gather:\n    os: \"cat /etc/{{ facts.os_id }}\"\n  state: []\n",
    );
    p.play(&["diff", "bad.yml"])
        .code(1)
        .shows("bad.yml:3:5: gather `os`: command: `facts` is not known yet");
}
