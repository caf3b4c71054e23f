//! `line:`, `block:` and `cron:` on a real lab host: applied, checked on the host, a second
//! `diff --exit-code` clean, a change restarting the program that watches the file, and
//! `validate` refusing a bad line (the file untouched), on `line:` and on `file:`.

mod support;

use support::lab::Lab;
use support::project::Project;

const SITE: &str = r##"- hosts: lab
  state:
    - line: /srv/edits/sshd_config
      regexp: '^#?PasswordAuthentication\s'
      text: "PasswordAuthentication {{ password_auth }}"
      validate: "grep -qx 'PasswordAuthentication [ny][eo]s*' %s  # the value is yes or no"
    - line: /srv/edits/sshd_config
      regexp: '^#?PermitRootLogin\s'
      text: PermitRootLogin no
    - block: /srv/edits/hosts
      text: "{{ db_hosts }}"
      marker: "# {mark} play: db"
    - cron: edits-cleanup
      schedule: "0 3 * * *"
      user: nobody
      command: /usr/bin/find /tmp -name 'edits-*' -mtime +7 -delete
      environment: {PATH: /usr/bin:/bin}
    - program: edits_watcher
      command: /bin/sleep 100000
      options: {startsecs: 1}
      restart_on: [/srv/edits/sshd_config, /srv/edits/hosts]
"##;

const SSHD: &str = "Port 22\n#PasswordAuthentication yes\nUsePAM yes\n";
const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost6\n";

#[test]
fn lines_blocks_and_cron_files_on_a_host() {
    let lab = Lab::start("edits-lab", 1);
    lab.sh("h1",
        &format!("mkdir -p /srv/edits && printf '{SSHD}' > /srv/edits/sshd_config && printf '{HOSTS}' > /srv/edits/hosts && chmod 0600 /srv/edits/sshd_config && mkdir -p /etc/cron.d"),
    );
    let p = Project::new(&lab)
        .file("site.yml", SITE)
        .var("password_auth", "\"no\"") // quoted: an unquoted `no` is a boolean (YAML 1.1, as Ansible)
        .var("db_hosts", "\"10.0.0.5 db\\n\"");

    // --- the diff shows the exact edits
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("-#PasswordAuthentication yes")
        .shows("+PasswordAuthentication no")
        .shows("+PermitRootLogin no")
        .shows("+# BEGIN play: db")
        .shows("+ create cron edits-cleanup");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "cat /srv/edits/sshd_config"),
        "Port 22\nPasswordAuthentication no\nUsePAM yes\nPermitRootLogin no\n"
    );
    // The file keeps its mode.
    assert_eq!(lab.sh("h1", "stat -c %a /srv/edits/sshd_config"), "600\n");
    assert_eq!(
        lab.sh("h1", "cat /srv/edits/hosts"),
        "127.0.0.1 localhost\n::1 localhost6\n# BEGIN play: db\n10.0.0.5 db\n# END play: db\n"
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/cron.d/edits-cleanup"),
        "# cron edits-cleanup — managed by play, edits are overwritten\nPATH=/usr/bin:/bin\n0 3 * * * nobody /usr/bin/find /tmp -name 'edits-*' -mtime +7 -delete\n"
    );
    assert_eq!(
        lab.sh("h1", "stat -c '%a %U %G' /etc/cron.d/edits-cleanup"),
        "644 root root\n"
    );
    // --- converged: nothing left to do
    let run = p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // --- a changed block restarts the program that watches the file, and only that changes
    let before = lab.pid("h1", "edits_watcher");
    let p = p.var("db_hosts", "\"10.0.0.6 db\\n\"");
    p.play(&["apply", "site.yml"])
        .code(0)
        .shows("~ update block /srv/edits/hosts")
        .hides("line /srv/edits/sshd_config");
    assert_ne!(
        lab.pid("h1", "edits_watcher"),
        before,
        "the watcher restarted"
    );
    assert!(lab
        .sh("h1", "cat /srv/edits/hosts")
        .contains("\n10.0.0.6 db\n# END play: db\n"));
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- validate refuses a bad line: the step fails, the file is untouched
    let good = lab.sh("h1", "cat /srv/edits/sshd_config");
    let p = p.var("password_auth", "maybe");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("validate failed");
    assert_eq!(lab.sh("h1", "cat /srv/edits/sshd_config"), good);
    assert_eq!(
        lab.sh("h1", "ls -A /var/lib/play/tmp | wc -l").trim(),
        "0",
        "no temp file left"
    );

    // --- `validate` on `file:`: a refused content leaves the file as it was
    let conf = |text: &str| {
        format!("- hosts: lab\n  state:\n    - file: /srv/edits/app.conf\n      content: \"{text}\\n\"\n      validate: grep -qx 'ok.*' %s\n")
    };
    let p = p.file("conf.yml", &conf("ok 1"));
    p.play(&["apply", "conf.yml"]).code(0);
    let p = p.file("conf.yml", &conf("broken"));
    p.play(&["apply", "conf.yml"])
        .code(1)
        .shows("validate failed: grep -qx 'ok.*' %s");
    assert_eq!(lab.sh("h1", "cat /srv/edits/app.conf"), "ok 1\n");

    // --- absent: the line and the block go, the cron file is removed
    let p = p.file(
        "gone.yml",
        r##"- hosts: lab
  state:
    - line: /srv/edits/sshd_config
      regexp: '^PermitRootLogin\s'
      state: absent
    - block: /srv/edits/hosts
      marker: "# {mark} play: db"
      state: absent
    - cron: edits-cleanup
      state: absent
"##,
    );
    p.play(&["apply", "gone.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "cat /srv/edits/sshd_config"),
        "Port 22\nPasswordAuthentication no\nUsePAM yes\n"
    );
    assert_eq!(lab.sh("h1", "cat /srv/edits/hosts"), HOSTS);
    assert_eq!(
        lab.sh(
            "h1",
            "test -e /etc/cron.d/edits-cleanup && echo there || echo gone"
        ),
        "gone\n"
    );
    p.play(&["diff", "--exit-code", "gone.yml"]).code(0);
}

const REPLACE_SITE: &str = r##"- hosts: lab
  state:
    - replace: /srv/replace/nginx.conf
      regexp: '^(\s*)#\s*server_tokens off;'
      with: '\1server_tokens off;'
      validate: grep -q '^ *server_tokens off;' %s
    - replace: /srv/replace/secrets.yml
      regexp: '^production:\n  # secret_key_base: ""'
      with: 'production:\n  secret_key_base: "{{ secret }}"'
    - replace: /srv/replace/secrets.yml
      regexp: '^  (?P<key>errbit_host):(.+)$'
      with: '  \g<key>: "https://errbit.example.org"'
    - line: /srv/replace/secrets.yml
      regexp: '^  force_ssl:'
      text: "  force_ssl: false"
    - replace: /srv/replace/app.ini
      regexp: '^port = \d+$'
      with: port = 8080
      after: '\[server\]'
      before: '\n\['
"##;

const NGINX: &str =
    "http {\n    # server_tokens off;\n    sendfile on;\n}\nserver {\n  #server_tokens off;\n}\n";
const SECRETS: &str =
    "production:\n  # secret_key_base: \"\"\n  errbit_host: \"\"\n  force_ssl: true\n";
const INI: &str = "[admin]\nport = 81\n[server]\nport = 80\n[db]\nport = 5432\n";

/// `replace:` on a real host: every match replaced (groups, a multi-line pattern, a region),
/// several edits of one file composed, a second `diff --exit-code` clean; a replacement that
/// would match again and a missing file are plan errors that touch nothing; a pattern the
/// `regex` crate refuses is a located `play check` error.
#[test]
fn replace_edits_every_match_on_a_host() {
    let lab = Lab::start("replace-edits", 1);
    lab.sh(
        "h1",
        &format!("mkdir -p /srv/replace && printf '{NGINX}' > /srv/replace/nginx.conf && printf '{SECRETS}' > /srv/replace/secrets.yml && printf '{INI}' > /srv/replace/app.ini && chmod 0640 /srv/replace/secrets.yml"),
    );
    let p = Project::new(&lab)
        .file("site.yml", REPLACE_SITE)
        .var("secret", "abc123");
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("-    # server_tokens off;")
        .shows("+    server_tokens off;")
        .shows("+  secret_key_base: \"abc123\"")
        .shows("+port = 8080");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "cat /srv/replace/nginx.conf"),
        "http {\n    server_tokens off;\n    sendfile on;\n}\nserver {\n  server_tokens off;\n}\n"
    );
    assert_eq!(
        lab.sh("h1", "cat /srv/replace/secrets.yml"),
        "production:\n  secret_key_base: \"abc123\"\n  errbit_host: \"https://errbit.example.org\"\n  force_ssl: false\n"
    );
    assert_eq!(lab.sh("h1", "stat -c %a /srv/replace/secrets.yml"), "640\n");
    assert_eq!(
        lab.sh("h1", "cat /srv/replace/app.ini"),
        "[admin]\nport = 81\n[server]\nport = 8080\n[db]\nport = 5432\n"
    );
    let run = p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // --- a replacement the pattern matches again: a plan error, nothing applied
    let p = p.file(
        "again.yml",
        "- hosts: lab\n  state:\n    - replace: /srv/replace/app.ini\n      regexp: 'port = \\d+'\n      with: '\\g<0>0'\n",
    );
    p.play(&["apply", "again.yml"])
        .code(1)
        .shows("matches its own replacement again (`port = 810` would become `port = 8100`)")
        .shows("declared at again.yml:3:7");
    assert!(lab
        .sh("h1", "cat /srv/replace/app.ini")
        .contains("port = 81\n"));

    // --- a missing file: a plan error of the resource
    let p = p.file(
        "missing.yml",
        "- hosts: lab\n  state:\n    - replace: /srv/replace/none.conf\n      regexp: a\n",
    );
    p.play(&["diff", "missing.yml"])
        .code(1)
        .shows("/srv/replace/none.conf does not exist");

    // --- look-around in the pattern: located by `play check`
    let p = p.file(
        "bad.yml",
        "- hosts: lab\n  state:\n    - replace: /srv/replace/app.ini\n      regexp: '(?<!#)port'\n      with: '\\2'\n",
    );
    p.play(&["check", "bad.yml"])
        .code(1)
        .shows("bad.yml:4:15: regexp `(?<!#)port` does not compile")
        .shows("no look-around");

    // --- `line:` with backrefs, templated per loop item (RocketChat's /etc/hosts task as
    // imported): the last match filled from its groups, no match no change, nothing appended
    lab.sh(
        "h1",
        "printf '127.0.0.1 localhost web1 extra\\n::1 localhost\\n' > /srv/replace/hosts",
    );
    let p = p.file(
        "backrefs.yml",
        "- hosts: lab\n  state:\n    - line: /srv/replace/hosts\n      regexp: '{{ item.regexp }}'\n      text: '{{ item.line }}'\n      backrefs: '{{ item.backrefs | default(True) }}'\n      loop:\n        - {regexp: '^127\\.0\\.0\\.1(.*)web1(.*)', line: '127.0.0.1 \\1 \\2'}\n        - {regexp: '^10\\.9\\.9\\.9', line: '10.9.9.9 nowhere'}\n        - {regexp: '^127\\.0\\.1\\.1', line: '127.0.1.1 web1', backrefs: false}\n",
    );
    p.play(&["apply", "backrefs.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "cat /srv/replace/hosts"),
        "127.0.0.1  localhost   extra\n::1 localhost\n127.0.1.1 web1\n"
    );
    let run = p.play(&["diff", "--exit-code", "backrefs.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
}
