//! `bundle:` and `gem:` applied for real on a lab host over SSH, with Debian's `ruby` and
//! `ruby-bundler` (`.ci/run` installs them) and no network: a Gemfile of `path:` gems only,
//! a `.gem` file built on the host with `gem build`.

mod support;

use support::lab::Lab;
use support::project::Project;

/// A gem's folder under /srv/lib (its gemspec and one file), for `gem build` and `path:`.
fn gem_source(name: &str, version: &str) -> String {
    format!(
        r#"mkdir -p /srv/lib/{name}/lib && printf '%s\n' 'module {cap}; end' > /srv/lib/{name}/lib/{name}.rb && cat > /srv/lib/{name}/{name}.gemspec <<'EOF'
Gem::Specification.new do |s|
  s.name = "{name}"
  s.version = "{version}"
  s.summary = "a test gem"
  s.authors = ["play"]
  s.license = "MIT"
  s.files = ["lib/{name}.rb"]
end
EOF
"#,
        cap = name[..1].to_uppercase() + &name[1..]
    )
}

const SITE: &str = r#"- hosts: lab
  state:
    - gem: hello
      version: 0.1.0
      gem_source: /srv/lib/hello/hello-0.1.0.gem
    - gem: bundler
    - bundle: /srv/app
      path: /srv/shared/bundle
      exclude_groups: [test]
      user: deploy
"#;

/// The gem built on the host is installed from its file into Debian's gem folder, found by the
/// probe (no ruby run) at the next diff, and removed with `state: absent`; `bundler` is one of
/// ruby's default gems: present without an install. The project's path gems are installed as
/// its user with Bundler's `path` and `without` settings remembered in `.bundle/config`, the
/// lock's sha256 recorded; the next diff is clean; a new Gemfile and lock (a second gem)
/// installs again, and Bundler then resolves the new gem.
#[test]
fn gems_and_a_bundle_install_once_and_again_when_the_lock_changes() {
    let lab = Lab::start("ruby", 1);
    lab.sh(
        "h1",
        &format!(
            "{}{}{}cd /srv/lib/hello && gem build hello.gemspec >/dev/null 2>&1 && test -f hello-0.1.0.gem",
            gem_source("hello", "0.1.0"),
            gem_source("greet", "1.0.0"),
            gem_source("extra", "2.0.0"),
        ),
    );
    lab.sh(
        "h1",
        "mkdir -p /srv/app /srv/shared && chown deploy /srv/app /srv/shared && printf '%s\\n' 'gem \"greet\", path: \"/srv/lib/greet\"' 'group :test do' '  gem \"extra\", path: \"/srv/lib/extra\"' 'end' > /srv/app/Gemfile && chown deploy /srv/app/Gemfile",
    );
    let gemspecs = || {
        lab.sh(
            "h1",
            "ls /var/lib/gems/*/specifications/ | grep '^hello-' || true",
        )
    };
    assert_eq!(gemspecs(), "");
    let p = Project::new(&lab).file("r.yml", SITE);
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("+ create gem hello")
        .shows("+ create bundle /srv/app");
    assert_eq!(gemspecs(), "hello-0.1.0.gemspec\n");
    let config = lab.sh("h1", "cat /srv/app/.bundle/config");
    assert!(
        config.contains("BUNDLE_PATH: \"/srv/shared/bundle\"")
            && config.contains("BUNDLE_WITHOUT: \"test\""),
        "{config}"
    );
    let recorded = || lab.sh("h1", "cat /srv/app/.bundle/.play-bundle");
    let lock_sum = || {
        lab.sh("h1", "sha256sum < /srv/app/Gemfile.lock")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        recorded(),
        format!(
            "sha256 {}\nargs --without test --path /srv/shared/bundle\n",
            lock_sum()
        )
    );
    assert_eq!(
        lab.sh("h1", "stat -c %U /srv/app/.bundle /srv/app/Gemfile.lock"),
        "deploy\ndeploy\n"
    );
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);

    // a new Gemfile and its lock (as a deploy brings them): installed again
    lab.sh(
        "h1",
        &format!(
            "{}mkdir -p /tmp/lockgen && cd /tmp/lockgen && printf '%s\\n' 'gem \"greet\", path: \"/srv/lib/greet\"' 'gem \"other\", path: \"/srv/lib/other\"' 'group :test do' '  gem \"extra\", path: \"/srv/lib/extra\"' 'end' > Gemfile && bundle lock >/dev/null 2>&1 && cp Gemfile Gemfile.lock /srv/app/ && chown deploy /srv/app/Gemfile /srv/app/Gemfile.lock",
            gem_source("other", "0.3.0")
        ),
    );
    p.play(&["diff", "r.yml"])
        .code(0)
        .shows("Gemfile.lock changed since the last install");
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("~ update bundle /srv/app");
    assert!(recorded().contains(&lock_sum()), "{}", recorded());
    let list = lab.sh(
        "h1",
        "cd /srv/app && runuser -u deploy -- bundle list --name-only 2>/dev/null",
    );
    assert!(list.contains("other") && list.contains("greet"), "{list}");
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);

    // absent: the version installed from the file is uninstalled
    let p = p.file(
        "r.yml",
        "- hosts: lab\n  state:\n    - gem: hello\n      state: absent\n    - gem: bundler\n      state: absent\n",
    );
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("- delete gem hello");
    assert_eq!(gemspecs(), "");
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);
}

/// Versions 1.0, 1.5 and 2.0 of a gem built on the host into a local gem source (a
/// `gem generate_index` folder, named by the host's `/etc/gemrc`: no network).
const GEM_SOURCE: &str = r#"set -e
for v in 1.0 1.5 2.0; do
  mkdir -p /srv/build/vers-$v/lib /srv/gemrepo/gems
  printf '%s\n' 'module Vers; end' > /srv/build/vers-$v/lib/vers.rb
  cat > /srv/build/vers-$v/vers.gemspec <<EOF
Gem::Specification.new do |s|
  s.name = "vers"
  s.version = "$v"
  s.summary = "a test gem"
  s.authors = ["play"]
  s.license = "MIT"
  s.files = ["lib/vers.rb"]
end
EOF
  (cd /srv/build/vers-$v && gem build vers.gemspec >/dev/null 2>&1 && mv vers-$v.gem /srv/gemrepo/gems/)
done
gem generate_index -d /srv/gemrepo >/dev/null 2>&1
printf '%s\n' ':sources:' '- file:///srv/gemrepo/' > /etc/gemrc
"#;

/// `version:` takes a RubyGems requirement: with 1.0 installed, `~> 1.0` is no change;
/// `>= 1.5, < 2` installs 1.5 (RubyGems picks the highest matching, 2.0 excluded) and the next
/// diff is clean; `state: absent` with `~> 1.0` removes both versions it matches.
#[test]
fn a_gem_version_requirement_is_satisfied_or_installed() {
    let lab = Lab::start("gem-reqs", 1);
    lab.sh("h1", GEM_SOURCE);
    let installed = || {
        lab.sh(
            "h1",
            "ls /var/lib/gems/*/specifications/ | grep '^vers-' || true",
        )
    };
    let site = |version: &str, state: &str| {
        format!("- hosts: lab\n  state:\n    - gem: vers\n      version: \"{version}\"\n      state: {state}\n")
    };
    let p = Project::new(&lab).file("r.yml", &site("1.0", "present"));
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("+ create gem vers");
    assert_eq!(installed(), "vers-1.0.gemspec\n");

    let p = p.file("r.yml", &site("~> 1.0", "present"));
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);

    let p = p.file("r.yml", &site(">= 1.5, < 2", "present"));
    p.play(&["diff", "r.yml"])
        .code(0)
        .shows("vers 1.0 → >= 1.5, < 2");
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("~ update gem vers");
    assert_eq!(installed(), "vers-1.0.gemspec\nvers-1.5.gemspec\n");
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);

    let p = p.file("r.yml", &site("~> 1.0", "absent"));
    p.play(&["apply", "r.yml"]).code(0).shows("- vers 1.0, 1.5");
    assert_eq!(installed(), "");
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);
}

/// A stand-in for rvm-installer (rvm is not packaged and the lab has no internet; the real
/// rvm and its installer are not exercised here): installs a stand-in `bin/rvm` with rvm's
/// folder layout under `--path`, which implements the commands play calls (`install`, `alias
/// create default`, `remove`, `autolibs`, `get`) and logs each one with the user it ran as.
const RVM_STANDIN: &str = r#"mkdir -p /srv/rvm-standin && cat > /srv/rvm-standin/rvm-installer <<'INSTALLER'
#!/usr/bin/env bash
set -eu
version=$1; shift
[ "$1" = --path ] || { echo "stand-in installer: --path expected, got $1" >&2; exit 1; }
p=$2; shift 2
mkdir -p "$p/bin" "$p/rubies" "$p/config" "$p/wrappers"
case $version in [0-9]*) v=$version ;; *) v=1.29.12 ;; esac
printf '%s (%s)\n' "$v" "$version" > "$p/VERSION"
printf '%s\n' "$(id -un) $version --path $p $*" >> "$p/log"
cat > "$p/bin/rvm" <<'RVM'
#!/usr/bin/env bash
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
printf '%s\n' "$(id -un) $*" >> "$root/log"
full() { case $1 in [0-9]*) echo "ruby-$1" ;; *) echo "$1" ;; esac; }
case $1 in
  install) mkdir -p "$root/rubies/$(full "$2")/bin" ;;
  remove) rm -rf "$root/rubies/$(full "$2")" ;;
  alias) [ -d "$root/rubies/$(full "$4")" ] || { echo "no ruby $4" >&2; exit 1; }
         printf 'default=%s\n' "$(full "$4")" > "$root/config/alias" ;;
  autolibs) printf 'autolibs_flag=%s\n' "$2" > "$root/config/db" ;;
  get) printf '%s (%s)\n' "$2" "$2" > "$root/VERSION" ;;
  *) echo "stand-in rvm: $1 not implemented" >&2; exit 1 ;;
esac
RVM
chmod 755 "$p/bin/rvm"
INSTALLER
chmod 755 /srv/rvm-standin/rvm-installer
"#;

/// `rvm:` installs rvm through the installer as its user, then the rubies and the default
/// alias (the stand-in above: see its comment); the next diff is clean; a changed list (a ruby
/// added, the default moved, one removed) converges the same way; every command ran as the
/// user and everything under rvm's folder is the user's, never root's; `state: absent`
/// removes the folder.
#[test]
fn rvm_installs_its_rubies_as_the_user_and_converges() {
    let lab = Lab::start("rvm-user", 1);
    lab.sh("h1", RVM_STANDIN);
    let site = |keys: &str| {
        format!("- hosts: lab\n  state:\n    - rvm: deploy\n      installer: file:///srv/rvm-standin/rvm-installer\n{keys}")
    };
    let p = Project::new(&lab).file(
        "r.yml",
        &site("      rubies: [2.6.6, ruby-3.1.4]\n      autolibs: read-fail\n"),
    );
    p.play(&["diff", "r.yml"])
        .code(0)
        .shows("+ ruby-2.6.6 (after rvm's install)");
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("+ create rvm deploy");
    let rubies = || lab.sh("h1", "ls ~deploy/.rvm/rubies");
    let alias = || lab.sh("h1", "cat ~deploy/.rvm/config/alias");
    assert_eq!(rubies(), "ruby-2.6.6\nruby-3.1.4\n");
    assert_eq!(alias(), "default=ruby-3.1.4\n");
    assert_eq!(
        lab.sh("h1", "cat ~deploy/.rvm/log"),
        "deploy stable --path /home/deploy/.rvm --auto-dotfiles --user-install\n\
         deploy autolibs read-fail\n\
         deploy install 2.6.6\n\
         deploy install ruby-3.1.4\n\
         deploy alias create default ruby-3.1.4\n"
    );
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);

    let p = p.file(
        "r.yml",
        &site("      rubies: [ruby-3.1.4, 3.2.2]\n      remove: [ruby-2.6.6]\n"),
    );
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("~ update rvm deploy")
        .shows("default ruby-3.1.4 → ruby-3.2.2")
        .shows("- ruby-2.6.6");
    assert_eq!(rubies(), "ruby-3.1.4\nruby-3.2.2\n");
    assert_eq!(alias(), "default=ruby-3.2.2\n");
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);
    // the default moved back to a ruby it has: only the alias
    let p = p.file(
        "r.yml",
        &site("      rubies: [ruby-3.1.4, 3.2.2]\n      default: ruby-3.1.4\n"),
    );
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("default ruby-3.2.2 → ruby-3.1.4");
    assert_eq!(alias(), "default=ruby-3.1.4\n");
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);

    let log = lab.sh("h1", "cat ~deploy/.rvm/log");
    assert!(log.lines().all(|l| l.starts_with("deploy ")), "{log}");
    assert_eq!(
        lab.sh("h1", "find ~deploy/.rvm ! -user deploy | head -n 5"),
        "",
        "a file of rvm's folder is not the user's"
    );

    let p = p.file("r.yml", &site("      state: absent\n"));
    p.play(&["apply", "r.yml"])
        .code(0)
        .shows("- delete rvm deploy");
    assert_eq!(
        lab.sh("h1", "test -e ~deploy/.rvm && echo there || true"),
        ""
    );
    p.play(&["diff", "--exit-code", "r.yml"]).code(0);
}
