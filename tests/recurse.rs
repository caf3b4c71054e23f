//! `directory:` with `recurse: true` on a real lab host: a tree another user owns, with files,
//! a subfolder and hostile links to root's files, gets its owner, group and mode below the
//! folder without anything done through a link, and converges.

mod support;

use support::lab::Lab;
use support::project::Project;

const SITE: &str = r#"- hosts: lab
  state:
    - directory: /srv/site
      owner: www-data
      group: www-data
      mode: u=rwX,g=rX,o=rX
      recurse: true
"#;

/// Root's `/etc/victim` (0600) and a folder `tree` that deploy owns.
fn victim_and_tree(lab: &Lab, tree: &str) {
    lab.sh(
        "h1",
        &format!(
            "set -e; printf 'secret\\n' > /etc/victim && chmod 600 /etc/victim
             mkdir {tree} && chown deploy: {tree}"
        ),
    );
}

#[test]
fn a_recursive_owner_and_mode_never_go_through_a_link() {
    let lab = Lab::start("recurse-tree", 1);
    // The tree belongs to deploy (another user, who could point links anywhere); root's
    // victims are outside it.
    victim_and_tree(&lab, "/srv/site");
    lab.sh(
        "h1",
        "set -e; mkdir -p /etc/victimdir && chmod 700 /etc/victimdir && touch /etc/victimdir/f
         chmod 700 /srv/site
         su -s /bin/sh deploy -c 'set -e; umask 077; mkdir -p /srv/site/sub
           printf a > /srv/site/a.txt
           printf \"#!/bin/sh\\n\" > /srv/site/sub/run.sh && chmod 700 /srv/site/sub/run.sh
           printf b > /srv/site/sub/b.txt && chmod 644 /srv/site/sub/b.txt
           ln -s /etc/victim /srv/site/evil
           ln -s /etc/victimdir /srv/site/sub/evildir'",
    );
    let p = Project::new(&lab).file("site.yml", SITE);

    p.play(&["diff", "site.yml", "--exit-code"])
        .code(2)
        .shows("owner deploy → www-data")
        .shows("mode 0700 → 0755")
        .shows("owner of 6 paths below /srv/site → www-data")
        .shows("group of 6 paths below /srv/site → www-data")
        .shows("mode of 3 paths below /srv/site → folders 0755, files 0644 (0755 when executable)");

    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "cd /srv/site && stat -c '%n %U %G %a' . a.txt sub sub/run.sh sub/b.txt"
        ),
        ". www-data www-data 755\na.txt www-data www-data 644\nsub www-data www-data 755\n\
         sub/run.sh www-data www-data 755\nsub/b.txt www-data www-data 644\n"
    );
    // The links themselves changed owner; what they point to did not change at all.
    assert_eq!(
        lab.sh("h1", "stat -c '%U %G' /srv/site/evil /srv/site/sub/evildir"),
        "www-data www-data\nwww-data www-data\n"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%n %U %G %a' /etc/victim /etc/victimdir /etc/victimdir/f"
        ),
        "/etc/victim root root 600\n/etc/victimdir root root 700\n/etc/victimdir/f root root 644\n",
        "nothing may be done through a link in the tree"
    );

    // Converged: the probe's one find finds nothing below.
    p.play(&["diff", "site.yml", "--exit-code"]).code(0);

    // Drift below the folder (a file its old owner leaves behind) is seen and set again.
    lab.sh(
        "h1",
        "umask 077; printf x > /srv/site/sub/new.txt; chown deploy /srv/site/sub/new.txt",
    );
    p.play(&["diff", "site.yml", "--exit-code", "--out", "plan.json"])
        .code(2)
        .shows("owner of 1 path below /srv/site → www-data")
        .shows("group of 1 path below /srv/site → www-data")
        .shows("mode of 1 path below /srv/site");
    // A saved plan is stale once what differs below the folder changes (its counts: the
    // probe lists no paths).
    lab.sh("h1", "chmod 600 /srv/site/sub/b.txt");
    p.play(&["apply", "--plan", "plan.json"])
        .code(1)
        .shows("stale");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "stat -c '%U %G %a' /srv/site/sub/new.txt"),
        "www-data www-data 644\n"
    );
    p.play(&["diff", "site.yml", "--exit-code"]).code(0);
}

#[test]
fn a_racing_owner_swapping_names_for_links_gets_nothing_through_them() {
    let lab = Lab::start("recurse-race", 1);
    victim_and_tree(&lab, "/srv/race");
    // deploy keeps swapping each of its files for a link to /etc/victim and back: new files
    // are its own and 0600, so every apply has owners and modes to set; the group keeps
    // deploy's write access to the tree.
    lab.sh(
        "h1",
        "su -s /bin/sh deploy -c 'cd /srv/race; umask 077; i=0; while [ $i -lt 4000 ]; do
           for n in a b c d; do
             ln -sfn /etc/victim .$n.l && mv -Tf .$n.l $n
             printf x > .$n.f && mv -Tf .$n.f $n
           done; i=$((i+1)); done' >/dev/null 2>&1 &",
    );
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - directory: /srv/race\n      owner: www-data\n      group: deploy\n      mode: u=rwX,g=rwX,o=rX\n      recurse: true\n",
    );
    for round in 0..30 {
        // Whatever the step meets (a name gone or swapped between find and perl is skipped),
        // the victim never changes.
        // (each run fails its check after the apply: the owner keeps making new files)
        let _ = p.play(&["apply", "site.yml"]);
        assert_eq!(
            lab.sh("h1", "stat -c '%U %G %a' /etc/victim"),
            "root root 600\n",
            "round {round}: an owner or mode went through a link"
        );
    }
    // The race was run: deploy's files were set again and again.
    assert_eq!(
        lab.sh("h1", "stat -c '%U %G %a' /srv/race"),
        "www-data deploy 775\n"
    );
}
