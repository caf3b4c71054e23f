//! Real projects, translated: tests/corpus/NAME holds a part of a public Ansible deployment
//! (see its README.md and LICENSE) written as a play project, applied to a lab host.

mod support;

use std::path::Path;

use support::lab::Lab;
use support::project::Project;

/// beehve's `django` role: folders declared after their children, files in folders nobody
/// declared, a folder under `/var/run` (root's link to `/run`), owners made by the same run.
#[test]
fn beehve_django_role_converges_in_one_apply() {
    let lab = Lab::start("corpus-beehve", 1);
    let p = Project::new(&lab)
        // group_vars/django and host_vars/example.brigades.io of the project (secrets made up)
        .var("deployment_path", "/home")
        .var("deployment_name", "wyt_production")
        .var("service_name", "\"Wheres Your Trash Django Application\"")
        .var("subdomain", "www")
        .var("domain_name", "wheresyourtrash.com")
        .var("ssl_enabled", "true")
        .var("app_name", "wheresyourtrash")
        .var("gunicorn_workers", "2")
        .var("django_state", "Prod")
        .var("django_port", "10910")
        .var("django_secret_key", "not-a-real-key")
        .var("database_pass", "not-a-real-password")
        .var(
            "django_database",
            "\"postgres://{{deployment_name}}:{{database_pass}}@localhost/{{deployment_name}}\"",
        )
        .var("django_sentry_code", "REDACTED")
        .var("django_log_level", "ERROR")
        .var("nginx_cache_size", "2g")
        .var("email_host", "smtp.example.invalid")
        .var("email_host_user", "SMTP_Injection")
        .var("email_host_password", "not-a-real-password")
        .var("email_host_port", "587")
        .var("aws_access_key", "AWSKEY")
        .var("aws_secret_key", "AWSSECRET");
    p.copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/beehve"),
        "",
    );

    p.play(&["check", "playbooks/webapp.yml"]).code(0);
    p.play(&["diff", "playbooks/webapp.yml"])
        .code(0)
        .shows("+ create directory /etc/nginx (parent of /etc/nginx/sites-enabled/www.wheresyourtrash.com.conf)")
        .shows("+ create directory /home/wyt_production/public")
        .hides("parent of /home/wyt_production/public/static");
    p.play(&["apply", "playbooks/webapp.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%U %G %a %n' /home/wyt_production /home/wyt_production/public \
             /home/wyt_production/public/static /run/wyt_production /var/log/wyt_production \
             /lib/systemd/system/wyt_production.service"
        ),
        "wyt_production wyt_production 755 /home/wyt_production\n\
         wyt_production root 755 /home/wyt_production/public\n\
         wyt_production root 755 /home/wyt_production/public/static\n\
         root wyt_production 775 /run/wyt_production\n\
         root wyt_production 775 /var/log/wyt_production\n\
         root root 600 /lib/systemd/system/wyt_production.service\n"
    );
    assert!(lab
        .sh(
            "h1",
            "cat /etc/nginx/sites-enabled/www.wheresyourtrash.com.conf"
        )
        .contains("server_name  www.wheresyourtrash.com;"));
    p.play(&["diff", "--exit-code", "playbooks/webapp.yml"])
        .code(0);
    // The no-op costs one round trip: the parents were probed with everything else.
    p.play(&["apply", "-v", "playbooks/webapp.yml"])
        .code(0)
        .shows("1 round trip(s) to the host");
}
