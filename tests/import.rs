//! `play import ansible`: the real binary on a fixture project that mimics the corpus idioms
//! (role with handlers, notify, template, with_items, become_user, stat+register+when), and on
//! a real public deployment (w3c/prbuildbot, BSD-3-Clause, copied with its license); and an
//! imported project applied to a lab host (the guards the importer writes hold).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::lab::Lab;
use support::project::Project;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn play(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(support::lab::play_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run play");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ansible")
        .join(name)
}

/// Imports `src` into a fresh folder; returns it with the import's stdout.
fn import(src: &Path) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let r = play(
        tmp.path(),
        &[
            "import",
            "ansible",
            src.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "import failed: {}{}", r.stdout, r.stderr);
    (tmp, r.stdout)
}

/// The number after `label` in the summary (`tasks: 18 — carried over 17 (94%)` ...): the first
/// place `label` is followed by a number (a path in the text may hold the label too).
fn figure(text: &str, label: &str) -> usize {
    text.match_indices(label)
        .find_map(|(at, _)| {
            text[at + label.len()..]
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no number after `{label}` in {text}"))
}

/// Writes `files` (path, text) as an Ansible project and imports it: the temp folder (keep it
/// alive) and the output folder.
fn import_files(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let (_src, out_tmp, out) = import_files_kept(files);
    (out_tmp, out)
}

/// [`import_files`], the source folder kept (first) as long as the caller holds it: the
/// imported `playbook_dir` is that folder.
fn import_files_kept(files: &[(&str, &str)]) -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    for (p, text) in files {
        let path = src.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let (out_tmp, _) = import(&src);
    let out = out_tmp.path().join("out");
    (tmp, out_tmp, out)
}

/// Runs `play check` on an imported project (it must be clean) and returns its
/// `playbooks/site.yml`, which must contain each of `wants`.
fn checked_site(out: &Path, wants: &[&str]) -> String {
    checks_clean(out);
    let pb = read(&out.join("playbooks/site.yml"));
    for want in wants {
        assert!(pb.contains(want), "no {want:?} in\n{pb}");
    }
    pb
}

/// `play check` on an imported project: clean.
fn checks_clean(out: &Path) {
    let check = play(out, &["check", "-i", "inventory", "--color", "never"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("0 problem(s)"), "{}", check.stdout);
}

/// Each of `wants` is in `text` (IMPORT.md, a written file).
fn contains_all(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn sample_project_imports_and_checks_clean() {
    let (tmp, summary) = import(&fixture("sample"));
    let out = tmp.path().join("out");
    let check = play(&out, &["check", "-i", "inventory", "--color", "never"]);
    assert_eq!(
        check.code, 0,
        "play check: {}{}",
        check.stdout, check.stderr
    );
    assert!(check.stdout.contains("0 problem(s)"), "{}", check.stdout);
    assert!(summary.contains("tasks: 21"), "{summary}");

    let role = read(&out.join("roles/app/state.yml"));
    // notify + handler → restart_on of the service, whose unit file became `unit:`
    assert!(role.contains("- service: app\n  state: running\n  enabled: true\n  restart_on: [\"{{ app_root }}/src\", /etc/app/app.ini]\n  unit: app.service.j2"), "{role}");
    // stat + register + when → creates; become_user → user (a command: `--upgrade-deps` is no `venv:` key)
    assert!(role.contains("- command: \"python3 -m venv --upgrade-deps {{ app_root }}/venv\"\n  user: \"{{ app_user }}\"\n  creates: \"{{ app_root }}/venv/bin/python\""), "{role}");
    // register + `is changed` → on_change
    assert!(
        role.contains("on_change: [\"{{ app_root }}/venv/bin/python manage.py migrate\"]"),
        "{role}"
    );
    // with_items → loop; become_user on git → owner
    assert!(role.contains("loop: [releases, shared]"), "{role}");
    assert!(role.contains("owner: \"{{ app_user }}\"\n"), "{role}");
    // pip into a virtualenv → venv, run as the become_user
    assert!(
        role.contains("- venv: \"{{ app_root }}/venv\"\n  requirements: \"{{ app_root }}/src/requirements.txt\"\n  user: \"{{ app_user }}\"\n"),
        "{role}"
    );
    // task environment → the command's
    assert!(
        role.contains("  environment: {PIP_NO_CACHE_DIR: \"1\"}\n"),
        "{role}"
    );
    // cron → cron (a name without spaces, the user), lineinfile → line with its validate
    assert!(
        role.contains(
            "- cron: app_cleanup\n  schedule: \"0 3 * * *\"\n  user: \"{{ app_user }}\"\n"
        ),
        "{role}"
    );
    assert!(
        role.contains("- line: /etc/sudoers.d/app\n  text: \"{{ app_user }} ALL=(root) NOPASSWD: /bin/systemctl restart app\"\n  validate: \"visudo -cf %s\"\n"),
        "{role}"
    );
    let playbook = read(&out.join("playbooks/site.yml"));
    assert!(
        playbook.contains("- service: nginx\n      reload_on: [/etc/nginx/sites-enabled/app.conf]"),
        "{playbook}"
    );
    // `| bool` rewritten; YAML 1.1 `no` is a boolean
    assert!(playbook.contains("app_debug: false"), "{playbook}");
    assert!(
        playbook.contains("when: \"app_debug | string | lower in"),
        "{playbook}"
    );
    // templates rewritten
    let tpl = read(&out.join("roles/app/templates/app.ini.j2"));
    assert!(
        tpl.contains("# Managed by play (imported from Ansible)"),
        "{tpl}"
    );
    assert!(
        tpl.contains("{{ facts.cpus * 2 }}") && tpl.contains("{{ facts.hostname }}"),
        "{tpl}"
    );
    // the INI inventory with group vars, group_vars/ and become
    let inv = read(&out.join("inventory/hosts.yml"));
    assert!(
        inv.contains("web1:") && inv.contains("ansible_host: 127.0.0.1"),
        "{inv}"
    );
    assert!(
        inv.contains("become: true") && inv.contains("app_env: staging"),
        "{inv}"
    );
    assert!(out.join("inventory/group_vars/all.yml").is_file());
    // vault files are listed, neither decrypted nor written
    assert!(out.join("inventory/host_vars/web1/vars.yml").is_file());
    assert!(!out.join("inventory/host_vars/web1/vault.yml").exists());
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains(
            "## Ansible vault files (listed, not decrypted)\n\n- `host_vars/web1/vault.yml`"
        ),
        "{md}"
    );
}

#[test]
fn import_md_accounts_for_every_task() {
    let (tmp, _) = import(&fixture("sample"));
    let md = read(&tmp.path().join("out/IMPORT.md"));
    let src = fixture("sample");
    let mut missing = Vec::new();
    for file in [
        "site.yml",
        "roles/app/tasks/main.yml",
        "roles/app/tasks/config.yml",
        "roles/app/handlers/main.yml",
    ] {
        for (i, line) in read(&src.join(file)).lines().enumerate() {
            let t = line.trim_start();
            let top_task = line.starts_with("- ") || line.starts_with("    - name:");
            if top_task && !t.starts_with("- name: web tier") && !t.starts_with("- python3") {
                let loc = format!("`{file}:{}`", i + 1);
                if !md.contains(&loc) {
                    missing.push(loc);
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in IMPORT.md: {missing:?}\n{md}");
    assert!(md.contains("| `site.yml:23` | Show the version | `debug` | **left out**: `debug`: play prints no messages |"), "{md}");
    assert!(
        md.contains("| source tasks (includes counted, handlers not) | 21 |"),
        "{md}"
    );
    // each resource's place in the output is right
    let role = read(&tmp.path().join("out/roles/app/state.yml"));
    let at = md
        .find("| `roles/app/tasks/config.yml:2` | App config | `template` | `roles/app/state.yml:")
        .expect("row");
    let line: usize = md[at..]
        .split("state.yml:")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .and_then(|n| n.parse().ok())
        .expect("line");
    assert_eq!(role.lines().nth(line - 1), Some("- file: /etc/app/app.ini"));
}

#[test]
fn corpus_prbuildbot_meets_the_goals_it_can() {
    let (tmp, summary) = import(&fixture("w3c-prbuildbot/ansible"));
    let out = tmp.path().join("out");
    let check = play(&out, &["check", "-i", "inventory", "--color", "never"]);
    let tasks = figure(&summary, "tasks:");
    let carried = figure(&summary, "carried over");
    let resources = figure(&summary, "resources:");
    let native = figure(&summary, "native");
    let last = check.stdout.lines().last().unwrap_or_default();
    let problems = figure(last, "");
    assert_eq!((tasks, carried), (23, 22), "{summary}");
    assert!(
        carried * 100 >= tasks * 70,
        "carried over {carried}/{tasks}"
    );
    assert!(
        problems * 10 <= resources,
        "{problems} problems for {resources} resources:\n{}",
        check.stdout
    );
    // Its pip and easy_install tasks (no virtualenv: the system's python) are `pip:`
    // resources, so the 80% native goal is met: the two commands left are its shell steps.
    assert!(
        native * 100 >= resources * 80,
        "native {native}/{resources}"
    );
    let flask = read(&out.join("roles/flask/state.yml"));
    assert!(
        flask.contains("- pip: pip\n") && flask.contains("- pip: Flask\n"),
        "{flask}"
    );
    assert!(read(&out.join("roles/uwsgi/state.yml")).contains("unit: emperor.uwsgi.service"));
}

#[test]
fn errors_are_located_and_output_is_not_clobbered() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("site.yml"),
        "- hosts: all\n  tasks:\n    - name: x\n      copy: {src: a, dest: /b\n",
    )
    .unwrap();
    let r = play(tmp.path(), &["import", "ansible", "src", "--out", "out"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("site.yml:5:1:"), "{}", r.stderr);

    std::fs::write(src.join("site.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    std::fs::create_dir_all(tmp.path().join("busy")).unwrap();
    std::fs::write(tmp.path().join("busy/keep.txt"), "mine").unwrap();
    let r = play(tmp.path(), &["import", "ansible", "src", "--out", "busy"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("busy: the output folder is not empty (--force writes into it)"),
        "{}",
        r.stderr
    );
    assert_eq!(read(&tmp.path().join("busy/keep.txt")), "mine");

    let r = play(
        tmp.path(),
        &["import", "ansible", "src/site.yml", "--out", "o2"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("src/site.yml: not a folder"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_ansible_role_without_state_yml_is_a_problem_not_silence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir_all(root.join("roles/web/tasks")).unwrap();
    std::fs::create_dir_all(root.join("playbooks")).unwrap();
    std::fs::write(root.join("roles/web/tasks/main.yml"), "- apt: name=nginx\n").unwrap();
    std::fs::write(
        root.join("playbooks/site.yml"),
        "- hosts: all\n  roles: [web]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("inv.yml"),
        "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.1}\n",
    )
    .unwrap();
    let r = play(root, &["check", "-i", "inv.yml", "--color", "never"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("playbooks/site.yml:2:11: role `web` has Ansible's layout")
            && all.contains("and no state.yml: run `play import ansible`"),
        "{all}"
    );
}

#[test]
fn the_same_source_gives_the_same_project() {
    let (a, _) = import(&fixture("w3c-prbuildbot/ansible"));
    let (b, _) = import(&fixture("w3c-prbuildbot/ansible"));
    let files = |root: &Path| {
        let mut v = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    v.push((
                        p.strip_prefix(root).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        v.sort();
        v
    };
    let (fa, fb) = (files(&a.path().join("out")), files(&b.path().join("out")));
    assert!(fa.len() > 10, "{} files", fa.len());
    assert!(fa == fb, "two imports differ");
}

/// The modules play now has kinds for (issue 14's) are imported as those kinds, and `play
/// check` accepts what the importer writes: line, block, cron, download, apt_source (a deb
/// line, a PPA), venv (two
/// pip tasks on one virtualenv become one venv with both packages, at the later place).
#[test]
fn modules_with_native_kinds_import_as_them_and_check_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("hosts"), "[web]\nweb1 ansible_host=127.0.0.1\n").unwrap();
    std::fs::write(
        src.join("site.yml"),
        r#"- hosts: web
  vars:
    venv: /srv/app/venv
  tasks:
    - name: Tools
      pip: name=wheel virtualenv={{ venv }}
    - name: Requirements file
      copy: content="flask==3.0.3" dest=/srv/app/requirements.txt
    - name: App requirements
      pip:
        name: gunicorn
        version: "22.0.0"
        requirements: /srv/app/requirements.txt
        virtualenv: "{{ venv }}"
      become_user: app
      environment:
        PIP_NO_CACHE_DIR: "1"
    - name: No password logins
      lineinfile:
        path: /etc/ssh/sshd_config
        regexp: '^#?PasswordAuthentication\s'
        line: PasswordAuthentication no
        validate: /usr/sbin/sshd -t -f %s
    - name: Hosts of the cluster
      blockinfile:
        path: /etc/hosts
        block: |
          10.0.0.5 db
    - name: Nightly backup
      cron: name="db backup.daily" hour=3 minute=0 user=postgres job=/usr/local/bin/backup
    - name: Tool
      get_url:
        url: https://example.org/tool.tar.xz
        dest: /opt/tool.tar.xz
        checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    - name: Nginx repository
      apt_repository:
        repo: deb https://nginx.org/packages/debian bookworm nginx
        filename: nginx
    - name: Nginx
      apt: name=nginx
    - name: Certbot repository
      apt_repository:
        repo: ppa:certbot/certbot
        codename: jammy
    - name: Certbot
      apt: name=python3-certbot-nginx
"#,
    )
    .unwrap();
    let (tmp2, summary) = import(&src);
    let out = tmp2.path().join("out");
    let pb = checked_site(
        &out,
        &[
        "- venv: \"{{ venv }}\"\n      packages: [gunicorn==22.0.0, wheel]\n      requirements: /srv/app/requirements.txt\n      user: app\n",
        "- line: /etc/ssh/sshd_config\n      regexp: \"^#?PasswordAuthentication\\\\s\"\n      text: PasswordAuthentication no\n      validate: \"/usr/sbin/sshd -t -f %s\"\n",
        "- block: /etc/hosts\n      marker: \"# {mark} ANSIBLE MANAGED BLOCK\"\n",
        "- cron: db_backup_daily\n      schedule: \"0 3 * * *\"\n      user: postgres\n      command: /usr/local/bin/backup\n",
        "- download: /opt/tool.tar.xz\n      url: https://example.org/tool.tar.xz\n",
        "- apt_source: nginx\n      uris: https://nginx.org/packages/debian\n      suites: [bookworm]\n      components: [nginx]\n",
        "- package: nginx\n      update_cache: true\n",
        "- apt_source: ppa_certbot_certbot\n      ppa: certbot/certbot\n      suites: [jammy]\n",
        "- package: python3-certbot-nginx\n      update_cache: true\n",
        ],
    );
    // the venv is declared after the requirements file it reads
    assert!(
        pb.find("- file: /srv/app/requirements.txt") < pb.find("- venv:"),
        "{pb}"
    );
    // every resource is native
    assert!(summary.contains("command 0"), "{summary}");
    drop(tmp);
}

/// Ansible's `npm` (RocketChat's three forms: a global name, a name at a version into a node
/// prefix's `lib`, a project's dependencies) and `composer`'s install (trellis' templated flags)
/// are `npm:` and `composer:` entries that `play check` accepts; `composer config` stays a
/// command saying why.
#[test]
fn npm_and_composer_import_as_their_kinds_and_check_clean() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  vars:
    node_prefix: /usr/local/n/versions/node/14.21.3
    npm_version: 6.14.0
    app: /srv/app
    no_scripts: false
  tasks:
    - name: n
      npm: name=n global=yes executable=/usr/bin/npm
    - name: npm at a version
      npm:
        name: npm
        version: "{{ npm_version }}"
        path: "{{ node_prefix }}/lib"
        executable: "{{ node_prefix }}/bin/npm"
    - name: The bundle's dependencies
      npm:
        path: "{{ app }}/bundle/programs/server"
        production: true
        executable: "{{ node_prefix }}/bin/npm"
      become: true
      become_user: rocketchat
    - name: Auth
      composer:
        command: config
        arguments: --auth http-basic.example.org u p
        working_dir: /srv/site
    - name: Install Composer dependencies
      composer:
        no_scripts: "{{ no_scripts }}"
        classmap_authoritative: yes
        working_dir: /srv/site/
"#,
        ),
    ]);
    let pb = checked_site(
        &out,
        &[
            "- npm: n\n      executable: /usr/bin/npm\n",
            "- npm: \"npm@{{ npm_version }}\"\n      prefix: \"{{ node_prefix }}\"\n      executable: \"{{ node_prefix }}/bin/npm\"\n",
            "- npm: \"{{ app }}/bundle/programs/server\"\n      production: true\n      executable: \"{{ node_prefix }}/bin/npm\"\n      user: rocketchat\n",
            "- composer: /srv/site\n      no_scripts: \"{{ no_scripts }}\"\n      classmap_authoritative: true\n",
            "# play import: composer → command (`composer config` acts once",
        ],
    );
    assert!(
        pb.contains("- command: composer config --no-interaction --auth"),
        "{pb}"
    );
}

/// Ruby's installs (consul's rvm lines, Ansible's `bundler` and `gem`, the rvm role's
/// install-bundler-if-missing line) are `bundle:` and `gem:` entries that `play check` accepts;
/// `bundle update` (`state: latest`) and a `bundle exec` stay commands.
#[test]
fn bundler_and_gem_import_as_their_kinds_and_check_clean() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  vars:
    deploy_user: deploy
    release_dir: /srv/consul/current
    shared_dir: /srv/consul/shared
    errbit_dir: /srv/errbit
    rvm: /home/deploy/.rvm
  tasks:
    - name: Install gems (this may take a few minutes)
      shell: "source /home/{{ deploy_user }}/.rvm/scripts/rvm && bundle install --path {{ shared_dir }}/bundle --without development test"
      args:
        chdir: "{{ release_dir }}"
        executable: /bin/bash
    - name: Install Errbit dependencies
      shell: bash -lc 'bundle install --deployment --binstubs'
      args:
        chdir: "{{ errbit_dir }}"
      become: true
      become_user: deploy
    - name: Install bundler if not installed
      shell: >
        ls {{ rvm }}/wrappers/ruby-2.6.5
        | if ! grep "^bundler " ; then {{ rvm }}/wrappers/ruby-2.6.5/gem install bundler ; fi
      args:
        creates: '{{ rvm }}/wrappers/ruby-2.6.5/bundler'
    - name: Gems of the app
      community.general.bundler:
        chdir: /srv/app
        exclude_groups: [development, test]
        gem_path: vendor/bundle
        deployment_mode: yes
    - name: Update them
      bundler:
        chdir: /srv/app
        state: latest
    - name: rake
      gem: name=rake version=13.0.6 state=present
    - name: no rails
      community.general.gem:
        name: rails
        state: absent
        user_install: no
    - name: Crontab
      shell: "source /home/{{ deploy_user }}/.rvm/scripts/rvm && bundle exec whenever --update-crontab"
      args:
        chdir: "{{ release_dir }}"
        executable: /bin/bash
"#,
        ),
    ]);
    let pb = checked_site(
        &out,
        &[
            "- bundle: \"{{ release_dir }}\"\n      path: \"{{ shared_dir }}/bundle\"\n      exclude_groups: [development, test]\n      executable: \"/home/{{ deploy_user }}/.rvm/wrappers/default/bundle\"\n",
            "- bundle: \"{{ errbit_dir }}\"\n      deployment_mode: true\n      binstub_directory: bin\n      login: true\n      user: deploy\n",
            "- gem: bundler\n      executable: \"{{ rvm }}/wrappers/ruby-2.6.5/gem\"\n",
            "- bundle: /srv/app\n      deployment_mode: true\n      exclude_groups: [development, test]\n      path: vendor/bundle\n",
            "# play import: bundler → command (`state: latest` runs `bundle update`",
            "- command: bundle update\n      chdir: /srv/app\n",
            "- gem: rake\n      version: 13.0.6\n      user_install: true\n",
            "- gem: rails\n      state: absent\n",
        ],
    );
    assert!(
        pb.contains("bundle exec whenever --update-crontab'\"\n"),
        "{pb}"
    );
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("`source …/scripts/rvm && bundle` → `executable: /home/{{ deploy_user }}/.rvm/wrappers/default/bundle`"),
        "{md}"
    );
}

/// trellis' deploy hooks: a `stat` looped over a list var of task files, then an include of
/// `{{ X.item }}` looped over its results: the listed files that exist are followed.
#[test]
fn hook_files_included_through_a_looped_stat_are_followed() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("deploy.yml", "- hosts: web\n  roles: [deploy]\n"),
        (
            "roles/deploy/defaults/main.yml",
            "deploy_before:\n  - \"{{ playbook_dir }}/hooks/before.yml\"\n  - \"{{ playbook_dir }}/hooks/missing.yml\"\n",
        ),
        (
            "roles/deploy/tasks/main.yml",
            r#"- name: Check if deploy_before scripts exist
  stat:
    path: "{{ item }}"
  delegate_to: localhost
  register: deploy_before_paths
  loop: "{{ deploy_before | default([]) }}"

- include_tasks: "{{ include_path.item }}"
  loop: "{{ deploy_before_paths.results }}"
  loop_control:
    loop_var: include_path
  when: include_path.stat.exists
"#,
        ),
        (
            "hooks/before.yml",
            "- name: Release marker\n  copy: content=ok dest=/srv/app/RELEASE\n  notify: reload app\n\
         - include_tasks: \"{{ playbook_dir }}/roles/deploy/tasks/extra.yml\"\n",
        ),
        // a handler's include is looked up in the role's tasks/ too
        (
            "roles/deploy/handlers/main.yml",
            "- import_tasks: reload.yml\n",
        ),
        (
            "roles/deploy/tasks/reload.yml",
            "- name: reload app\n  command: systemctl reload app\n",
        ),
        (
            "roles/deploy/tasks/extra.yml",
            "- name: Extra\n  file: path=/srv/app/shared state=directory\n",
        ),
    ]);
    let role = read(&out.join("roles/deploy/state.yml"));
    assert!(
        role.contains("# Release marker\n- file: /srv/app/RELEASE\n  content: ok\n"),
        "{role}"
    );
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("followed: each existing file of `deploy_before`: hooks/before.yml |"),
        "{md}"
    );
    assert!(
        md.contains("| `hooks/before.yml:1` | Release marker | `copy` | `roles/deploy/state.yml:"),
        "{md}"
    );
    // `{{ playbook_dir }}` in an include, and a handler's include of a file of tasks/
    assert!(
        md.contains("followed: roles/deploy/tasks/extra.yml |"),
        "{md}"
    );
    assert!(
        md.contains("followed: roles/deploy/tasks/reload.yml |"),
        "{md}"
    );
    assert!(role.contains("- directory: /srv/app/shared\n"), "{role}");
    assert!(
        role.contains("- command: systemctl reload app\n  on_change: [/srv/app/RELEASE]\n"),
        "{role}"
    );
    let check = play(&out, &["check", "-i", "inventory", "--color", "never"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}

/// Ansible `tags:` of a task, a block, an include, a role entry and a play are carried onto
/// the resources, roles and plays, so `play check --tags` selects what `ansible-playbook
/// --tags` would.
#[test]
fn tags_are_carried_and_select_with_tags() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            "- hosts: web\n  tags: site\n  roles:\n    - {role: app, tags: [app]}\n    - base\n  \
         tasks:\n    - name: motd\n      copy: content=hi dest=/etc/motd\n      tags: [motd]\n",
        ),
        (
            "roles/app/tasks/main.yml",
            "- name: conf\n  copy: content=x dest=/etc/app.conf\n  tags: conf\n\
         - block:\n    - name: data\n      file: path=/srv/data state=directory\n  tags: [data]\n\
         - import_tasks: debug.yml\n  tags: [debug]\n\
         - name: data again\n  file: path=/srv/data state=directory\n  tags: [more]\n",
        ),
        (
            "roles/app/tasks/debug.yml",
            "- name: debug conf\n  copy: content=d dest=/etc/app.debug\n",
        ),
        (
            "roles/base/tasks/main.yml",
            "- name: base\n  file: path=/srv/base state=directory\n",
        ),
    ]);
    let role = read(&out.join("roles/app/state.yml"));
    assert!(
        role.contains("- file: /etc/app.conf\n  content: x\n  tags: [conf]\n"),
        "{role}"
    );
    assert!(
        role.contains("- directory: /srv/data\n  tags: [data, more]\n"),
        "{role}"
    );
    assert!(
        role.contains("- file: /etc/app.debug\n  content: d\n  tags: [debug]\n"),
        "{role}"
    );
    let site = read(&out.join("playbooks/site.yml"));
    assert!(site.contains("  tags: [site]\n"), "{site}");
    assert!(
        site.contains("  roles:\n    - {role: app, tags: [app]}\n    - base\n"),
        "{site}"
    );
    assert!(site.contains("  tags: [motd]\n"), "{site}");
    let count = |args: &[&str]| {
        let mut all = vec!["check", "-i", "inventory", "--color", "never"];
        all.extend_from_slice(args);
        let r = play(&out, &all);
        assert_eq!(r.code, 0, "{all:?}: {}{}", r.stdout, r.stderr);
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with("0 problem(s)"))
            .expect("summary");
        figure(line, "host(s),")
    };
    assert_eq!(count(&[]), 5);
    assert_eq!(count(&["--tags", "app"]), 3);
    assert_eq!(count(&["--tags", "debug,motd"]), 2);
    // two tasks declaring one folder: one resource, selected by the tags of either
    assert_eq!(count(&["--tags", "more"]), 1);
    assert_eq!(count(&["--tags", "site", "--skip-tags", "conf"]), 4);
}

/// What real projects (Rocket.Chat, trellis) do that the import used to lose, giving `play
/// check` problems: a looped service handler (its `item` was undefined), a play on `{{ host_name
/// | default('chat_servers') }}` with no inventory (the stub had no such group), and
/// `include_vars: "{{ lookup('first_found', params) }}"` and of `{{ ansible_os_family }}.yml`
/// (their vars were left out), and a `set_fact` under `when: X is not defined` (a default).
#[test]
fn looped_handlers_defaulted_host_patterns_and_first_found_vars_check_clean() {
    let (_tmp, out) = import_files(&[
        (
            "site.yml",
            "- hosts: \"{{ host_name | default('chat_servers') }}\"\n  roles: [chat]\n",
        ),
        // only checks: nothing to carry, so no play on Ansible's implicit localhost
        (
            "variable-check.yml",
            "- hosts: localhost\n  tasks:\n    - fail: msg=no env\n      when: env is not defined\n",
        ),
        (
            "roles/chat/defaults/main.yml",
            "chat_instances: [a, b]\nchat_packages: \"{{ chat_default_packages | combine(chat_extra) }}\"\n",
        ),
        (
            "roles/chat/vars/version/fallback.yml",
            "chat_default_packages: {\"chat{{ chat_version }}-server\": true}\nchat_extra: {}\nchat_version: 2\n",
        ),
        (
            "roles/chat/tasks/main.yml",
            r#"- name: OS vars
  include_vars: "{{ ansible_os_family }}.yml"
- name: Define chat_user.
  set_fact:
    chat_user: "{{ __chat_user }}"
  when: chat_user is not defined
- name: Version vars
  include_vars: "{{ lookup('first_found', params) }}"
  vars:
    params:
      files: ["{{ chat_version }}.yml", fallback.yml]
      paths: ["{{ playbook_dir }}/roles/chat/vars/version"]
- name: Packages
  apt:
    name: "{{ item.key }}"
  loop: "{{ chat_packages | dict2items }}"
- name: Unit
  copy: content=x dest={{ chat_unit_dir }}/chat@.service owner={{ chat_user }}
  notify: Restart instances
"#,
        ),
        (
            "roles/chat/vars/Debian.yml",
            "chat_unit_dir: /etc/systemd/system\n__chat_user: chat\n",
        ),
        (
            "roles/chat/handlers/main.yml",
            "- name: Restart instances\n  service:\n    name: \"chat@{{ item }}\"\n    state: restarted\n  with_list: \"{{ chat_instances }}\"\n",
        ),
    ]);
    let role = read(&out.join("roles/chat/state.yml"));
    assert!(
        role.contains("- service: \"chat@{{ item }}\"\n  restart_on: [\"{{ chat_unit_dir }}/chat@.service\"]\n  loop: \"{{ chat_instances }}\"\n"),
        "{role}"
    );
    let inv = read(&out.join("inventory/hosts.yml"));
    assert!(inv.contains("chat_servers:"), "{inv}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("| Version vars | `include_vars` | vars of `roles/chat/defaults.yml` |"),
        "{md}"
    );
    assert!(!out.join("playbooks/variable-check.yml").exists());
    assert!(
        md.contains("play `localhost` of `variable-check.yml`: none of its tasks is carried"),
        "{md}"
    );
    let check = play(
        &out,
        &["check", "-i", "inventory", "--color", "never", "--show"],
    );
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("package chat2-server"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("service chat@b.service"),
        "{}",
        check.stdout
    );
}

/// Forms the importer now makes native (issue 15): a templated `state` choosing a kind or
/// absent, a checksum kept in a var, `hostname`, `locale_gen`, commands that state what they
/// make, and a guarded `apt update_cache` folded into the packages after it (unless one of
/// them is `latest`): all check clean.
#[test]
fn more_ansible_forms_import_as_native_kinds_and_check_clean() {
    let (tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "roles/worker/templates/worker.conf.j2",
            "[program:worker]\ncommand=/usr/bin/sleep 1000\nautorestart=true\n",
        ),
        (
            "roles/worker/tasks/main.yml",
            r#"- name: Worker conf
  template: src=worker.conf.j2 dest=/etc/supervisor/conf.d/worker.conf
- name: Run the worker
  supervisorctl: name=worker state=present
"#,
        ),
        (
            "site.yml",
            r#"- hosts: web
  roles: [worker]
  vars:
    site_enabled: true
    admins: [alice]
    cron_on: false
    tool_checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  tasks:
    - name: Fresh lists
      apt: update_cache=yes cache_valid_time=3600
    - name: Nginx
      apt: name=nginx
    - name: Site enabled or not
      file:
        src: /etc/nginx/sites-available/app.conf
        dest: /etc/nginx/sites-enabled/app.conf
        state: "{{ site_enabled | ternary('link', 'absent') }}"
    - name: Cleanup job
      cron:
        name: cleanup
        cron_file: cleanup
        hour: "3"
        job: /usr/local/bin/cleanup
        state: "{{ cron_on | ternary('present', 'absent') }}"
    - name: Tool
      get_url:
        url: https://example.org/tool.tar.xz
        dest: /opt/tool.tar.xz
        checksum: "{{ tool_checksum }}"
    - name: Host name
      hostname: name=web1
    - name: Locale
      locale_gen: name=en_US.UTF-8
    - name: The virtualenv
      command: python3 -m venv /srv/app/venv creates=/srv/app/venv/bin/python
    - name: Current release
      command: ln -sfn /srv/app/releases/1 /srv/app/current
    - name: Keys files
      stat: path=/home/{{ item }}/.ssh/authorized_keys
      register: keys
      loop: "{{ admins }}"
    - name: Keys files exist
      file:
        path: "/home/{{ item.item }}/.ssh/authorized_keys"
        state: "{{ 'file' if item.stat.exists else 'touch' }}"
        owner: "{{ item.item }}"
      loop: "{{ keys.results }}"
    - name: A key each
      lineinfile:
        path: "/home/{{ item }}/.ssh/authorized_keys"
        line: "ssh-ed25519 AAAAC3Nza {{ item }}"
      loop: "{{ admins }}"
- hosts: web
  tasks:
    - name: Fresh lists for an upgrade
      apt: update_cache=yes cache_valid_time=3600
    - name: Latest openssl
      apt: name=openssl state=latest
"#,
        ),
    ]);
    let pb = checked_site(
        &out,
        &[
        "- package: nginx\n      update_cache: true\n",
        "- link: /etc/nginx/sites-enabled/app.conf\n      target: /etc/nginx/sites-available/app.conf\n      state: \"{{ site_enabled | ternary('present', 'absent') }}\"\n",
        "- cron: cleanup\n      schedule: \"* 3 * * *\"\n      command: /usr/local/bin/cleanup\n      state: \"{{ cron_on | ternary('present', 'absent') }}\"\n",
        "- download: /opt/tool.tar.xz\n      url: https://example.org/tool.tar.xz\n      sha256: \"{{ tool_checksum | regex_replace('^sha256:', '') }}\"\n",
        "- hostname: web1\n",
        "- line: /etc/locale.gen\n",
        "- venv: /srv/app/venv\n",
        "- link: /srv/app/current\n      target: /srv/app/releases/1\n      force: true\n",
        ],
    );
    // a file made sure of over a looped stat's results, then edited: the edit, over the list
    assert!(
        pb.contains("- line: \"/home/{{ item }}/.ssh/authorized_keys\"\n"),
        "{pb}"
    );
    assert!(!pb.contains("- file: \"/home/"), "{pb}");
    assert!(!pb.contains(".results"), "{pb}");
    // the supervisorctl task of a program conf that became a `program:` is that program
    let role = read(&out.join("roles/worker/state.yml"));
    assert!(role.contains("- program: worker\n"), "{role}");
    assert!(!role.contains("supervisorctl"), "{role}");
    let md = read(&out.join("IMPORT.md"));
    contains_all(
        &md,
        &[
            "program `worker` (play loads and starts it)",
            "its loop is the loop of `Keys files exist`",
            "the `line:` of the same path creates the file (one kind owns a path in play); its `owner` not carried",
        ],
    );
    // the guarded update before a `latest` package stays: it refreshes stale lists
    let second = &pb[pb.rfind("- hosts: web").expect("second play")..];
    assert!(second.contains("- command: apt-get update\n"), "{second}");
    assert_eq!(pb.matches("- command: apt-get update").count(), 1, "{pb}");
    drop(tmp);
}

/// Whole-system upgrades (consul-installer's `upgrade: yes` with `cache_valid_time`, mangaki's
/// quoted `'yes'`, tournesol's `name: "*" state: latest` and `upgrade: dist`) are native
/// `apt_upgrade:` entries, not `command:`s, and check clean; a mode chosen at run time stays a
/// command.
#[test]
fn apt_upgrades_import_as_apt_upgrade() {
    let (tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "roles/upgrade/tasks/main.yml",
            r#"- name: Update all packages to their latest version
  apt:
    name: "*"
    state: latest
    update_cache: yes
- name: Upgrade the OS (apt-get dist-upgrade)
  apt:
    upgrade: dist
    update_cache: yes
"#,
        ),
        (
            "site.yml",
            r#"- hosts: web
  become: true
  roles: [upgrade]
- hosts: web
  tasks:
    - name: Update and upgrade apt packages
      apt:
        upgrade: yes
        update_cache: yes
        cache_valid_time: 86400
- hosts: web
  tasks:
    - apt:
        upgrade: 'yes'
        update_cache: 'yes'
        cache_valid_time: 3600
    - name: Chosen at run time
      apt:
        upgrade: "{{ upgrade_mode }}"
"#,
        ),
    ]);
    let pb = checked_site(
        &out,
        &[
            "- apt_upgrade: safe\n      cache_valid_time: 86400\n      update_cache: true\n",
            "- apt_upgrade: safe\n      cache_valid_time: 3600\n      update_cache: true\n",
        ],
    );
    assert!(
        pb.contains(
            "- command: \"apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade\"\n"
        ),
        "{pb}"
    );
    let role = read(&out.join("roles/upgrade/state.yml"));
    assert!(
        role.contains("- apt_upgrade: safe\n  update_cache: true\n"),
        "{role}"
    );
    assert!(
        role.contains("- apt_upgrade: full\n  update_cache: true\n"),
        "{role}"
    );
    assert!(!role.contains("command"), "{role}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("`apt_upgrade: safe` (apt-get upgrade --with-new-pkgs"),
        "{md}"
    );
    drop(tmp);
}

/// The guards the importer writes hold on a real host: an imported project (hostname,
/// locale_gen, debconf, alternatives, a `deb` file, a checksum in a var, a templated link
/// state, commands that state what they make) applied to a lab host does what Ansible's tasks
/// do, and a second `diff --exit-code` finds nothing to do.
#[test]
fn imported_forms_converge_on_a_host() {
    let lab = Lab::start("native-import", 1);
    lab.sh(
        "h1",
        "mkdir -p /srv/native/pkg/DEBIAN && printf 'Package: play-native-test\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@t>\\nDescription: t\\n' > /srv/native/pkg/DEBIAN/control && dpkg-deb -b /srv/native/pkg /srv/native/t.deb >/dev/null && printf data > /srv/native/tool.bin",
    );
    let (_tmp, out) = import_files(&[(
        "site.yml",
        r#"- hosts: lab
  vars:
    tool_sum: "sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
    tool_linked: true
  tasks:
    - hostname: name=native-h1
    - locale_gen: name=en_US.UTF-8
    - debconf: name=tzdata question=tzdata/Areas vtype=select value=Europe
    - alternatives: name=editor path=/bin/ed
    - apt: deb=/srv/native/t.deb
    - get_url:
        url: file:///srv/native/tool.bin
        dest: /srv/native/tool.copy
        checksum: "{{ tool_sum }}"
    - file:
        src: /srv/native/tool.copy
        dest: /srv/native/tool
        state: "{{ tool_linked | ternary('link', 'absent') }}"
    - command: ln -sfn /srv/native/tool.bin /srv/native/tool.orig
    - command: useradd -m -s /bin/sh natuser
"#,
    )]);
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    let site = read(&p.path("playbooks/site.yml"));
    assert_eq!(site.matches("- command:").count(), 4, "{site}");
    assert!(site.contains("- hostname: native-h1\n"), "{site}");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    for (cmd, want) in [
        ("hostname; cat /etc/hostname", "native-h1\nnative-h1\n"),
        ("locale -a | grep -ix en_US.utf8", "en_US.utf8\n"),
        (
            "debconf-show tzdata | grep -F 'tzdata/Areas:'",
            "* tzdata/Areas: Europe\n",
        ),
        (
            "update-alternatives --query editor | grep '^Value:'",
            "Value: /bin/ed\n",
        ),
        ("dpkg-query -W play-native-test", "play-native-test\t1.0\n"),
        (
            "cat /srv/native/tool.copy; readlink /srv/native/tool /srv/native/tool.orig",
            "data/srv/native/tool.copy\n/srv/native/tool.bin\n",
        ),
        (
            "getent passwd natuser | cut -d: -f6,7",
            "/home/natuser:/bin/sh\n",
        ),
    ] {
        assert_eq!(lab.sh("h1", cmd), want, "{cmd}");
    }
    // every guard holds now: nothing to do
    let run = p
        .play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
}

/// Apt keys from URLs and copies of files already on the host import as native kinds and
/// converge on a real host: `apt_key: url=` → a `download:` into /etc/apt/trusted.gpg.d/,
/// `deb822_repository` with a `signed_by` URL → an `apt_source:` with `key_url`, `copy` with
/// `remote_src` → a `file:` with `copy_of` (of a file a `get_url` of the same run fetches);
/// no `command:` is written, and a second `diff --exit-code` finds nothing to do.
#[test]
fn keys_from_urls_and_remote_copies_import_as_native_kinds_and_converge() {
    let lab = Lab::start("keys-imported", 1);
    support::apt::publish(&lab, "h1", &[("hello-play", "1.0")]);
    lab.sh(
        "h1",
        "rm -f /etc/apt/sources.list.d/play-test.list && mkdir -p /srv/keys /tmp/kg && chmod 700 /tmp/kg && gpg --homedir /tmp/kg --batch --quiet --passphrase '' --quick-gen-key 'k <k@example.invalid>' ed25519 sign never && gpg --homedir /tmp/kg --batch --armor --export > /srv/keys/k.asc && printf 'tool\\n' > /srv/keys/tool",
    );
    let (_tmp, out) = import_files(&[(
        "site.yml",
        r#"- hosts: lab
  tasks:
    - apt_key: url=file:///srv/keys/k.asc state=present
    - deb822_repository:
        name: local
        types: deb
        uris: file:/srv/repo
        suites: ./
        trusted: yes
        signed_by: file:///srv/keys/k.asc
    - apt: name=hello-play update_cache=yes
    - get_url: url=file:///srv/keys/tool dest=/srv/keys/tool.dl
    - copy: src=/srv/keys/tool.dl dest=/usr/local/bin/keys-tool remote_src=yes mode=0755
"#,
    )]);
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    let site = read(&p.path("playbooks/site.yml"));
    assert_eq!(site.matches("- command:").count(), 0, "{site}");
    assert!(
        site.contains("- download: /etc/apt/trusted.gpg.d/k.asc"),
        "{site}"
    );
    assert!(site.contains("key_url: file:///srv/keys/k.asc"), "{site}");
    assert!(site.contains("copy_of: /srv/keys/tool.dl"), "{site}");
    p.play(&["apply", "playbooks/site.yml"])
        .code(0)
        .shows("(known after download /srv/keys/tool.dl)");
    let key = lab.sh("h1", "cat /srv/keys/k.asc");
    assert_eq!(lab.sh("h1", "cat /etc/apt/trusted.gpg.d/k.asc"), key);
    assert_eq!(lab.sh("h1", "cat /etc/apt/keyrings/local.asc"), key);
    assert_eq!(
        lab.sh(
            "h1",
            "cat /usr/local/bin/keys-tool; stat -c %a /usr/local/bin/keys-tool"
        ),
        "tool\n755\n"
    );
    assert_eq!(
        support::apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "1.0".into()))
    );
    let run = p
        .play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
}

/// `vars:` of `include_role`, `include_tasks`, a block and a task (issue 15: mangaki's
/// `include_role: utils/cron` twice with other vars): the tasks go to a file of their own under
/// `included/`, included with those vars (an inner include's win), so every value Ansible
/// had is there: the project checks clean and renders each include with its own vars.
#[test]
fn include_block_and_task_vars_are_carried_as_include_vars() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [app]\n"),
        (
            "roles/app/defaults/main.yml",
            "app_name: shop\napp_user: shop\n",
        ),
        (
            "roles/app/tasks/main.yml",
            r#"- name: Ranking cron.
  include_role:
    name: utils/cron
  vars:
    cron_name: "{{ app_name }}-ranking"
    cron_command: rank
- name: Top cron.
  include_role:
    name: utils/cron
  vars:
    cron_name: "{{ app_name }}-top"
    cron_command: top --all
- include_tasks: settings.yml
  vars:
    level: info
- name: Owned folder.
  file:
    path: "/srv/{{ folder }}"
    state: directory
    owner: "{{ app_user }}"
  vars:
    folder: data
- block:
    - name: Marker.
      copy:
        content: "{{ marker }}"
        dest: /srv/marker
  vars:
    marker: blocked
"#,
        ),
        (
            "roles/app/tasks/settings.yml",
            r#"- name: Settings.
  template:
    src: settings.j2
    dest: /etc/shop.ini
- include_tasks: debug.yml
  vars:
    level: debug
"#,
        ),
        (
            "roles/app/tasks/debug.yml",
            "- name: Debug settings.\n  copy:\n    content: \"{{ level }}\"\n    dest: /etc/shop-debug.ini\n",
        ),
        ("roles/app/templates/settings.j2", "level={{ level }}\n"),
        (
            "roles/utils/cron/tasks/main.yml",
            r#"- name: Timer unit.
  template:
    src: cron.service.j2
    dest: "/etc/systemd/system/{{ cron_name }}.service"
- name: Enable the timer.
  systemd:
    name: "{{ cron_name }}.timer"
    daemon_reload: true
"#,
        ),
        (
            "roles/utils/cron/templates/cron.service.j2",
            "[Service]\nExecStart={{ cron_command }}\n",
        ),
    ]);
    let state = read(&out.join("roles/app/state.yml"));
    assert!(
        state.contains(
            "- include: included/cron.yml\n  vars:\n    cron_name: '{{ app_name }}-ranking'\n"
        ),
        "{state}"
    );
    assert!(
        state.contains("- include: included/cron-2.yml\n"),
        "{state}"
    );
    let cron = read(&out.join("roles/app/included/cron-2.yml"));
    assert!(
        cron.contains("- file: \"/etc/systemd/system/{{ cron_name }}.service\""),
        "{cron}"
    );
    let md = read(&out.join("IMPORT.md"));
    assert!(md.contains("`roles/app/included/cron-2.yml:"), "{md}");
    assert!(!md.contains("task `vars:` not carried"), "{md}");
    let check = play(
        &out,
        &["check", "-i", "inventory", "--color", "never", "--show"],
    );
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    for want in [
        "file /etc/systemd/system/shop-ranking.service",
        "ExecStart=rank\n",
        "file /etc/systemd/system/shop-top.service",
        "ExecStart=top --all\n",
        // one bare service per include: two units, not a repeat of one
        "service shop-ranking.timer",
        "service shop-top.timer",
        "level=info\n",
        "directory /srv/data",
        "blocked",
    ] {
        assert!(
            check.stdout.contains(want),
            "no {want:?} in {}",
            check.stdout
        );
    }
    // the inner include's `level` wins
    assert!(
        check.stdout.contains(
            "file /etc/shop-debug.ini  # roles/app/included/debug.yml:3:3\n    | debug\n"
        ),
        "{}",
        check.stdout
    );
}

/// A package that an unconditional package task before it installs with the same state
/// (mangaki's `git`, again in the develop hosts' `[git, tmux]`): one resource owns it, the
/// later task keeps the rest; a later task of only such names is merged into the earlier.
#[test]
fn a_package_declared_again_is_kept_by_the_first_task() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [src]\n"),
        (
            "roles/src/tasks/main.yml",
            r#"- name: Base packages.
  apt:
    name: [python3, git]
    state: latest
- name: Develop packages.
  apt:
    name: [git, tmux]
    state: latest
  when: develop | default(false)
- name: Git again.
  apt: name=git state=latest
"#,
        ),
    ]);
    let state = read(&out.join("roles/src/state.yml"));
    assert!(
        state.contains("- package: tmux\n  state: latest\n  when: \"develop | default(false)\"\n"),
        "{state}"
    );
    assert_eq!(state.matches("git").count(), 1, "{state}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("package(s) `git` declared before by `Base packages.` with the same state"),
        "{md}"
    );
    assert!(
        md.contains("| Git again. | `apt` | `roles/src/state.yml:3` package"),
        "{md}"
    );
    checks_clean(&out);
}

/// tournesol's `synchronize` delegated to the host itself (`delegate_to: "{{ inventory_hostname
/// }}"`) copies between two folders of the host: imported as that `rsync` (not a `sync:` from
/// the controller), guarded by its dry run, it converges on a real host and is then no change
/// until the source moves. (rsync on the host, as Ansible's synchronize needs: .ci/run installs it.)
#[test]
fn a_synchronize_delegated_to_the_host_itself_converges_there() {
    let lab = Lab::start("figures-rsync", 1);
    lab.sh(
        "h1",
        "mkdir -p /home/git/app/sub /srv/app && echo v1 > /home/git/app/a.txt && echo x > /home/git/app/sub/b.pyc && echo stale > /srv/app/old.txt",
    );
    let (_tmp, out) = import_files(&[(
        "site.yml",
        r#"- hosts: lab
  tasks:
    - name: Copy the application
      synchronize:
        src: /home/git/app/
        dest: /srv/app
        archive: no
        recursive: yes
        delete: yes
        checksum: yes
        rsync_opts: ["--exclude=*.pyc"]
      delegate_to: "{{ inventory_hostname }}"
"#,
    )]);
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    let site = read(&p.path("playbooks/site.yml"));
    assert!(site.contains("- command: \"rsync -r --checksum"), "{site}");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    let tree = "find /srv/app | sort; cat /srv/app/a.txt";
    assert_eq!(
        lab.sh("h1", tree),
        "/srv/app\n/srv/app/a.txt\n/srv/app/sub\nv1\n"
    );
    let run = p
        .play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    lab.sh("h1", "echo v2 > /home/git/app/a.txt");
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(2);
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/app/a.txt"), "v2\n");
}

/// A handler restarting `app` while the task starts `app.service` (tournesol's website
/// analytics): one unit, so the handler's restart is the started service's `restart_on`, not a
/// second `service:` of the same unit.
#[test]
fn a_handler_naming_a_unit_without_its_suffix_watches_the_same_service() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [app]\n"),
        (
            "roles/app/tasks/main.yml",
            r#"- name: Config.
  copy:
    content: "x=1\n"
    dest: /etc/app.conf
  notify: Restart app
- name: Start the app.
  systemd:
    name: app.service
    state: started
    enabled: yes
"#,
        ),
        (
            "roles/app/handlers/main.yml",
            "- name: Restart app\n  service:\n    name: app\n    state: restarted\n",
        ),
    ]);
    let state = read(&out.join("roles/app/state.yml"));
    assert_eq!(state.matches("- service:").count(), 1, "{state}");
    assert!(
        state.contains("- service: app.service\n  state: running\n  enabled: true\n  restart_on: [/etc/app.conf]\n"),
        "{state}"
    );
    checks_clean(&out);
}

/// `copy: src=templates/h5bp` (trellis): Ansible finds a copy's src in the role's folder, not
/// only in `files/`; the folder (or file) is written as it is under the output role's
/// `files/templates/`, a folder as a `sync:`, and the project checks clean.
#[test]
fn a_copy_from_the_roles_templates_folder_finds_its_source() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [nginx]\n"),
        (
            "roles/nginx/tasks/main.yml",
            r#"- name: Copy h5bp configs
  copy:
    src: templates/h5bp
    dest: /etc/nginx
    mode: '0755'
- name: Copy one raw file
  copy:
    src: templates/raw.conf
    dest: /etc/nginx/raw.conf
"#,
        ),
        (
            "roles/nginx/templates/h5bp/location/cache.conf",
            "expires {{ not_a_template }};\n",
        ),
        ("roles/nginx/templates/raw.conf", "a {{ b }}\n"),
    ]);
    let state = read(&out.join("roles/nginx/state.yml"));
    assert!(
        state.contains("- sync: /etc/nginx/h5bp\n  src: templates/h5bp\n"),
        "{state}"
    );
    assert_eq!(
        read(&out.join("roles/nginx/files/templates/h5bp/location/cache.conf")),
        "expires {{ not_a_template }};\n"
    );
    assert_eq!(
        read(&out.join("roles/nginx/files/templates/raw.conf")),
        "a {{ b }}\n"
    );
    checks_clean(&out);
}

/// A task Ansible runs on the controller (`delegate_to: localhost`, `local_action`,
/// `connection: local`) or on another host is left out with the reason, never written as a
/// resource of the host; `delegate_to: "{{ inventory_hostname }}"` is the host itself.
#[test]
fn tasks_run_on_the_controller_or_another_host_are_not_resources_of_the_host() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  tasks:
    - name: Build assets on the controller
      command: npm run build
      delegate_to: localhost
    - name: Probe from the controller
      local_action: command curl -sf http://example.org/
    - name: Local connection
      command: make dist
      connection: local
    - name: On the database host
      command: createdb app
      delegate_to: db1
    - name: On the host itself
      command: touch /srv/marker
      args:
        creates: /srv/marker
      delegate_to: "{{ inventory_hostname }}"
      notify: rebuild index
  handlers:
    - name: rebuild index
      command: curl -X POST http://127.0.0.1:9200/_refresh
      delegate_to: 127.0.0.1
"#,
        ),
    ]);
    let pb = read(&out.join("playbooks/site.yml"));
    for cmd in ["npm run build", "curl", "make dist", "createdb"] {
        assert!(!pb.contains(cmd), "{cmd} written as a resource:\n{pb}");
    }
    assert!(
        pb.contains("/srv/marker"),
        "the host's own task is carried:\n{pb}"
    );
    let md = read(&out.join("IMPORT.md"));
    for (line, why) in [
        ("site.yml:3`", "runs on the controller (`localhost`)"),
        ("site.yml:6`", "runs on the controller (`local_action`)"),
        (
            "site.yml:8`",
            "runs on the controller (`connection: local`)",
        ),
        ("site.yml:11`", "runs on another host (`delegate_to: db1`)"),
        ("site.yml:21`", "runs on the controller (`127.0.0.1`)"),
    ] {
        let row = md
            .lines()
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("no row for {line} in\n{md}"));
        assert!(row.contains(why), "{row}");
    }
}

/// A `pip` of a var the role sets to a name but the inventory sets, on some hosts, to a path
/// (mangaki's vagrant host installs `/vagrant/mangaki/`): `venv:`'s `packages` cannot take it,
/// so it is the guarded pip command, and the project checks clean on that host too.
#[test]
fn a_pip_package_the_inventory_makes_a_path_is_a_command() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[dev]\nvm ansible_host=127.0.0.1\n"),
        ("host_vars/vm", "app_package: /vagrant/app/\n"),
        ("site.yml", "- hosts: dev\n  roles: [app]\n"),
        ("roles/app/defaults/main.yml", "app_package: app\n"),
        (
            "roles/app/tasks/main.yml",
            "- name: Install the project.\n  pip:\n    name: \"{{ app_package }}\"\n    virtualenv: /srv/venv\n",
        ),
    ]);
    let state = read(&out.join("roles/app/state.yml"));
    assert!(
        state.contains("`/vagrant/app/` (`app_package` on some hosts of the inventory)"),
        "{state}"
    );
    assert!(
        state.contains("- command: \"{ test -x /srv/venv/bin/pip"),
        "{state}"
    );
    checks_clean(&out);
}

/// The same in a play's tasks: `playbooks/included/PLAYBOOK-LABEL.yml`, included from the
/// play's `state:` with the vars; the included role's templates and files are found from there.
#[test]
fn include_vars_of_a_plays_tasks_are_carried_too() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - include_role:\n        name: greet\n      vars:\n        who: alice\n",
        ),
        (
            "roles/greet/tasks/main.yml",
            "- name: Greeting.\n  template: src=g.j2 dest=/tmp/g\n",
        ),
        ("roles/greet/templates/g.j2", "hi {{ who }}\n"),
    ]);
    let site = read(&out.join("playbooks/site.yml"));
    assert!(
        site.contains("    - include: included/site-greet.yml\n      vars:\n        who: alice\n"),
        "{site}"
    );
    let check = play(
        &out,
        &["check", "-i", "inventory", "--color", "never", "--show"],
    );
    assert!(
        check
            .stdout
            .contains("file /tmp/g  # playbooks/included/site-greet.yml:3:3\n    | hi alice\n"),
        "{}{}",
        check.stdout,
        check.stderr
    );
}

/// Ansible's `replace` imports as `replace:` (consul-installer's, openwisp2's), `\1` and the
/// `after`/`before` region carried; a pattern the `regex` crate refuses stays a guarded
/// command. Several edits of one file with other patterns or markers stay apart (they were
/// merged as "declared twice", the later one's keys overwriting the first's).
#[test]
fn replace_tasks_import_as_the_replace_kind_and_stay_apart() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [src]\n"),
        (
            "roles/src/tasks/main.yml",
            r##"- name: Add Errbit API key
  replace:
    path: /srv/shared/config/secrets.yml
    regexp: '^  errbit_project_key:(.+)$'
    replace: '  errbit_project_key: "abc"'
- name: Add Errbit host
  replace:
    path: /srv/shared/config/secrets.yml
    regexp: '^  (errbit_host):(.+)$'
    replace: '  \1: "https://errbit.example.org"'
    backup: yes
- name: A port in one section
  replace:
    dest: /etc/app.ini
    regexp: '^port = \d+$'
    replace: port = 8080
    after: '\[server\]'
    before: '\n\['
- name: Not after a comment
  replace:
    path: /etc/app.ini
    regexp: '(?<!#)listen'
    replace: bind
- name: Server block
  blockinfile:
    path: /etc/grafana/grafana.ini
    marker: "# {mark} server"
    block: "[server]\nroot_url = x"
- name: Auth block
  blockinfile:
    path: /etc/grafana/grafana.ini
    marker: "# {mark} auth"
    block: "[auth]\ndisable_login_form = true"
"##,
        ),
    ]);
    let state = read(&out.join("roles/src/state.yml"));
    for want in [
        "- replace: /srv/shared/config/secrets.yml\n  regexp: \"^  errbit_project_key:(.+)$\"\n  with: \"  errbit_project_key: \\\"abc\\\"\"\n",
        "- replace: /srv/shared/config/secrets.yml\n  regexp: \"^  (errbit_host):(.+)$\"\n  with: \"  \\\\1: \\\"https://errbit.example.org\\\"\"\n",
        "- replace: /etc/app.ini\n  regexp: \"^port = \\\\d+$\"\n  with: port = 8080\n  after: \"\\\\[server\\\\]\"\n  before: \"\\\\n\\\\[\"\n",
        "# play import: replace → command (`replace:` cannot take regexp `(?<!#)listen` does not compile",
        "marker: \"# {mark} server\"",
        "marker: \"# {mark} auth\"",
    ] {
        assert!(state.contains(want), "no {want:?} in\n{state}");
    }
    let md = read(&out.join("IMPORT.md"));
    assert!(!md.contains("declared twice"), "{md}");
    assert!(md.contains("`backup` not carried"), "{md}");
    checks_clean(&out);
}

/// `{{ playbook_dir }}/…` includes are found whether SRC is given relative or absolute, and
/// both give the same project (trellis' `import_tasks: "{{ playbook_dir }}/roles/…"` were
/// "not found" with a relative SRC).
#[test]
fn a_relative_source_imports_as_the_absolute_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("proj");
    for (p, text) in [
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [app]\n"),
        (
            "roles/app/tasks/main.yml",
            "- import_tasks: \"{{ playbook_dir }}/roles/common/tasks/dirs.yml\"\n",
        ),
        (
            "roles/common/tasks/dirs.yml",
            "- name: App folder\n  file: path=/srv/app state=directory\n",
        ),
    ] {
        let path = src.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let run = |from: &str, out: &str| {
        let r = play(tmp.path(), &["import", "ansible", from, "--out", out]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let md = read(&tmp.path().join(out).join("IMPORT.md"));
        let body: String = md.lines().skip(3).collect::<Vec<_>>().join("\n");
        (
            body,
            read(&tmp.path().join(out).join("roles/app/state.yml")),
        )
    };
    let (rel_md, rel_state) = run("proj", "out-rel");
    let (abs_md, abs_state) = run(src.to_str().expect("utf-8"), "out-abs");
    assert!(rel_state.contains("/srv/app"), "{rel_state}\n{rel_md}");
    assert_eq!(rel_state, abs_state);
    assert_eq!(rel_md, abs_md);
}

/// Code4Maine-beehve's idiom: a folder, its user, files in it, then `file: owner=… mode=755`
/// and `shell: chown -R U:U DIR` on it. Imported as one recursive `directory:` at the place of
/// the last (after the user and the files), the folder's own mode not carried (noted), it
/// converges on a host in one apply with everything below owned by the user.
#[test]
fn a_chown_r_after_its_user_and_files_converges_as_a_recursive_folder() {
    let lab = Lab::start("recurse-chown-import", 1);
    let (_tmp, out) = import_files(&[(
        "site.yml",
        r#"- hosts: lab
  vars:
    app: beeapp
    base: /srv
  tasks:
    - name: Ensure the project directory exists
      file: state=directory path={{base}}/{{app}}
    - user: name={{app}} shell=/bin/sh
    - file: state=directory path={{base}}/{{app}}/.pip
    - copy: content="[global]\n" dest={{base}}/{{app}}/.pip/pip.conf
    - file: group={{app}} owner={{app}} mode=755 state=directory path={{base}}/{{app}}
    - shell: chown -R {{app}}:{{app}} {{base}}/{{app}}
"#,
    )]);
    let site = checked_site(&out, &["recurse: true"]);
    assert_eq!(site.matches("- command:").count(), 0, "{site}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("mode `'0755'` of the folder itself not carried"),
        "{md}"
    );
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "cd /srv/beeapp && stat -c '%n %U %G' . .pip .pip/pip.conf"
        ),
        ". beeapp beeapp\n.pip beeapp beeapp\n.pip/pip.conf beeapp beeapp\n"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
}

/// A folder declared twice is one resource where the source's order allows it, as Ansible
/// runs both tasks: RocketChat's role declares `/var/lib/rocket.chat` as a backup folder (a var
/// that defaults to the application folder's, under `when`, nothing set) and later gives the
/// application folder a recursive owner (`chown -R`), with steps between that put files there
/// and use it; a plain `file: state=directory` under `when` before the same folder with its
/// owner and mode is that one declaration, at the earlier place (the file inside it comes
/// after). Two declarations that contradict each other (another `mode`) stay two, and
/// `play check` names both places.
#[test]
fn a_folder_declared_twice_is_one_resource_where_the_order_allows() {
    let lab = Lab::start("import-folder-twice", 1);
    let (_tmp, out) = import_files(&[
        (
            "roles/chat/defaults/main.yml",
            "chat_path: /var/lib/chat\nchat_backup_path: \"{{ chat_path }}\"\nchat_backup: true\n",
        ),
        (
            "roles/chat/tasks/main.yml",
            r#"- group: name=chat system=yes
- user: name=chat group=chat home={{ chat_path }} system=yes createhome=yes shell=/bin/false
- name: Fetch the tarball
  copy: content=tgz dest={{ chat_path }}/chat.tgz
- name: Ensure the back up directory exists
  file: path={{ chat_backup_path }} state=directory
  when: chat_backup | bool
- name: Back up the old bundle
  shell: mv {{ chat_path }}/bundle/old.js {{ chat_backup_path }}/old.js
  args:
    removes: "{{ chat_path }}/bundle/old.js"
  when: chat_backup | bool
- name: Unpack the bundle
  copy: content=main dest={{ chat_path }}/bundle/main.js
- name: Ensure the application data permissions are correct
  command: chown chat.chat -R {{ chat_path | quote }}
"#,
        ),
        (
            "site.yml",
            r#"- hosts: lab
  roles: [chat]
  tasks:
    - name: Site folder
      file: path=/srv/site state=directory
      when: site_enabled | default(true)
    - copy: content=hi dest=/srv/site/index.html
    - name: Site folder owner
      file: path=/srv/site state=directory owner=www-data mode=0750
"#,
        ),
        (
            "logs.yml",
            r#"- hosts: lab
  tasks:
    - name: Logs
      file: path=/srv/logs state=directory mode=0750
    - name: Logs again
      file: path=/srv/logs state=directory mode=0700
"#,
        ),
    ]);
    // the backup folder is skipped while its var is the application folder
    let role = read(&out.join("roles/chat/state.yml"));
    assert!(role.contains("chat_backup_path != chat_path"), "{role}");
    assert_eq!(role.matches("recurse: true").count(), 1, "{role}");
    let site = read(&out.join("playbooks/site.yml"));
    let folder = site.find("- directory: /srv/site").expect(&site);
    let file = site.find("- file: /srv/site/index.html").expect(&site);
    assert!(folder < file, "{site}");
    assert_eq!(site.matches("/srv/site\n").count(), 1, "{site}");
    assert!(!site.contains("site_enabled"), "{site}");
    assert!(site.contains("owner: www-data"), "{site}");
    contains_all(
        &read(&out.join("IMPORT.md")),
        &[
            "merged with `Site folder` (same directory declared twice), at the earlier place",
            "`{{ chat_backup_path }}` and `{{ chat_path }}` are one path with the vars of the project (`/var/lib/chat`)",
            "declared before by `Logs` (logs.yml:3), with another `mode`",
        ],
    );
    // one problem: the contradiction, with both places
    let check = play(&out, &["check", "-i", "inventory", "--color", "never"]);
    assert!(check.stdout.contains("1 problem(s)"), "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("playbooks/logs.yml:8:7: duplicate resource `/srv/logs`")
            && check
                .stdout
                .contains("(first declared at playbooks/logs.yml:5:7)"),
        "{}",
        check.stdout
    );
    // a backup folder of its own is declared too, and is no duplicate
    let args =
        "check -i inventory --color never -e chat_backup_path=/var/backups/chat playbooks/site.yml";
    let apart = play(&out, &args.split(' ').collect::<Vec<_>>());
    assert!(apart.stdout.contains("0 problem(s)"), "{}", apart.stdout);

    // applied: the recursive owner covers what the steps between put in the folder, in one
    // run, and a second run has nothing to do
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.copy_tree(&out.join("roles"), "roles");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "cd /var/lib/chat && stat -c '%n %U %G' . chat.tgz bundle bundle/main.js; stat -c '%U %a' /srv/site; cat /srv/site/index.html"
        ),
        ". chat chat\nchat.tgz chat chat\nbundle chat chat\nbundle/main.js chat chat\nwww-data 750\nhi"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
}

/// A role entry's `when:` is carried onto the written role entry (not dropped, which applied
/// the role's resources to every host), and a dependency of that role gets it too, as in
/// Ansible: consul-installer's `errbit` role (`when: errbit|bool`, false in its group_vars)
/// had given 8 `play check` problems for a role Ansible skips.
#[test]
fn a_role_entrys_when_is_carried() {
    let (_tmp, out) = import_files(&[
        (
            "hosts",
            "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.2 extras=yes\n",
        ),
        ("group_vars/all", "extras: no\n"),
        (
            "site.yml",
            "- hosts: web\n  roles:\n    - base\n    - role: extra\n      when: extras|bool\n      \
             vars: {port: 81}\n      greeting: hi\n",
        ),
        (
            "roles/base/tasks/main.yml",
            "- name: base\n  file: path=/srv/base state=directory\n",
        ),
        (
            "roles/extra/meta/main.yml",
            "dependencies:\n  - role: dep\n",
        ),
        (
            "roles/extra/tasks/main.yml",
            "- name: extra conf\n  copy: content='{{ greeting }} {{ port }}' dest=/etc/extra.conf\n",
        ),
        (
            "roles/dep/tasks/main.yml",
            "- name: dep dir\n  file: path=/srv/dep{{ port }} state=directory\n",
        ),
    ]);
    let site = read(&out.join("playbooks/site.yml"));
    assert!(site.contains("    - base\n"), "{site}");
    assert!(site.contains("    - {role: dep, when: "), "{site}");
    assert!(site.contains("    - {role: extra, when: "), "{site}");
    // the entry's vars and old-style params are that entry's (and its dependency's), not the
    // play's
    assert!(
        site.contains(", vars: {port: 81, greeting: hi}}\n"),
        "{site}"
    );
    assert!(!site.contains("  vars:\n"), "{site}");
    let md = read(&out.join("IMPORT.md"));
    assert!(!md.contains("`when` on role"), "{md}");
    let show = |host: &str| {
        let r = play(
            &out,
            &[
                "check",
                "-i",
                "inventory",
                "--color",
                "never",
                "--show",
                "-l",
                host,
            ],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        r.stdout
    };
    let one = show("web1");
    assert!(one.contains("directory /srv/base"), "{one}");
    assert!(!one.contains("/etc/extra.conf"), "{one}");
    assert!(!one.contains("/srv/dep"), "{one}");
    let two = show("web2");
    assert!(two.contains("file /etc/extra.conf"), "{two}");
    assert!(two.contains("| hi 81"), "{two}");
    assert!(two.contains("directory /srv/dep81"), "{two}");
}

/// RocketChat's fetch-and-unpack idioms import as native kinds and converge on a real host:
/// `get_url` with `force: yes` and a `checksum` that is `omit` unless checked (a `download:`
/// whose `sha256` renders to nothing), `unarchive` of that archive on the host (`copy: false`,
/// `creates`, owner/group → `unarchive:`, known after the download), `chown U.G -R {{ p |
/// quote }}` (a recursive `directory:`), and `apt_key` from a keyserver (a `download:` of its
/// HKP lookup, checked by `play check` only: no keyserver on loopback). No `command:` is
/// written; a second `diff --exit-code` finds nothing to do.
#[test]
fn fetch_and_unpack_idioms_import_as_native_kinds_and_converge() {
    let lab = Lab::start("archives-imported", 1);
    lab.sh(
        "h1",
        "mkdir -p /srv/mirror/bundle && printf 'v1\\n' > /srv/mirror/bundle/main.js && tar -czf /srv/mirror/rc.tgz -C /srv/mirror bundle && rm -r /srv/mirror/bundle",
    );
    let (_tmp, out) = import_files(&[(
        "site.yml",
        r#"- hosts: lab
  vars:
    rc_path: /srv/rc
    rc_user: deploy
    rc_check: false
    rc_sum: 0
    ks: hkp://keyserver.ubuntu.com:80
    key_id: 0C49F3730359A14518585931BC711F9BA15703C6
  tasks:
    - file: path={{ rc_path }} state=directory owner={{ rc_user }}
    - get_url:
        url: file:///srv/mirror/rc.tgz
        checksum: "{{ (rc_check == false) | ternary(omit, 'sha256: ' + (rc_sum|string)) }}"
        force: yes
        dest: "{{ rc_path }}/rc.tgz"
        owner: "{{ rc_user }}"
    - unarchive:
        copy: false
        src: "{{ rc_path }}/rc.tgz"
        dest: "{{ rc_path }}"
        creates: "{{ rc_path }}/bundle"
        owner: "{{ rc_user }}"
        group: "{{ rc_user }}"
    - command: >-
        chown {{ rc_user }}.{{ rc_user }}
        -R {{ rc_path | quote }}
      args:
        warn: no
    - apt_key:
        keyserver: "{{ ks }}"
        id: "{{ key_id }}"
      when: false
"#,
    )]);
    let site = checked_site(
        &out,
        &[
            "- unarchive: \"{{ rc_path }}\"",
            "src: \"{{ rc_path }}/rc.tgz\"",
            "sha256: \"{{ (rc_check == false) | ternary(omit, 'sha256: ' + (rc_sum|string)) }}\"",
            "search=0x{{ key_id | regex_replace('^0x', '') }}",
        ],
    );
    assert_eq!(site.matches("- command:").count(), 0, "{site}");
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.play(&["apply", "playbooks/site.yml"])
        .code(0)
        .shows("(known after download /srv/rc/rc.tgz)");
    assert_eq!(
        lab.sh(
            "h1",
            "cat /srv/rc/bundle/main.js; stat -c %U:%G /srv/rc/bundle/main.js"
        ),
        "v1\ndeploy:deploy\n"
    );
    let run = p
        .play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
}

/// Registered commands: the read-only ones (by the documented allow-list, with their `chdir`,
/// `become_user`, `loop` and `when`) become gathered values of the role and of the play, a
/// fact printed by `lsb_release -cs` becomes a var of that fact, and the others stay commands
/// or are left out, as before; uses of the gathered values check clean (no "undefined").
#[test]
fn registered_read_only_commands_become_gathered_values() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  roles: [app]
  tasks:
    - name: Timestamp
      shell: "date -u +%Y%m%d%H%M%S"
      register: stamp
    - name: Release folder
      file: path=/srv/releases/{{ stamp.stdout }} state=directory
"#,
        ),
        (
            "roles/app/defaults/main.yml",
            "app_dir: /srv/app\nrubies: [ruby-3.2, ruby-3.3]\nrvm: /usr/local/rvm/bin/rvm\n",
        ),
        (
            "roles/app/tasks/main.yml",
            r#"- name: Read needed Ruby version
  shell: "cat .ruby-version"
  args:
    chdir: "{{ app_dir }}"
  register: ruby_version
  become_user: deploy
- name: Installed rubies
  shell: "{{ rvm }} list strings | grep {{ item }} | tail -n 1"
  with_items: "{{ rubies }}"
  changed_when: false
  register: ruby_patch
- name: Codename
  shell: lsb_release -cs
  register: codename
- name: Running process
  shell: "ps -ef | grep -v grep | grep -w puma | awk '{print $2}'"
  register: running
  when: app_dir is defined
- name: Secret
  shell: "bin/rake secret"
  args:
    chdir: "{{ app_dir }}"
  register: secret
- name: Keys (changed_when false is no proof)
  shell: "gpg --batch --recv-keys ABC"
  changed_when: false
  register: gpg_import
- name: Ruby version file
  copy:
    dest: /etc/ruby-version
    content: "{{ ruby_version.stdout }} {{ codename.stdout }}\n"
- name: Kill the old process
  command: "kill {{ running.stdout }}"
  when: running.stdout != ''
- name: Bundler per ruby
  command: "gem install bundler --version {{ item.stdout }}"
  with_items: "{{ ruby_patch.results }}"
"#,
        ),
    ]);
    let gather = read(&out.join("roles/app/gather.yml"));
    for want in [
        "ruby_version:\n  command: cat .ruby-version\n  chdir: '{{ app_dir }}'\n  user: deploy\n",
        "ruby_patch:\n  command: '{{ rvm }} list strings | grep {{ item }} | tail -n 1'\n  loop: '{{ rubies }}'\n",
        "running:\n  command: ps -ef | grep -v grep | grep -w puma | awk '{print $2}'\n  when: app_dir is defined\n",
    ] {
        assert!(gather.contains(want), "no {want:?} in\n{gather}");
    }
    assert!(
        !gather.contains("secret") && !gather.contains("gpg"),
        "{gather}"
    );
    let defaults = read(&out.join("roles/app/defaults.yml"));
    assert!(
        defaults.contains("codename:\n  stdout: '{{ facts.os_codename }}'"),
        "{defaults}"
    );
    let site = checked_site(
        &out,
        &["  gather:\n    stamp:\n      command: date -u +%Y%m%d%H%M%S\n"],
    );
    assert!(site.contains("/srv/releases/{{ stamp.stdout }}"), "{site}");
    let state = read(&out.join("roles/app/state.yml"));
    assert!(state.contains("- command: bin/rake secret"), "{state}");
    assert!(state.contains("when: \"running.stdout != ''\""), "{state}");
    assert!(
        state.contains("loop: \"{{ ruby_patch.results }}\""),
        "{state}"
    );
    let md = read(&out.join("IMPORT.md"));
    for want in [
        "| Read needed Ruby version | `shell` | gathered value `ruby_version` (read-only command) in `roles/app/gather.yml` |",
        "| Timestamp | `shell` | gathered value `stamp` (read-only command) in the play's `gather:` in `playbooks/site.yml` |",
        "| Codename | `shell` | vars of `roles/app/defaults.yml` | `lsb_release -cs` prints a fact",
    ] {
        assert!(md.contains(want), "no {want:?} in\n{md}");
    }
    assert!(!md.contains("| Secret | `shell` | gathered"), "{md}");
    // `changed_when: false` is no proof: not a gather, left as before.
    assert!(
        md.contains(
            "| Keys (changed_when false is no proof) | `shell` | **left out**: a read-only check"
        ),
        "{md}"
    );
    // Offline, the gathered values are stand-ins, said by --show.
    let show = play(
        &out,
        &["check", "-i", "inventory", "--color", "never", "--show"],
    );
    assert!(
        show.stdout.contains("gather ruby_version  # roles/app/gather.yml:2:1 (a stand-in offline: stdout: \"\", rc: 0"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("results: []"), "{}", show.stdout);
}

/// beehve's firewall, zone and name steps (`action: shell ufw allow ssh`, `echo 'y' | ufw
/// enable`, a template of /etc/timezone holding `{{ timezone }}` then `dpkg-reconfigure tzdata`
/// when it changed, a template of /etc/hostname then `hostname {{ app_name }}`), the modules
/// `ufw`, `timezone` and `hostname`, and `timedatectl set-timezone` import as `ufw:`,
/// `timezone:` and `hostname:` and check clean; a zone file of other content stays a file
/// and its reconfigure a command run on its change; what `ufw:` cannot say stays a command.
#[test]
fn firewall_zone_and_name_steps_import_as_their_kinds() {
    let (tmp, out) = import_files(&[
        (
            "hosts",
            "[web]\nweb1 ansible_host=127.0.0.1\n[db]\ndb1 ansible_host=127.0.0.2\n[mail]\nmail1 ansible_host=127.0.0.3\n[tokyo]\ntokyo1 ansible_host=127.0.0.4\n",
        ),
        ("roles/common/templates/timezone.conf", "{{ timezone }}\n"),
        ("roles/common/templates/hostname.conf", "{{app_name}}\n"),
        (
            "roles/common/tasks/main.yml",
            r#"---
  - name: Allow ssh in firewall
    action: shell ufw allow ssh
  - name: Allow http in firewall
    action: shell ufw allow http
  - name: Enable UFW
    action: shell echo 'y' | ufw enable
  - name: Set timezone
    template: src=timezone.conf dest=/etc/timezone
    register: tzdata
  - name: Update timezone
    command: dpkg-reconfigure -f noninteractive tzdata
    when: tzdata.changed
  - name: Ensure we have a hostname configured
    template: src=hostname.conf dest=/etc/hostname
  - name: Ensure the configured hostname is acceptable
    shell: hostname {{ app_name }}
"#,
        ),
        ("roles/legacy/templates/tz.j2", "# zone\n{{ zone }}\n"),
        (
            "roles/legacy/tasks/main.yml",
            r#"- template: src=tz.j2 dest=/etc/timezone
  register: tz
- command: dpkg-reconfigure -f noninteractive tzdata
  when: tz.changed
"#,
        ),
        (
            "site.yml",
            r#"- hosts: web
  roles: [common]
  vars:
    timezone: Europe/Paris
    app_name: beehve
- hosts: db
  roles: [legacy]
  vars:
    zone: Etc/UTC
- hosts: mail
  vars:
    app_name: mail
  tasks:
    - ufw: rule=allow port=5432 proto=tcp from_ip=10.0.0.0/8
    - ufw: rule=limit name=OpenSSH
    - ufw: rule=deny port=25 direction=out
    - ufw: rule=allow port=80 delete=yes
    - ufw: state=enabled policy=deny
    - ufw: rule=allow port=53 interface=eth0
    - hostname: name={{ app_name }}
    - timezone: name=America/New_York hwclock=UTC
- hosts: tokyo
  tasks:
    - command: timedatectl set-timezone Asia/Tokyo
"#,
        ),
    ]);
    checks_clean(&out);
    let role = read(&out.join("roles/common/state.yml"));
    for want in [
        "- ufw: allow ssh\n",
        "- ufw: allow http\n",
        "- ufw: enabled\n",
        "- timezone: \"{{ timezone }}\"\n",
        "- hostname: \"{{ app_name }}\"\n",
    ] {
        assert!(role.contains(want), "no {want:?} in\n{role}");
    }
    for gone in [
        "dpkg-reconfigure",
        "command:",
        "/etc/timezone",
        "/etc/hostname",
    ] {
        assert!(!role.contains(&format!("- {gone}")), "{gone} in\n{role}");
    }
    assert_eq!(role.matches("- hostname:").count(), 1, "{role}");
    // another content: the file stays, and the reconfigure runs on its change
    let legacy = read(&out.join("roles/legacy/state.yml"));
    assert!(legacy.contains("- file: /etc/timezone\n"), "{legacy}");
    assert!(
        legacy.contains("- command: dpkg-reconfigure -f noninteractive tzdata\n"),
        "{legacy}"
    );
    assert!(legacy.contains("on_change: [/etc/timezone]"), "{legacy}");
    let pb = read(&out.join("playbooks/site.yml"));
    for want in [
        "- ufw: allow 5432/tcp\n      from: 10.0.0.0/8\n",
        "- ufw: limit OpenSSH\n",
        "- ufw: deny 25\n      direction: out\n",
        "- ufw: allow 80\n      state: absent\n",
        "- command: ufw default deny incoming\n      unless: \"grep -qx 'DEFAULT_INPUT_POLICY=\\\"DROP\\\"' /etc/default/ufw\"\n",
        "- ufw: enabled\n",
        "- hostname: \"{{ app_name }}\"\n",
        "- timezone: America/New_York\n",
        "- timezone: Asia/Tokyo\n",
        "ufw → command (`interface` has no play form)",
        "- command: ufw allow in on eth0 from any to any port 53\n",
    ] {
        assert!(pb.contains(want), "no {want:?} in\n{pb}");
    }
    let md = read(&out.join("IMPORT.md"));
    for want in [
        "`dpkg-reconfigure tzdata` after /etc/timezone: `timezone:` sets /etc/localtime itself",
        "`hwclock`",
    ] {
        assert!(md.contains(want), "no {want:?} in\n{md}");
    }
    drop(tmp);
}

/// TLS material (RocketChat's, mangaki's, consul's and trellis' forms): `openssl genrsa`
/// (`-out` and `>`), `openssl dhparam`, `openssl req -x509 -newkey … -keyout … -out …` and
/// community.crypto's `openssl_privatekey`, `openssl_dhparam`, `openssl_csr` and
/// `openssl_certificate` (selfsigned, its subject from the CSR task) import as `private_key:`,
/// `dhparam:`, `certificate:` and `csr:` entries `play check` accepts (a CSR's common name is
/// requested as its subjectAltName when it names none, as openssl_csr does); a provider other
/// than selfsigned, or a CSR with key usages, is left out saying why.
#[test]
fn openssl_idioms_and_crypto_modules_import_as_tls_kinds_and_check_clean() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  vars:
    key: /etc/ssl/private/site.key
    cert: /etc/ssl/certs/site.pem
    host: site.example
    bits: 2048
  tasks:
    - name: account key
      shell: openssl genrsa -out /etc/acme/account.key 4096
      args:
        creates: /etc/acme/account.key
    - name: site keys
      shell: openssl genrsa 4096 > /etc/acme/{{ item }}.key
      args:
        creates: /etc/acme/{{ item }}.key
      loop: [a, b]
    - name: snakeoil
      command: |
        openssl req
          -x509 -newkey rsa:4096 -nodes
          -subj "/CN={{ host }}/O=Example"
          -keyout {{ key }}
          -out {{ cert }}
          -days 3650
      args:
        creates: "{{ cert }}"
    - name: dh
      shell: openssl dhparam -out /etc/nginx/dh.pem {{ bits }}
      args:
        creates: /etc/nginx/dh.pem
    - name: a csr for letsencrypt
      shell: openssl req -new -sha256 -key {{ key }} -subj "/CN={{ host }}" -out /etc/acme/site.csr
      args:
        creates: /etc/acme/site.csr
    - openssl_privatekey:
        path: /etc/le/privkey.pem
        type: ECC
        curve: secp384r1
    - openssl_csr:
        path: /etc/le/site.csr
        privatekey_path: /etc/le/privkey.pem
        common_name: "{{ host }}"
        subject_alt_name: ["DNS:{{ host }}"]
    - community.crypto.openssl_csr:
        path: /etc/le/other.csr
        privatekey_path: /etc/le/privkey.pem
        common_name: other.example
        digest: sha384
        mode: "0640"
    - openssl_csr:
        path: /etc/le/client.csr
        privatekey_path: /etc/le/privkey.pem
        common_name: client
        extended_key_usage: [clientAuth]
    - community.crypto.openssl_certificate:
        path: /etc/le/fullchain.pem
        privatekey_path: /etc/le/privkey.pem
        csr_path: /etc/le/site.csr
        provider: selfsigned
        selfsigned_not_after: "+365d"
    - openssl_dhparam:
        path: /etc/le/dh.pem
        size: 1024
    - x509_certificate:
        path: /etc/le/acme.pem
        privatekey_path: /etc/le/privkey.pem
        csr_path: /etc/le/site.csr
        provider: acme
"#,
        ),
    ]);
    let pb = checked_site(
        &out,
        &[
            "- private_key: /etc/acme/account.key\n      size: 4096\n",
            "- private_key: \"/etc/acme/{{ item }}.key\"\n      size: 4096\n      loop: [a, b]\n",
            "- private_key: \"{{ key }}\"\n      size: 4096\n",
            "- certificate: \"{{ cert }}\"\n      private_key: \"{{ key }}\"\n      subject: \"/CN={{ host }}/O=Example\"\n      days: 3650\n",
            "- dhparam: /etc/nginx/dh.pem\n      size: \"{{ bits }}\"\n",
            "- private_key: /etc/le/privkey.pem\n      type: ecdsa\n      curve: secp384r1\n",
            "- certificate: /etc/le/fullchain.pem\n      private_key: /etc/le/privkey.pem\n      subject: \"/CN={{ host }}\"\n      subject_alt_name: [\"DNS:{{ host }}\"]\n      days: 365\n",
            "- dhparam: /etc/le/dh.pem\n      size: 1024\n",
            "- csr: /etc/acme/site.csr\n      private_key: \"{{ key }}\"\n      subject: \"/CN={{ host }}\"\n",
            "- csr: /etc/le/site.csr\n      private_key: /etc/le/privkey.pem\n      subject: \"/CN={{ host }}\"\n      subject_alt_name: [\"DNS:{{ host }}\"]\n",
            "- csr: /etc/le/other.csr\n      private_key: /etc/le/privkey.pem\n      subject: /CN=other.example\n      subject_alt_name: [DNS:other.example]\n      digest: sha384\n      mode: 0640\n",
        ],
    );
    assert_eq!(pb.matches("- command:").count(), 0, "{pb}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("play makes self-signed certificates only"),
        "{md}"
    );
    assert!(
        md.contains("openssl_csr with `extended_key_usage`: play requests the subjectAltName extension only"),
        "{md}"
    );
}

/// ACME certificates (consul-installer's and tournesol's forms): `sudo certbot --nginx …`,
/// `certbot certonly --nginx --expand -d A,B` and `certbot certonly --standalone -d D -n
/// --agree-tos -m E` with `creates: /etc/letsencrypt/live/D/fullchain.pem` and a `when:`
/// import as `certbot:` entries `play check` accepts, the guard kept, the task's
/// `environment:` carried; `certbot renew` and an unknown flag stay commands.
#[test]
fn certbot_lines_import_as_certbot_entries_and_check_clean() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  vars:
    domain: example.org
    errbit_domain: errbit.example.org
    letsencrypt_email: ops@example.org
  tasks:
    - name: Grab Certbot certificate
      command: "sudo certbot --nginx --noninteractive --agree-tos --email {{ letsencrypt_email }} -d {{ domain }}"
      when: not lookup("env", "CI")
    - name: Generate SSL certificate
      command: "certbot certonly --nginx --noninteractive --agree-tos --expand -d {{ domain }},{{ errbit_domain }} --cert-name errbit"
    - name: Run Certbot for frontend
      shell:
        cmd: "certbot certonly --standalone -d api.{{ domain }} -n --agree-tos -m {{ letsencrypt_email }}"
        creates: /etc/letsencrypt/live/api.{{ domain }}/fullchain.pem
      environment:
        REQUESTS_CA_BUNDLE: /etc/ssl/private-ca.pem
    - name: renew
      command: certbot renew --quiet
    - name: redirect
      command: certbot --nginx -d {{ domain }} --redirect
"#,
        ),
    ]);
    let pb = checked_site(
        &out,
        &[
            "- certbot: \"{{ domain }}\"\n      email: \"{{ letsencrypt_email }}\"\n      method: nginx\n      certonly: false\n      when: \"not lookup(\\\"env\\\", \\\"CI\\\")\"\n",
            "- certbot: errbit\n      domains: [\"{{ domain }}\", \"{{ errbit_domain }}\"]\n      method: nginx\n",
            "- certbot: \"api.{{ domain }}\"\n      email: \"{{ letsencrypt_email }}\"\n      method: standalone\n      environment: {REQUESTS_CA_BUNDLE: /etc/ssl/private-ca.pem}\n",
            "- command: certbot renew --quiet",
        ],
    );
    assert_eq!(pb.matches("- command:").count(), 2, "{pb}");
    assert_eq!(pb.matches("- certbot:").count(), 3, "{pb}");
    let md = read(&out.join("IMPORT.md"));
    assert!(md.contains("`creates:` dropped"), "{md}");
}

/// A supervisor conf template with two `[program:]` sections (the second under
/// `{% if with_beat %}`, keys after its `{% endif %}`, each `environment` a loop over a
/// mapping: mangaki's celery.conf.j2) imports as `program:` resources, the `supervisorctl
/// state=present` tasks as those programs; a `state: absent` of a folder a later looped link
/// replaces, and a `lineinfile` through a link (consul-installer's `current/log` and
/// `current/config/secrets.yml`), no longer collide with the links. On a lab host both
/// programs run with their environment, the folder (with a file in it) is a link, the edit
/// is in the link's target, and a second `diff --exit-code` finds nothing to do.
#[test]
fn two_program_confs_and_paths_declared_twice_import_and_converge() {
    let lab = Lab::start("import-programs-links", 1);
    lab.sh(
        "h1",
        "mkdir -p /srv/cons/current/log /srv/cons/current/config /srv/cons/shared/log /srv/cons/shared/tmp /srv/cons/shared/config \
         && echo old > /srv/cons/current/log/production.log \
         && printf 'server_name: x\\nforce_ssl: true\\n' > /srv/cons/shared/config/secrets.yml",
    );
    let (_tmp, out) = import_files(&[
        ("group_vars/all.yml", "shared_dirs: [tmp, log]\n"),
        (
            "templates/workers.conf.j2",
            r#"{{ ansible_managed|comment(decoration='; ') }}

[program:{{ worker_name}}]
command = /bin/sleep 1000
environment = {% for key, value in worker_env.items() %}{{ key }}="{{ value }}",{% endfor %}

{% if with_beat %}
[program:{{ worker_name }}-beat]
command = /bin/sleep 1001
environment = {% for key, value in worker_env.items() %} {{ key }}="{{ value }}", {% endfor %}
{% endif %}

; applies to the last section read
stopwaitsecs = 7
"#,
        ),
        (
            "site.yml",
            r#"- hosts: lab
  vars:
    worker_name: imp-worker
    with_beat: true
    worker_env:
      APP_MODE: prod
      APP_ID: "{{ worker_name }}"
    release_dir: /srv/cons/current
    shared_dir: /srv/cons/shared
  tasks:
    - name: Supervisor conf.
      template: src=workers.conf.j2 dest=/etc/supervisor/conf.d/workers.conf
    - name: Run the worker.
      supervisorctl: name={{ worker_name }} state=present
    - name: Run beat.
      supervisorctl: name={{ worker_name }}-beat state=present
      when: with_beat
    - name: Remove log folder
      file: path={{ release_dir }}/log state=absent
    - name: Link shared folders
      file: src={{ shared_dir }}/{{ item }} dest={{ release_dir }}/{{ item }} state=link
      with_items: "{{ shared_dirs }}"
    - name: Link the secrets
      file: src={{ shared_dir }}/config/{{ item }} dest={{ release_dir }}/config/{{ item }} state=link
      with_items: [secrets.yml]
    - name: Host in secrets.yml
      lineinfile: 'dest={{ release_dir }}/config/secrets.yml regexp=server_name line="server_name: h1"'
    - name: No forced https
      replace: 'dest={{ shared_dir }}/config/secrets.yml regexp="force_ssl. true" replace="force_ssl: false"'
"#,
        ),
    ]);
    let site = checked_site(
        &out,
        &[
            "- program: \"{{ worker_name }}\"",
            "- program: \"{{ worker_name }}-beat\"",
            "environment: \"{{ worker_env }}\"",
            "when: not (with_beat)",
            "replace_folder: true",
            "- line: \"{{ shared_dir }}/config/secrets.yml\"",
        ],
    );
    // the worker twice (with and without the trailing key), beat once; no command
    assert_eq!(site.matches("- program:").count(), 3, "{site}");
    assert_eq!(site.matches("- command:").count(), 0, "{site}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("program `{{ worker_name }}` (play loads and starts it)"),
        "{md}"
    );
    assert!(
        md.contains("`replace_folder: true` of the link `{{ release_dir }}/log`"),
        "{md}"
    );
    // without beat, the worker takes the trailing key: still one program per name
    let off = play(
        &out,
        &[
            "check",
            "-i",
            "inventory",
            "-e",
            "with_beat=false",
            "--color",
            "never",
        ],
    );
    assert!(off.stdout.contains("0 problem(s)"), "{}", off.stdout);

    // the lab project's inventory, with the var the imported group_vars/all.yml gives
    let p = Project::new(&lab).var("shared_dirs", "[tmp, log]");
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    let status = lab.sh(
        "h1",
        "supervisorctl status imp-worker imp-worker-beat | awk '{print $1, $2}'",
    );
    assert_eq!(status, "imp-worker RUNNING\nimp-worker-beat RUNNING\n");
    let confs = lab.sh(
        "h1",
        "grep -h -e '^environment' -e '^stopwaitsecs' /etc/supervisor/conf.d/imp-worker.conf; echo --; grep -h '^stopwaitsecs' /etc/supervisor/conf.d/imp-worker-beat.conf",
    );
    assert!(
        confs.contains("APP_MODE=\"prod\"") && confs.contains("APP_ID=\"imp-worker\""),
        "{confs}"
    );
    // with beat, the trailing key is beat's only
    assert!(
        confs.ends_with("--\nstopwaitsecs=7\n") && confs.matches("stopwaitsecs").count() == 1,
        "{confs}"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "readlink /srv/cons/current/log /srv/cons/current/tmp; cat /srv/cons/shared/config/secrets.yml; test -L /srv/cons/current/config/secrets.yml && echo link; ls /srv/cons/shared/log | wc -l"
        ),
        "/srv/cons/shared/log\n/srv/cons/shared/tmp\nserver_name: h1\nforce_ssl: false\nlink\n0\n"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
}

/// pip into a virtualenv: a requirements path joined to a var with `..` (mangaki's
/// `{{ pkg }}../requirements/dev.txt`, the var `/vagrant/mangaki/` on its dev host) is a
/// `venv:` whose requirements play folds with `normpath`; names `venv:` cannot take (a
/// `git+https` URL) stay a command that says which.
#[test]
fn pip_requirements_with_dotdot_are_normalized_and_urls_say_why_not() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[dev]\nvm ansible_host=127.0.0.1\n"),
        ("host_vars/vm", "app_package: /vagrant/app/\n"),
        ("site.yml", "- hosts: dev\n  roles: [app]\n"),
        (
            "roles/app/defaults/main.yml",
            "app_package: /srv/app/src/\n",
        ),
        (
            "roles/app/tasks/main.yml",
            r#"- name: Tools.
  pip:
    name: [pip, 'git+https://github.com/mangaki/zero']
    state: latest
    virtualenv: /srv/venv
- name: Dev requirements.
  pip:
    requirements: '{{ app_package }}../requirements/dev.txt'
    virtualenv: /srv/venv
"#,
        ),
    ]);
    let state = read(&out.join("roles/app/state.yml"));
    assert!(
        state.contains(
            "requirements: \"{{ (app_package ~ '../requirements/dev.txt') | normpath }}\""
        ),
        "{state}"
    );
    assert!(
        state.contains("`git+https://github.com/mangaki/zero` not NAME or NAME==VERSION"),
        "{state}"
    );
    assert_eq!(state.matches("- command:").count(), 1, "{state}");
    // clean: `venv:` refuses a requirements path with `..`, so it rendered folded
    checks_clean(&out);
}

/// Ansible's `find` (globs, a regex with a lookahead, one on the controller over the role's
/// templates), a `stat` loop whose results a later loop reads, and `set_fact`s (one var set in
/// two blocks with opposite `when`s; one of a changing command's output): gathers and vars,
/// and the project checks clean, the controller's find read for real.
#[test]
fn finds_stat_loops_and_set_facts_import_as_gathers_and_vars() {
    // the source stays: `playbook_dir` is its folder (the role's templates the find lists)
    let (_src, _out_tmp, out) = import_files_kept(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        ("site.yml", "- hosts: web\n  roles: [web]\n"),
        (
            "roles/web/defaults/main.yml",
            "php_version: \"8.3\"\ncopy_folders: [vendor, node_modules]\nmultisite: false\n",
        ),
        ("roles/web/templates/filters/wp.conf.j2", "[Definition]\n"),
        (
            "roles/web/tasks/main.yml",
            r#"- name: Find stale sources
  find:
    paths: /etc/apt/sources.list.d
    patterns: ['*.list', '*.list.save']
    use_regex: false
  register: stale_sources
- name: Remove stale sources
  file: {path: "{{ item.path }}", state: absent}
  loop: "{{ stale_sources.files }}"
  when: stale_sources.matched > 0
- name: Find old fpm services
  find:
    paths: /etc/init.d
    patterns: "^php((?!{{ php_version }})(\\d\\.\\d))-fpm$"
    use_regex: true
  register: old_fpm
- name: Stop old fpm services
  service: {name: "{{ item.path | basename }}", state: stopped, enabled: false}
  loop: "{{ old_fpm.files }}"
- name: Check project folders
  stat: {path: "/srv/app/{{ item }}"}
  register: folder_paths
  loop: "{{ copy_folders }}"
- name: Copy project folders
  copy: {src: "/srv/app/{{ item.item }}/", dest: "/srv/new/{{ item.item }}", remote_src: true}
  loop: "{{ folder_paths.results }}"
  when: item.stat.exists
- name: Filter templates
  find: {paths: "{{ playbook_dir }}/roles/web/templates/filters", pattern: "*.conf.j2"}
  delegate_to: localhost
  register: filter_templates
- name: Template filters
  template:
    src: "{{ item }}"
    dest: "/etc/fail2ban/filter.d/{{ item | basename | regex_replace('.j2$', '') }}"
  loop: "{{ filter_templates.files | map(attribute='path') | list | sort(True) }}"
- name: Single site
  block:
    - command: wp core is-installed
      args: {chdir: /srv/www}
      register: wp_single
      changed_when: false
    - set_fact: {wp_installed: "{{ wp_single }}"}
  when: not multisite
- name: Multisite
  block:
    - command: wp core is-installed --network
      args: {chdir: /srv/www}
      register: wp_multi
      changed_when: false
    - set_fact: {wp_installed: "{{ wp_multi }}"}
  when: multisite
- name: Mark installed
  copy: {content: "yes\n", dest: /srv/www/installed}
  when: wp_installed.rc == 0
- name: Make a release
  command: /usr/local/bin/make-release
  register: made
- name: Remember it
  set_fact: {release_id: "{{ made.stdout }}"}
"#,
        ),
    ]);
    let gathers = read(&out.join("roles/web/gather.yml"));
    for want in [
        "stale_sources:",
        "find:",
        "use_regex: true",
        "folder_paths:",
        "stat: /srv/app/{{ item }}",
        "filter_templates:",
        "local: true",
        "wp_single:",
    ] {
        assert!(gathers.contains(want), "no {want:?} in\n{gathers}");
    }
    let vars = read(&out.join("roles/web/defaults.yml"));
    assert!(
        vars.contains("wp_installed: '{{ (wp_multi) if (multisite) else (wp_single) }}'"),
        "{vars}"
    );
    assert!(!vars.contains("release_id"), "{vars}");
    let md = read(&out.join("IMPORT.md"));
    let row = |title: &str| {
        md.lines()
            .find(|l| l.contains(title))
            .unwrap_or_else(|| panic!("no row {title} in\n{md}"))
            .to_string()
    };
    assert!(
        row("Remember it").contains("a value made at run time (`made`"),
        "{md}"
    );
    assert!(
        row("Filter templates").contains("on the controller"),
        "{md}"
    );
    assert!(!row("Find old fpm services").contains("left out"), "{md}");
    checks_clean(&out);
    // The controller's find is read when play resolves, offline too: the role's template.
    let show = play(
        &out,
        &["check", "-i", "inventory", "--color", "never", "--show"],
    );
    assert!(
        show.stdout.contains("file /etc/fail2ban/filter.d/wp.conf"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("files: [], matched: 0"),
        "{}",
        show.stdout
    );
}

/// Ansible's `deploy_helper` (initialize, a template and a shared link into the new release,
/// finalize) imported and applied to a lab host: the release exists, `current` points at it,
/// the unfinished file is gone, and every apply makes a new release named after the run's
/// time, as Ansible's module does without `release` (it is not idempotent: a second `diff`
/// has changes again); the cleaning keeps `keep_releases` besides the new one and removes an
/// unfinished release; `diff --out` then `apply --plan` deploys the release the plan named.
#[test]
fn deploy_helper_imports_and_deploys_releases_on_a_host() {
    let lab = Lab::start("deploy-helper", 1);
    let (_tmp, out) = import_files(&[
        ("site.yml", "- hosts: lab\n  roles:\n    - app\n"),
        (
            "roles/app/tasks/main.yml",
            r#"- name: Initialize
  community.general.deploy_helper:
    path: /srv/dh
- name: Create the new release
  file:
    path: "{{ deploy_helper.new_release_path }}"
    state: directory
- name: Mark it unfinished
  file:
    path: "{{ deploy_helper.new_release_path }}/{{ deploy_helper.unfinished_filename }}"
    state: touch
- name: Config
  template:
    src: app.conf.j2
    dest: "{{ deploy_helper.new_release_path }}/app.conf"
- name: Shared data
  file:
    path: "{{ deploy_helper.shared_path }}/data"
    state: directory
- name: Link the shared data
  file:
    src: "{{ deploy_helper.shared_path }}/data"
    path: "{{ deploy_helper.new_release_path }}/data"
    state: link
- name: Finalize
  community.general.deploy_helper:
    path: /srv/dh
    release: "{{ deploy_helper.new_release }}"
    state: finalize
    keep_releases: 2
"#,
        ),
        (
            "roles/app/templates/app.conf.j2",
            "release={{ deploy_helper.new_release }} previous={{ deploy_helper.previous_release | default('', true) }}\n",
        ),
    ]);
    checks_clean(&out);
    let import_md = read(&out.join("IMPORT.md"));
    assert!(import_md.contains("play_run_time.stamp"), "{import_md}");
    let defaults = read(&out.join("roles/app/defaults.yml"));
    assert!(defaults.contains("deploy_helper:"), "{defaults}");
    let state = read(&out.join("roles/app/state.yml"));
    assert!(
        state.contains("- link: \"{{ deploy_helper.current_path }}\""),
        "{state}"
    );
    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.copy_tree(&out.join("roles"), "roles");
    let releases = || lab.sh("h1", "ls /srv/dh/releases");
    let current = || lab.sh("h1", "readlink /srv/dh/current");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    let first = releases().trim().to_string();
    assert_eq!(first.len(), 14, "one release named %Y%m%d%H%M%S: {first:?}");
    assert_eq!(current(), format!("/srv/dh/releases/{first}\n"));
    assert_eq!(
        lab.sh(
            "h1",
            "cat /srv/dh/current/app.conf; readlink /srv/dh/current/data; ls -d /srv/dh/shared"
        ),
        format!("release={first} previous=\n/srv/dh/shared/data\n/srv/dh/shared\n")
    );
    assert_eq!(
        lab.sh("h1", "ls -A /srv/dh/current/ | tr '\\n' ' '"),
        "app.conf data "
    );
    // A second run is a new release, as Ansible's (the run's time names it); a release an
    // interrupted run left unfinished is cleaned at the finalize.
    lab.sh(
        "h1",
        "mkdir -p /srv/dh/releases/19990101000000 && touch /srv/dh/releases/19990101000000/DEPLOY_UNFINISHED",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(2);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    let now: Vec<String> = releases().lines().map(str::to_string).collect();
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[0], first);
    let second = now[1].clone();
    assert_eq!(current(), format!("/srv/dh/releases/{second}\n"));
    assert_eq!(
        lab.sh("h1", "cat /srv/dh/current/app.conf"),
        format!("release={second} previous={first}\n"),
        "previous_release is the current link's target read in the probe"
    );
    // diff --out, then apply --plan later: the release the plan named, not the apply's time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.play(&["diff", "--out", "plan.json", "playbooks/site.yml"])
        .code(0);
    let plan = read(&p.path("plan.json"));
    let at = plan
        .find("/srv/dh/releases/")
        .expect("a release in the plan")
        + 17;
    let planned = plan[at..at + 14].to_string();
    assert!(planned > second, "{planned} after {second}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.play(&["apply", "--plan", "plan.json"]).code(0);
    assert_eq!(current(), format!("/srv/dh/releases/{planned}\n"));
    // keep_releases: 2 besides the new one: the first release is gone now.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    let now: Vec<String> = releases().lines().map(str::to_string).collect();
    assert_eq!(now.len(), 3, "{now:?}");
    assert_eq!(&now[..2], [second.clone(), planned.clone()]);
    assert_eq!(current(), format!("/srv/dh/releases/{}\n", now[2]));
    assert_eq!(
        lab.sh("h1", "find /srv/dh -name DEPLOY_UNFINISHED | wc -l"),
        "0\n"
    );
}

/// What trellis' deploy role does around `deploy_helper`, imported offline and checked clean:
/// a looped `file: state=absent` of the new release's shared paths then a link of each over
/// the same loop (the link replaces the folder: `replace_folder`), a registered read-only
/// check whose `chdir` is the new release (a gathered value read in `current`: the new
/// release does not exist when the probe runs), and a `set_fact` of one var under `when: W`
/// and again under `when: not W` (one var choosing between the two).
#[test]
fn trellis_idioms_around_deploy_helper_import_and_check_clean() {
    let (_tmp, out) = import_files(&[
        (
            "site.yml",
            "- hosts: lab\n  vars:\n    multisite: false\n  roles:\n    - deploy\n",
        ),
        (
            "roles/deploy/tasks/main.yml",
            r#"- deploy_helper:
    path: /srv/wp
- name: Shared paths are absent
  file:
    path: "{{ deploy_helper.new_release_path }}/{{ item.path }}"
    state: absent
  loop: "{{ shared_children }}"
- name: Shared links
  file:
    path: "{{ deploy_helper.new_release_path }}/{{ item.path }}"
    src: "{{ deploy_helper.shared_path }}/{{ item.src }}"
    state: link
  loop: "{{ shared_children }}"
- block:
    - name: Installed (single site)?
      command: wp core is-installed
      args:
        chdir: "{{ deploy_helper.new_release_path }}"
      register: installed_single
      changed_when: false
    - set_fact:
        wp_installed: "{{ installed_single }}"
  when: not multisite
- block:
    - name: Installed (multisite)?
      command: wp core is-installed --network
      args:
        chdir: "{{ deploy_helper.new_release_path }}"
      register: installed_multi
      changed_when: false
    - set_fact:
        wp_installed: "{{ installed_multi }}"
  when: multisite
- name: Flush the cache
  command: wp cache flush
  args:
    chdir: "{{ deploy_helper.current_path }}"
  when: wp_installed.rc == 0
- deploy_helper:
    path: /srv/wp
    release: "{{ deploy_helper.new_release }}"
    state: finalize
"#,
        ),
        (
            "roles/deploy/defaults/main.yml",
            "shared_children:\n  - {path: web/app/uploads, src: uploads}\n",
        ),
    ]);
    checks_clean(&out);
    let state = read(&out.join("roles/deploy/state.yml"));
    assert_eq!(state.matches("state: absent").count(), 1, "{state}");
    assert!(state.contains("replace_folder: true"), "{state}");
    let gather = read(&out.join("roles/deploy/gather.yml"));
    assert_eq!(
        gather
            .matches("chdir: '{{ deploy_helper.current_path }}'")
            .count(),
        2,
        "{gather}"
    );
    assert!(!gather.contains("new_release_path"), "{gather}");
    let defaults = read(&out.join("roles/deploy/defaults.yml"));
    assert!(
        defaults.contains(
            "wp_installed: '{{ (installed_multi) if (multisite) else (installed_single) }}'"
        ),
        "{defaults}"
    );
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("is the new release, which this run makes after the probe"),
        "{md}"
    );
    assert!(md.contains("one var `wp_installed`"), "{md}");
}

/// Ansible's `force: no` (consul-installer's rails role): a `copy` with `remote_src: yes` and a
/// `template` import as `file:` entries with `force: false`, native; on a lab host a
/// destination already there keeps its content (edited by hand), its mode is still enforced
/// and the plan says the content is kept; a missing one is written (the copy from the host's
/// file, the template rendered); a second `diff --exit-code` finds nothing to do.
#[test]
fn force_no_copies_and_templates_write_only_missing_files() {
    let lab = Lab::start("import-force-false", 1);
    lab.sh(
        "h1",
        "mkdir -p /srv/fno/release/config /srv/fno/shared/config \
         && printf 'secret: example\\n' > /srv/fno/release/config/secrets.yml.example \
         && printf 'secret: mine\\n' > /srv/fno/shared/config/secrets.yml \
         && chmod 644 /srv/fno/shared/config/secrets.yml",
    );
    let (_tmp, out) = import_files(&[
        ("templates/database.conf", "database = {{ db_name }}\n"),
        (
            "site.yml",
            r#"- hosts: lab
  vars:
    release_dir: /srv/fno/release
    shared_dir: /srv/fno/shared
    db_name: consul
  tasks:
    - name: Copy secrets configuration to shared folder
      copy:
        src: "{{ release_dir }}/config/secrets.yml.example"
        dest: "{{ shared_dir }}/config/secrets.yml"
        remote_src: yes
        force: no
        mode: "0600"
    - name: Copy database configuration to shared folder
      template:
        src: database.conf
        dest: "{{ shared_dir }}/config/database.conf"
        force: no
"#,
        ),
    ]);
    let site = read(&out.join("playbooks/site.yml"));
    assert!(
        site.contains("copy_of: \"{{ release_dir }}/config/secrets.yml.example\""),
        "{site}"
    );
    assert_eq!(site.matches("force: false").count(), 2, "{site}");
    assert_eq!(site.matches("- command:").count(), 0, "{site}");

    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.play(&["diff", "playbooks/site.yml"])
        .code(0)
        .shows("content kept: exists, force: false")
        .shows("+ create file /srv/fno/shared/config/database.conf");
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "cat /srv/fno/shared/config/secrets.yml /srv/fno/shared/config/database.conf; stat -c %a /srv/fno/shared/config/secrets.yml"
        ),
        "secret: mine\ndatabase = consul\n600\n"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
    // the template's file edited on the host stays as it is; removed, it is written again
    lab.sh(
        "h1",
        "printf 'edited\\n' > /srv/fno/shared/config/database.conf && rm /srv/fno/shared/config/secrets.yml",
    );
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "cat /srv/fno/shared/config/database.conf /srv/fno/shared/config/secrets.yml"
        ),
        "edited\nsecret: example\n"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);
}

/// A registered `stat` read by the `when` of a folder and a link (capistrano's "first
/// release", consul-installer's folder_structure): the condition stays, on a gathered `stat:`,
/// instead of being dropped — so the second apply (the folder exists now) leaves the link
/// where the first put it, where a dropped `when` would make a new release folder and switch
/// `current` to it at every run.
#[test]
fn a_stat_guarding_a_folder_and_a_link_stays_their_condition_on_the_host() {
    let lab = Lab::start("import-stat-when", 1);
    let (_tmp, out) = import_files(&[(
        "site.yml",
        r#"- hosts: lab
  tasks:
    - name: Check that the app exists
      stat: {path: /srv/sg}
      register: app_dir
    - when: app_dir.stat.exists == False
      block:
        - name: Create first release folder
          file: {path: "/srv/sg/releases/{{ stamp }}", state: directory}
        - name: Add symbolic link for current release folder
          file: {src: "/srv/sg/releases/{{ stamp }}", dest: /srv/sg/current, state: link}
"#,
    )]);
    let site = read(&out.join("playbooks/site.yml"));
    assert_eq!(
        site.matches("when: app_dir.stat.exists == False").count(),
        2,
        "{site}"
    );
    let md = read(&out.join("IMPORT.md"));
    assert!(!md.contains("dropped"), "{md}");
    assert!(
        site.contains("  gather:\n    app_dir:\n      stat: /srv/sg\n"),
        "{site}"
    );

    let p = Project::new(&lab);
    p.copy_tree(&out.join("playbooks"), "playbooks");
    p.play(&["apply", "-e", "stamp=1", "playbooks/site.yml"])
        .code(0);
    assert_eq!(
        lab.sh("h1", "readlink /srv/sg/current"),
        "/srv/sg/releases/1\n"
    );
    // the app exists now: a later run with another stamp changes nothing
    p.play(&["diff", "--exit-code", "-e", "stamp=2", "playbooks/site.yml"])
        .code(0);
    p.play(&["apply", "-e", "stamp=2", "playbooks/site.yml"])
        .code(0);
    assert_eq!(
        lab.sh("h1", "readlink /srv/sg/current; ls /srv/sg/releases"),
        "/srv/sg/releases/1\n1\n"
    );
}

/// The standalone dance (tournesol): nginx stopped when the lineage's certificate is missing,
/// then `certbot certonly --standalone`, nginx reloaded by a handler. In play the stop is a
/// step around the obtain, not state: the certbot's `pre_hook`/`post_hook` (`systemctl` from
/// `systemd:`, `service NAME stop|start` from `service:`), the stop (and a start right after
/// the certbot, with the stop's conditions) absorbed, the stat only the stop read no longer
/// gathered, IMPORT.md naming the certbot resource; the handler's service stays the one owner
/// of nginx and the project checks clean. A stop on another condition stays state.
#[test]
fn a_service_stopped_for_certbots_standalone_server_becomes_its_hooks() {
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  roles: [web]
  tasks:
    - name: Stop nginx for the api certificate
      service: {name: nginx, state: stopped}
    - name: Certificate for the api
      command: certbot certonly --standalone --cert-name api -d api.example.org --register-unsafely-without-email
    - name: Start nginx again
      service: {name: nginx, state: started}
"#,
        ),
        (
            "roles/web/defaults/main.yml",
            "domain: example.org\nemail: ops@example.org\n",
        ),
        (
            "roles/web/tasks/main.yml",
            r#"- name: Check if the certificate is present
  stat:
    path: /etc/letsencrypt/live/{{ domain }}/fullchain.pem
  register: cert_file
- name: Stop Nginx if the certificate is not present
  systemd:
    name: nginx
    state: stopped
  when: cert_file.stat.exists == False
- name: Run Certbot
  shell:
    cmd: "certbot certonly --standalone -d {{domain}} -n --agree-tos -m {{ email }}"
    creates: /etc/letsencrypt/live/{{ domain }}/fullchain.pem
- name: Nginx site
  copy: {content: "server {}\n", dest: /etc/nginx/sites-enabled/site}
  notify: Reload Nginx
"#,
        ),
        (
            "roles/web/handlers/main.yml",
            "- name: Reload Nginx\n  systemd: {name: nginx, state: reloaded}\n",
        ),
    ]);
    let role = read(&out.join("roles/web/state.yml"));
    assert!(
        role.contains("  method: standalone\n  pre_hook: systemctl stop nginx\n  post_hook: systemctl start nginx\n"),
        "{role}"
    );
    assert!(!role.contains("stopped"), "{role}");
    assert!(
        role.contains("- service: nginx\n  reload_on: [/etc/nginx/sites-enabled/site]\n"),
        "{role}"
    );
    assert!(
        !out.join("roles/web/gather.yml").exists(),
        "the stat is still gathered"
    );
    let site = read(&out.join("playbooks/site.yml"));
    assert!(
        site.contains("      pre_hook: service nginx stop\n      post_hook: service nginx start\n"),
        "{site}"
    );
    assert!(!site.contains("- service:"), "{site}");
    let md = read(&out.join("IMPORT.md"));
    let row = |task: &str| {
        md.lines()
            .find(|l| l.contains(&format!("| {task} |")))
            .unwrap_or_else(|| panic!("no row of {task} in\n{md}"))
            .to_string()
    };
    let stop = row("Stop Nginx if the certificate is not present");
    assert!(
        stop.contains("`roles/web/state.yml:")
            && stop.contains("certbot `{{domain}}`")
            && stop.contains("is `pre_hook: systemctl stop nginx` of certbot"),
        "{stop}"
    );
    assert!(
        row("Check if the certificate is present").contains("only the stop before certbot read it"),
        "{md}"
    );
    assert!(
        row("Start nginx again").contains("is `post_hook: service nginx start` of certbot `api`"),
        "{md}"
    );
    checks_clean(&out);

    // stopped on another condition: that is state, not a step of certbot
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "site.yml",
            r#"- hosts: web
  tasks:
    - name: Stop nginx in maintenance
      systemd: {name: nginx, state: stopped}
      when: maintenance | default(false)
    - name: Certificate
      command: certbot certonly --standalone -d example.org --register-unsafely-without-email
"#,
        ),
    ]);
    let site = read(&out.join("playbooks/site.yml"));
    assert!(site.contains("state: stopped"), "{site}");
    assert!(!site.contains("_hook"), "{site}");

    // a project renewing with an authenticator of its own (tournesol's certbot.service
    // override, `certbot --nginx -q renew`): hooks kept for renewals would stop nginx under
    // certbot's nginx plugin; the stop stays as it is, said why
    let (_tmp, out) = import_files(&[
        ("hosts", "[web]\nweb1 ansible_host=127.0.0.1\n"),
        (
            "templates/certbot.service",
            "[Service]\nType=oneshot\nExecStart=/usr/bin/certbot --nginx -q renew\n",
        ),
        (
            "site.yml",
            r#"- hosts: web
  tasks:
    - stat: {path: /etc/letsencrypt/live/example.org/fullchain.pem}
      register: cert_file
    - name: Stop Nginx if the certificate is not present
      systemd: {name: nginx, state: stopped}
      when: cert_file.stat.exists == False
    - name: Certificate
      command: certbot certonly --standalone -d example.org --register-unsafely-without-email
    - name: Renew through nginx
      template: {src: certbot.service, dest: /lib/systemd/system/certbot.service}
"#,
        ),
    ]);
    let site = read(&out.join("playbooks/site.yml"));
    assert!(site.contains("state: stopped"), "{site}");
    assert!(!site.contains("_hook"), "{site}");
    let md = read(&out.join("IMPORT.md"));
    assert!(
        md.contains("the project renews with an authenticator of its own (templates/certbot.service: `ExecStart=/usr/bin/certbot --nginx -q renew`)"),
        "{md}"
    );
}

/// The official RVM role (rvm1-ansible's layout, trimmed) under a folder name that does not
/// say rvm.
const RVM_ROLE: &[(&str, &str)] = &[
    (
        "tasks/main.yml",
        "- name: Install RVM\n  import_tasks: rvm.yml\n  become: yes\n  become_user: '{{ rvm1_user }}'\n- name: Install Ruby and Gems\n  import_tasks: rubies.yml\n  become: yes\n  become_user: '{{ rvm1_user }}'\n",
    ),
    (
        "tasks/rvm.yml",
        r#"- name: Detect rvm binary
  stat: path='{{ rvm1_rvm }}'
  register: rvm_binary
- name: Detect current rvm version
  command: '{{ rvm1_rvm}} version'
  changed_when: False
  register: rvm_current_version
  when: rvm_binary.stat.exists
- name: Install rvm installer
  get_url:
    url: '{{ rvm1_rvm_latest_installer }}'
    dest: '{{ rvm1_temp_download_path }}/rvm-installer.sh'
    mode: 0755
- name: Install rvm
  shell: >
    {{ rvm1_temp_download_path }}/rvm-installer.sh {{ rvm1_rvm_version }}
    --path {{ rvm1_install_path }} {{ rvm1_install_flags }}
  when: not rvm_binary.stat.exists
- name: Update rvm
  shell: '{{ rvm1_rvm }} get {{ rvm1_rvm_version }} && {{ rvm1_rvm }} reload'
  changed_when: False
  when: rvm_binary.stat.exists and rvm1_rvm_check_for_updates
- name: Configure rvm
  command: '{{ rvm1_rvm }} autolibs {{ rvm1_autolib_mode }}'
  when: not rvm_binary.stat.exists
"#,
    ),
    (
        "tasks/rubies.yml",
        r#"- name: Detect if rubies are installed
  command: '{{ rvm1_rvm }} {{ item }} do true'
  changed_when: False
  failed_when: False
  register: detect_rubies
  with_items: '{{ rvm1_rubies }}'
- name: Install rubies
  command: '{{ rvm1_rvm }} install {{ item.item }} {{ rvm1_ruby_install_flags }}'
  when: rvm1_rubies and item.rc|default(0) != 0
  with_items: '{{ detect_rubies.results }}'
- name: Detect default ruby version
  command: '{{ rvm1_rvm }} alias list default'
  changed_when: False
  register: detect_default_ruby_version
- name: Select default ruby
  command: '{{ rvm1_rvm }} alias create default {{ rvm1_default_ruby_version }}'
  when: detect_default_ruby_version.stdout|default() == '' or rvm1_default_ruby_version not in detect_default_ruby_version.stdout
- name: Detect installed ruby patch number
  shell: >
    {{ rvm1_rvm }} list strings | grep {{ item }} | tail -n 1
  with_items: '{{ rvm1_rubies }}'
  changed_when: False
  register: ruby_patch
- name: Install bundler if not installed
  shell: >
    ls {{ rvm1_install_path }}/wrappers/{{ item.stdout }}
    | if ! grep "^bundler " ; then {{ rvm1_install_path }}/wrappers/{{ item.stdout }}/gem install bundler ; fi
  args:
    creates: '{{ rvm1_install_path }}/wrappers/{{ item.stdout }}/bundler'
  with_items: '{{ ruby_patch.results }}'
  when: rvm1_bundler_install
- name: Symlink ruby related binaries on the system path
  file:
    state: 'link'
    src: '{{ rvm1_install_path }}/wrappers/default/{{ item }}'
    dest: '{{ rvm1_symlink_to }}/{{ item }}'
    owner: '{{ root_user }}'
    group: '{{ root_group }}'
  when: not '--user-install' in rvm1_install_flags
  with_items: '{{ rvm1_symlink_binaries }}'
- name: Delete ruby version
  command: '{{ rvm1_rvm }} remove {{ rvm1_delete_ruby }}'
  changed_when: False
  when: rvm1_delete_ruby
"#,
    ),
    (
        "defaults/main.yml",
        r#"rvm1_rubies: ['ruby-2.3.1']
rvm1_bundler_install: True
rvm1_delete_ruby:
rvm1_install_path: '~/.rvm'
rvm1_install_flags: '--auto-dotfiles --user-install'
rvm1_ruby_install_flags:
rvm1_user: 'ubuntu'
rvm1_rvm_latest_installer: 'https://raw.githubusercontent.com/rvm/rvm/master/binscripts/rvm-installer'
rvm1_rvm_version: 'stable'
rvm1_rvm_check_for_updates: True
rvm1_gpg_keys: '409B6B1796C275462A1703113804BB82D39DC0E3 7D2BAF1CF37B13E2069D6956105BD0E739499BDB'
rvm1_gpg_key_server: 'hkp://pool.sks-keyservers.net'
rvm1_gpg_key_servers:
  - '{{ rvm1_gpg_key_server }}'
  - hkp://pgp.mit.edu
rvm1_autolib_mode: 3
root_user: 'root'
root_group: '{{ root_user }}'
"#,
    ),
    (
        "vars/main.yml",
        "rvm1_temp_download_path: '/tmp'\nrvm1_default_ruby_version: '{{ rvm1_rubies | last if rvm1_rubies and rvm1_rubies is iterable else rvm1_rubies }}'\nrvm1_rvm: '{{ rvm1_install_path }}/bin/rvm'\nrvm1_symlink_binaries: [gem, ruby]\nrvm1_symlink_to: '/usr/local/bin'\n",
    ),
];

/// The official RVM role, recognized by its `meta/main.yml` (`author: RVM`) through an
/// `include_role`, or by its task layout through `roles:`, becomes one `rvm:` (with a `gem:
/// bundler` and the `link:`s of a system-wide install), every task of it accounted for in
/// IMPORT.md as folded into it (its `rvm get` left out), none of its checks gathered, and the
/// project checks clean.
#[test]
fn the_official_rvm_role_imports_as_one_rvm_and_checks_clean() {
    for roles_entry in [false, true] {
        let role = if roles_entry {
            "roles/ruby-env"
        } else {
            "galaxy/rubies.env"
        };
        let mut files: Vec<(String, String)> = RVM_ROLE
            .iter()
            .map(|(p, t)| (format!("{role}/{p}"), t.to_string()))
            .collect();
        files.push((
            "hosts".into(),
            "[app]\napp1 ansible_host=127.0.0.1\n".into(),
        ));
        if roles_entry {
            files.push((
                "site.yml".into(),
                "- hosts: app\n  roles:\n    - role: ruby-env\n      rvm1_user: deploy\n      rvm1_rubies: [ruby-3.1.4]\n".into(),
            ));
        } else {
            files.push((
                format!("{role}/meta/main.yml"),
                "galaxy_info:\n  author: RVM\n  description: The official RVM role\ndependencies: []\n".into(),
            ));
            files.push((
                "site.yml".into(),
                "- hosts: app\n  tasks:\n    - name: Install RVM and ruby\n      include_role:\n        name: galaxy/rubies.env\n      vars:\n        rvm1_user: deploy\n        rvm1_rubies: [ruby-3.1.4]\n".into(),
            ));
        }
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let (_tmp, out) = import_files(&refs);
        checks_clean(&out);
        let md = read(&out.join("IMPORT.md"));
        let folded = md.matches("| folded into the `rvm:` at ").count();
        // every task but the `rvm get` (left out) and the two includes (followed)
        assert_eq!(folded, 11, "{md}");
        contains_all(
            &md,
            &[
                "| Update rvm | `shell` | **left out**: `rvm get` every run",
                "the `gem: bundler` of each ruby at ",
                "a check of rvm's state: the probe reads it",
            ],
        );
        fn yml(dir: &Path, all: &mut String) {
            for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    yml(&p, all);
                } else if p.extension().is_some_and(|x| x == "yml") {
                    all.push_str(&read(&p));
                }
            }
        }
        let mut all = String::new();
        yml(&out, &mut all);
        contains_all(
            &all,
            &[
                "- rvm: \"{{ rvm1_user }}\"\n",
                "  rubies: \"{{ rvm1_rubies }}\"\n",
                "- gem: bundler\n",
                "  loop: \"{{ rvm1_rubies }}\"\n  when: rvm1_bundler_install\n",
                "  loop: \"{{ rvm1_symlink_binaries }}\"\n  when: \"not '--user-install' in rvm1_install_flags\"\n",
            ],
        );
        for gone in [
            "rvm_binary",
            "detect_rubies",
            "ruby_patch",
            "detect_default_ruby_version",
            "rvm-installer.sh",
        ] {
            assert!(!all.contains(gone), "{gone} still in the output:\n{all}");
        }
        let show = play(
            &out,
            &["check", "-i", "inventory", "--show", "--color", "never"],
        );
        assert!(show.stdout.contains("  rvm deploy  #"), "{}", show.stdout);
        assert!(
            show.stdout
                .contains("rubies ruby-3.1.4; default ruby-3.1.4"),
            "{}",
            show.stdout
        );
    }
}
