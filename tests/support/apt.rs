//! A local, file-based apt repository ON a lab host, for `package:` tests without the internet.
//!
//! ```ignore
//! support::apt::publish(&lab, "h1", &[("hello-play", "1.0")]);
//! // h1's apt now knows only `deb [trusted=yes] file:/srv/repo ./`
//! ```
//!
//! The packages are real `.deb` files built on the host with `dpkg-deb --build` (each installs
//! `/usr/share/NAME/VERSION`, and its `postinst` writes `/var/lib/NAME/state`), indexed by a hand-written `Packages` file
//! (the fields of `dpkg-deb -f`, plus `Filename`, `Size`, `SHA256`), so no dpkg-dev is needed.
//! Everything happens inside the host's own overlay: the machine's apt is never touched.
#![allow(dead_code)]

use super::lab::Lab;

/// Where the repository lives on the host.
pub const REPO: &str = "/srv/repo";

/// The script building `packages` into the repository and indexing it.
fn script(packages: &[(&str, &str)]) -> String {
    let mut s = String::from(
        r#"set -e
mkdir -p /srv/repo /tmp/debbuild
build() {
  name=$1 ver=$2 d=/tmp/debbuild/$1-$2
  rm -rf "$d"
  mkdir -p "$d/DEBIAN" "$d/usr/share/$name"
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: play tests <tests@example.invalid>\nDescription: a package built by the tests\n' "$name" "$ver" > "$d/DEBIAN/control"
  printf '%s %s\n' "$name" "$ver" > "$d/usr/share/$name/VERSION"
  # a maintainer script making state, as real packages do (it runs with apt's umask)
  printf '#!/bin/sh\nmkdir -p /var/lib/%s && echo %s > /var/lib/%s/state\n' "$name" "$ver" "$name" > "$d/DEBIAN/postinst"
  chmod 755 "$d/DEBIAN/postinst"
  dpkg-deb --root-owner-group --build "$d" "/srv/repo/${name}_${ver}_all.deb" >/dev/null
}
"#,
    );
    for (name, version) in packages {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && version
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
            "test package {name} {version}: keep names and versions plain"
        );
        s.push_str(&format!("build {name} {version}\n"));
    }
    s.push_str(
        r#"cd /srv/repo
: > Packages.tmp
for f in *.deb; do
  dpkg-deb -f "$f" >> Packages.tmp
  printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" >> Packages.tmp
done
mv Packages.tmp Packages
rm -f /etc/apt/sources.list
rm -rf /etc/apt/sources.list.d
mkdir /etc/apt/sources.list.d
echo 'deb [trusted=yes] file:/srv/repo ./' > /etc/apt/sources.list.d/play-test.list
"#,
    );
    s
}

/// Builds `packages` (name, version) on `host` into its local repository (adding to what is
/// there) and makes that repository the host's only apt source. Does not run `apt-get update`.
pub fn publish(lab: &Lab, host: &str, packages: &[(&str, &str)]) {
    let out = lab.exec(host, &script(packages));
    assert!(
        out.status.success(),
        "{host}: building the local apt repository failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `dpkg-query`'s status and version of `name` on `host` (`None`: not known to dpkg).
pub fn installed(lab: &Lab, host: &str, name: &str) -> Option<(String, String)> {
    let out = lab.exec_argv(
        host,
        &[
            "dpkg-query",
            "-W",
            "-f=${db:Status-Abbrev}\t${Version}",
            name,
        ],
    );
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, version) = text.split_once('\t')?;
    Some((status.trim().to_string(), version.trim().to_string()))
}
