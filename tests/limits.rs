//! Bounded input (issue 13): a template that would render 10 GB, or a YAML alias bomb, fails with
//! a located error and exit 1, never an abort, even under a 4 GiB address-space limit.

mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use support::project::Run;

/// 4 GiB of address space: what the red-team run gave `play` (it aborted allocating 4 GiB).
const ADDRESS_SPACE: u64 = 4 << 30;

/// Runs `play ARGS...` in `dir` with at most [`ADDRESS_SPACE`] of memory (no host contacted).
fn play_limited(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(support::lab::play_bin());
    cmd.args(args)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("PLAY_VAULT_PASSWORD_FILE")
        .current_dir(dir);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Run::from(args, cmd.output().expect("run play"))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// One host where nothing listens: a run that tried to connect would fail differently.
const INVENTORY: &str = "all:\n  vars: {ssh_port: 1}\n  hosts:\n    web1: {ssh_host: 127.0.0.1}\n";

const SITE: &str = "- hosts: all
  state:
    - directory: /etc/app
    - file: /etc/app/big.conf
      template: big.j2
";

/// 100000 × 100000 × 10 bytes.
const TEN_GB: &str = "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx\
                      {% endfor %}{% endfor %}\n";

fn project(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "inventory/hosts.yml", INVENTORY);
    write(dir.path(), "playbooks/site.yml", SITE);
    write(dir.path(), "playbooks/templates/big.j2", template);
    dir
}

/// The located error of the 10 GB template: the template file, then the resource's place.
fn assert_capped(run: Run) -> Run {
    run.code(1)
        .shows("playbooks/templates/big.j2:1: template output exceeds")
        .shows(
            "template output exceeds 64 MiB (the cap per rendering; raise it with \
             --max-template-size) (template of file /etc/app/big.conf, declared at \
             playbooks/site.yml:4:7)",
        )
        .hides("memory allocation")
        .hides("Connection refused")
}

#[test]
fn a_ten_gigabyte_template_fails_check_located_under_a_4gb_limit() {
    let dir = project(TEN_GB);
    assert_capped(play_limited(dir.path(), &["check", "--color", "never"]))
        .shows("[host: web1]")
        .shows("1 problem(s)");
}

#[test]
fn a_ten_gigabyte_template_fails_diff_and_apply_before_any_host_under_a_4gb_limit() {
    let dir = project(TEN_GB);
    for cmd in ["diff", "apply"] {
        assert_capped(play_limited(
            dir.path(),
            &[cmd, "playbooks/site.yml", "--color", "never"],
        ));
    }
}

#[test]
fn max_template_size_raises_the_cap_for_a_mid_size_template() {
    // 20000 × 400 × 10 bytes = 80 MB: over the default 64 MiB, under 128 MiB.
    let dir = project(
        "{% for i in range(20000) %}{% for j in range(400) %}xxxxxxxxxx{% endfor %}{% endfor %}",
    );
    let d = dir.path();
    play_limited(d, &["check", "--color", "never"])
        .code(1)
        .shows("template output exceeds 64 MiB");
    play_limited(
        d,
        &["check", "--color", "never", "--max-template-size", "128MiB"],
    )
    .code(0)
    .shows("0 problem(s)")
    .shows("2 resource(s)");
    // In bytes: exactly the output passes, one byte less fails.
    play_limited(
        d,
        &[
            "check",
            "--color",
            "never",
            "--max-template-size",
            "80000000",
        ],
    )
    .code(0);
    play_limited(
        d,
        &[
            "check",
            "--color",
            "never",
            "--max-template-size",
            "79999999",
        ],
    )
    .code(1)
    .shows("template output exceeds 79999999 bytes");
    play_limited(d, &["check", "--max-template-size", "lots"])
        .code(2)
        .shows("invalid size `lots`");
}

#[test]
fn a_one_instruction_amplifier_is_refused_not_aborted() {
    // `replace` makes 10 GB from 100 kB in one filter call: no loop for fuel or the writer.
    let dir = project("{{ ('x' * 100000) | replace('x', 'y' * 100000) }}\n");
    play_limited(dir.path(), &["check", "--color", "never"])
        .code(1)
        .shows("playbooks/templates/big.j2:1:")
        .shows("`replace` would make a value larger than 64 MiB")
        .hides("memory allocation");
}

/// Nine levels of nine aliases (`i: &i [*h, *h, ...]`): 9^9 "lol"s once expanded.
fn laughs() -> String {
    let mut text = format!("a: &a [{}]\n", ["\"lol\""; 9].join(", "));
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        let aliases = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    text
}

const BOMB: &str = "too many alias expansions (YAML alias bomb?): this alias expands to";

#[test]
fn yaml_alias_bombs_are_located_in_inventory_playbook_and_vars_files() {
    let dir = project("x\n");
    let d = dir.path();
    write(d, "inventory/group_vars/all.yml", &laughs());
    play_limited(d, &["check", "--color", "never"])
        .code(1)
        .shows(&format!("inventory/group_vars/all.yml:9:8: {BOMB}"));
    std::fs::remove_file(d.join("inventory/group_vars/all.yml")).expect("rm");

    write(d, "playbooks/laughs.yml", &laughs());
    write(
        d,
        "playbooks/site.yml",
        "- hosts: all\n  vars_files: [laughs.yml]\n  state:\n    - directory: /etc/app\n",
    );
    play_limited(d, &["check", "--color", "never", "playbooks/site.yml"])
        .code(1)
        .shows(&format!("playbooks/laughs.yml:9:8: {BOMB}"));
    std::fs::remove_file(d.join("playbooks/laughs.yml")).expect("rm");

    let indented: String = laughs().lines().map(|l| format!("    {l}\n")).collect();
    write(
        d,
        "playbooks/site.yml",
        &format!("- hosts: all\n  vars:\n{indented}"),
    );
    for args in [
        &["check", "--color", "never"][..],
        &["diff", "playbooks/site.yml", "--color", "never"][..],
    ] {
        play_limited(d, args)
            .code(1)
            .shows(&format!("playbooks/site.yml:11:12: {BOMB}"));
    }
}

/// Templates that would make values far past 4 GiB without writing much: each amplifier the
/// values budget of a rendering covers (`~`, `+`, macros, `{% set %}` blocks, `caller()`,
/// recursion, many guarded-filter results or concatenations kept alive, lazy sequences).
const AMPLIFIERS: [(&str, &str); 12] = [
    ("~ doubling", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}\n"),
    ("+ doubling", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}\n"),
    ("macro", "{% macro d(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = d(ns.s) %}{% endfor %}{{ ns.s|length }}\n"),
    ("set block", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set x %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = x %}{% endfor %}{{ ns.s|length }}\n"),
    ("caller", "{% macro w() %}{{ caller() }}{{ caller() }}{% endmacro %}{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s %}{% call w() %}{{ ns.s }}{% endcall %}{% endset %}{% endfor %}{{ ns.s|length }}\n"),
    ("recursive macro", "{% macro r(s, n) %}{% if n == 0 %}{{ s }}{% else %}{{ r(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ r('x', 40)|length }}\n"),
    ("replace results kept", "{% set big = 'a' * 30000000 %}{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = ns.l + [big|replace('b', 'c')] %}{% endfor %}{{ ns.l|length }}\n"),
    ("~ results kept", "{% set big = 'a' * 30000000 %}{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = ns.l + [big ~ loop.index] %}{% endfor %}{{ ns.l|length }}\n"),
    ("lazy sequence as text", "{% set l = [1] * 2000000000 %}{{ (l ~ '')|length }}\n"),
    ("lazy sequence doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ (ns.l ~ '')|length }}\n"),
    ("|string of lists of lists", "{{ ([[1] * 4000000] * 4000000)|string|length }}\n"),
    ("captured raw text", "{% set x %}{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}{% endset %}{{ x|length }}\n"),
];

#[test]
fn every_amplifier_fails_check_located_under_a_4gb_limit() {
    for (what, template) in AMPLIFIERS {
        let dir = project(template);
        let run = play_limited(dir.path(), &["check", "--color", "never"]);
        assert!(
            format!("{}{}", run.stdout, run.stderr).contains("playbooks/templates/big.j2:1:"),
            "{what}: not located\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run.code(1)
            .shows(
                "template values exceed 64 MiB in total (strings, lists and captured blocks made \
                 by one rendering; the cap per rendering, raise it with --max-template-size) \
                 (template of file /etc/app/big.conf, declared at playbooks/site.yml:4:7)",
            )
            .hides("memory allocation");
    }
}

#[test]
fn max_template_size_raises_the_values_budget_too() {
    // Doubling to 64 MiB makes 128 MiB of strings on the way: over the default, under 256 MiB.
    let dir = project(
        "{% set ns = namespace(s='x') %}{% for i in range(26) %}{% set ns.s = ns.s ~ ns.s %}\
         {% endfor %}{{ ns.s|length }}\n",
    );
    let d = dir.path();
    play_limited(d, &["check", "--color", "never"])
        .code(1)
        .shows("template values exceed 64 MiB in total");
    play_limited(
        d,
        &["check", "--color", "never", "--max-template-size", "256MiB"],
    )
    .code(0)
    .shows("0 problem(s)");
}
