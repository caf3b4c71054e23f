"""hello: the example web app that `playbooks/web.yml` deploys (standard library only).

Reads its settings from the ini file given as the first argument (default /etc/hello/app.ini):
[app] bind, port, name, env. Answers GET / with JSON (app, env, host, release, version,
greeting, greeting_version, hits) and GET /health with "ok". `release` is the id of the release
folder it runs from (/srv/hello/releases/<id>, see `release:` in docs/playbooks.md); `version`
is the VERSION file; `greeting` comes from the package `hellogreet`, installed in the venv it
runs with (`venv:`); `hits` counts GET / in data/hits, data/ being the release's shared folder
(/srv/hello/shared/data: the count survives new releases).
"""
import configparser
import http.server
import json
import os
import socket
import sys
import threading

import hellogreet

HERE = os.path.dirname(os.path.realpath(__file__))
# Not realpath'd: data/ is a link to the shared folder.
HITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "hits")
LOCK = threading.Lock()


def load(path):
    cp = configparser.ConfigParser()
    if not cp.read(path):
        sys.exit(f"hello: cannot read {path}")
    return cp["app"]


def version():
    try:
        with open(os.path.join(HERE, "VERSION")) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def hit():
    """Counts one visit in the shared data folder; the new count."""
    with LOCK:
        try:
            with open(HITS) as f:
                n = int(f.read().strip() or 0)
        except (OSError, ValueError):
            n = 0
        n += 1
        tmp = HITS + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{n}\n")
        os.replace(tmp, HITS)
        return n


def release():
    """The release id: the name of the folder under releases/ this file runs from."""
    parent, name = os.path.split(HERE)
    return name if os.path.basename(parent) == "releases" else "unreleased"


def main():
    conf = load(sys.argv[1] if len(sys.argv) > 1 else "/etc/hello/app.ini")
    bind, port = conf.get("bind", "127.0.0.1"), conf.getint("port", 8000)
    body = {
        "app": conf.get("name", "hello"),
        "env": conf.get("env", "production"),
        "host": socket.gethostname(),
        "release": release(),
        "version": version(),
        "greeting": hellogreet.GREETING,
        "greeting_version": hellogreet.__version__,
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/health":
                data, ctype = b"ok\n", "text/plain"
            else:
                answer = dict(body, hits=hit())
                data, ctype = (json.dumps(answer) + "\n").encode(), "application/json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    server = http.server.ThreadingHTTPServer((bind, port), Handler)
    print(f"hello {body['release']} listening on {bind}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
