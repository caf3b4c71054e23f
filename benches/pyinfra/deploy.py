"""The benchmark scenario for pyinfra (see benches/README.md).

Same effect as ../play/site.yml and ../ansible/site.yml. Run by bench/run.py as
`pyinfra -y INVENTORY.py deploy.py` (pyinfra's defaults otherwise).
"""

from pathlib import Path

from pyinfra import host
from pyinfra.operations import files, server

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

for path in ("/srv/bench", "/srv/bench/conf", "/srv/bench/www"):
    files.directory(name=f"directory {path}", path=path, mode="755")

for i in range(1, 21):
    files.template(
        name=f"config file c{i}.ini",
        src=str(TEMPLATES / "conf.ini.j2"),
        dest=f"/srv/bench/conf/c{i}.ini",
        mode="644",
        item=i,
        inventory_hostname=host.name,
    )

files.template(
    name="site file",
    src=str(TEMPLATES / "site.html.j2"),
    dest="/srv/bench/www/index.html",
    mode="644",
    inventory_hostname=host.name,
)

files.link(name="current link", path="/srv/bench/current", target="/srv/bench/www")

# No supervisor operations in pyinfra: the conf as a template, and `supervisorctl update NAME`
# (adds a new program, restarts a changed one) only when the conf changed.
for program in ("bench-web", "bench-worker"):
    conf = files.template(
        name=f"{program} program",
        src=str(TEMPLATES / "program.conf.j2"),
        dest=f"/etc/supervisor/conf.d/{program}.conf",
        mode="644",
        program=program,
    )
    server.shell(
        name=f"restart {program}",
        commands=[f"supervisorctl update {program}"],
        _if=conf.did_change,
    )
