//! Gathered values (`gather:`) against a real lab host: read-only commands run inside the
//! first probe (plain, `chdir`, as another `user`, a `loop`, a `when` false, a failing
//! command, binary and multi-line output, a role's `gather.yml`), their values used by a
//! `when:`, templates and a `loop:`; the plan, the apply, convergence, the round trips, and the
//! note a run with changes gives. Then Ansible's `find:` and `stat:` forms on the same host
//! (patterns, regexes with a lookahead, recurse, hidden, a `stat` loop, a loop over
//! `X.files` making resources) and a `find` read on the controller (`local: true`), their
//! values recorded by `play facts --save` and used by `play check --facts-from`.

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

    finds_and_stats(&lab);
}

const FINDS: &str = r#"- hosts: lab
  vars:
    keep: "8.3"
    folders: [one, two]
  gather:
    lists:
      find:
        paths: /srv/found
        patterns: ["*.list", "*.list.save"]
    deep:
      find: {paths: /srv/found, pattern: "*.list", recurse: yes, hidden: yes}
    fpm:
      find:
        paths: /srv/found
        patterns: "^php((?!{{ keep }})(\\d\\.\\d))-fpm$"
        use_regex: true
    folder_stats:
      stat: "/srv/proj/{{ item }}"
      loop: "{{ folders }}"
    templates:
      find: {paths: tpl, patterns: "*.j2"}
      local: true
  state:
    - directory: /srv/out
    - file: "/srv/out/{{ item.path | basename }}.seen"
      content: "mode={{ item.mode }} size={{ item.size }} owner={{ item.pw_name }} dir={{ item.isdir }}\n"
      loop: "{{ lists.files }}"
    - file: /srv/out/summary
      content: "lists={{ lists.matched }}/{{ lists.examined }} deep={{ deep.files | map(attribute='path') | sort | join(',') }} fpm={{ fpm.files | map(attribute='path') | join(',') }} stats={% for r in folder_stats.results %}{{ r.item }}:{{ r.stat.exists }}{% if r.stat.exists %}:{{ r.stat.isdir }}{% endif %} {% endfor %}templates={{ templates.files | map(attribute='path') | sort | join(',') }}\n"
"#;

/// `find:`/`stat:` gathers on the host (and one `local: true` on the controller): their values
/// in Ansible's shapes, a loop over `X.files` making files, convergence, and `play check`'s
/// stand-ins.
fn finds_and_stats(lab: &Lab) {
    lab.sh(
        "h1",
        "set -e; mkdir -p /srv/found/sub /srv/found/dir.list /srv/proj/one; cd /srv/found; printf abc > a.list; chmod 600 a.list; : > b.list.save; : > c.conf; : > .hidden.list; : > sub/deep.list; : > php7.4-fpm; : > php8.3-fpm",
    );
    let p = Project::new(lab)
        .file("find.yml", FINDS)
        .file("tpl/x.conf.j2", "x\n")
        .file("tpl/notes.txt", "n\n");
    p.play(&["apply", "find.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "cat /srv/out/summary"),
        "lists=2/8 deep=/srv/found/.hidden.list,/srv/found/a.list,/srv/found/sub/deep.list fpm=/srv/found/php7.4-fpm stats=one:True:True two:False templates=tpl/x.conf.j2\n"
    );
    assert_eq!(
        lab.sh("h1", "cat /srv/out/a.list.seen"),
        "mode=0600 size=3 owner=root dir=False\n"
    );
    lab.sh(
        "h1",
        "test -e /srv/out/b.list.save.seen && test ! -e /srv/out/dir.list.seen",
    );
    p.play(&["diff", "find.yml", "--exit-code"]).code(0);
    // A new file matches on the next run.
    lab.sh("h1", ": > /srv/found/new.list");
    p.play(&["diff", "find.yml"])
        .shows("+ create file /srv/out/new.list.seen");

    // Offline: host values are stand-ins of their shape; the controller's find is real.
    p.play(&["check", "find.yml", "--show"])
        .code(0)
        .shows("gather lists")
        .shows("files: [], matched: 0")
        .shows("lists=0/0 deep= fpm= stats=templates=tpl/x.conf.j2");

    // Recorded: `play facts --save` reads the playbooks' find:/stat: gathers with the facts
    // (not a command's output, nor a controller's find); `check --facts-from` renders with them.
    let p = p.file(
        "cmd.yml",
        "- hosts: lab\n  gather:\n    kernel: uname -s\n  state: []\n",
    );
    p.play(&[
        "facts",
        "lab",
        "find.yml",
        "cmd.yml",
        "--save",
        "facts.json",
    ])
    .code(0)
    .shows("facts of 1 host(s) saved to facts.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("facts.json")).expect("read"))
            .expect("JSON");
    let g = &saved["gathered"]["h1"];
    assert_eq!(g["lists"]["matched"], 3, "{saved:#}");
    assert_eq!(
        g["folder_stats"]["results"][0]["stat"]["isdir"], true,
        "{saved:#}"
    );
    for not in ["kernel", "templates"] {
        assert!(g.get(not).is_none(), "{not} recorded: {saved:#}");
    }
    assert_eq!(saved["hosts"]["h1"]["hostname"], "h1", "{saved:#}");
    let summary = "lists=3/9 deep=/srv/found/.hidden.list,/srv/found/a.list,/srv/found/new.list,/srv/found/sub/deep.list fpm=/srv/found/php7.4-fpm stats=one:True:True two:False templates=tpl/x.conf.j2";
    p.play(&["check", "find.yml", "--show", "--facts-from", "facts.json"])
        .code(0)
        .shows("gather lists")
        .shows("recorded by `play facts --save`")
        .hides("files: [], matched: 0")
        .shows("file /srv/out/new.list.seen")
        .shows(summary);
    // Without a playbook named, the project's playbooks/ are read; a file without gathered
    // values is read as before.
    p.play(&["facts", "lab", "--save", "plain.json"]).code(0);
    let plain = std::fs::read_to_string(p.path("plain.json")).expect("read");
    assert!(!plain.contains("\"gathered\""), "{plain}");
    p.play(&["check", "find.yml", "--show", "--facts-from", "plain.json"])
        .code(0)
        .shows("files: [], matched: 0");
    // A find that cannot be rendered is not read, said; a command's problem is check's to say.
    let p = p.file(
        "broken.yml",
        "- hosts: lab\n  gather:\n    where:\n      find: {paths: \"{{ nowhere }}\"}\n    os: \"cat /etc/{{ facts.os_id }}\"\n  state: []\n",
    );
    p.play(&["facts", "lab", "broken.yml", "--save", "broken.json"])
        .code(0)
        .shows("warning: broken.yml:3:5: gather `where`")
        .shows("(not read)")
        .hides("gather `os`");
    // A named playbook that does not load is an error before any host is asked.
    p.play(&["facts", "lab", "no-such.yml", "--save", "none.json"])
        .code(1)
        .shows("no-such.yml");
    assert!(!p.path("none.json").exists());
}
