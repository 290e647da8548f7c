#!/usr/bin/env python3
"""A real browser against `duct serve`: headless Chromium loads a small
single-page app through --fallback, by a deep link, and the app fetches data
from a second duct on another port (another origin) that runs with --cors.

What the page proves, written by its script into the DOM that Chromium
dumps: the deep link reloaded to the app (the fallback); its module script
ran (Chromium runs a module only with a JavaScript type) and its stylesheet
applied (with X-Content-Type-Options: nosniff, only as text/css); the
cross-origin fetch, with a header that forces a CORS preflight, read the
data; and the same fetch from a server without --cors was blocked.

Chromium is skipped when not installed (a failure under DUCT_CI=1). As root
it runs with --no-sandbox: its own sandbox refuses to start as root.

Run: python3 tests/integration/test_browser.py
"""

import os
import re
import shutil
import subprocess
import sys

from harness import Missing, Server, check, check_eq, main, short

MODEL = "epoll"

INDEX = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>spa</title>
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head><body><p id="route">not run</p><p id="style">-</p><p id="data">-</p><p id="blocked">-</p></body></html>
"""

CSS = "#style { color: rgb(1, 2, 3); }\n"

APP_JS = """
const out = (id, text) => { document.getElementById(id).textContent = text; };
out("route", "route=" + location.pathname);
out("style", "color=" + getComputedStyle(document.getElementById("style")).color);
async function read(url, id) {
  try {
    const r = await fetch(url, {headers: {"X-Probe": "1"}});
    out(id, id + "=" + r.status + ":" + (await r.json()).value);
  } catch (e) {
    out(id, id + "=failed:" + e.name);
  }
}
await Promise.all([read("%(cors)s/data.json", "data"), read("%(plain)s/data.json", "blocked")]);
document.title = "done";
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise Missing("chromium is not installed (apt-get install chromium)")


def dump_dom(exe, url, workdir):
    args = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--user-data-dir=" + os.path.join(workdir, "profile"), "--virtual-time-budget=10000",
            "--dump-dom", url]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    env = dict(os.environ, HOME=workdir)
    out = subprocess.run(args, capture_output=True, timeout=90, env=env)
    return out.returncode, out.stdout.decode("utf-8", "replace"), out.stderr.decode("utf-8", "replace")


def text_of(dom, ident):
    m = re.search(r'<p id="%s">([^<]*)</p>' % ident, dom)
    return m.group(1) if m else None


def spa_through_fallback(suite):
    def body():
        exe = chromium()
        workdir = suite.workdir("browser-")
        servers = []
        try:
            api_root = os.path.join(workdir, "api")
            os.makedirs(api_root)
            with open(os.path.join(api_root, "data.json"), "w") as f:
                f.write('{"value": "from the api"}\n')
            api = Server(MODEL, os.path.join(workdir, "cors-srv"), root=api_root)
            plain = Server(MODEL, os.path.join(workdir, "plain-srv"), root=api_root)
            for srv in (api, plain):
                os.makedirs(srv.workdir)
            servers += [api, plain]
            api.start("--cors")
            plain.start()

            app_root = os.path.join(workdir, "app")
            os.makedirs(os.path.join(app_root, "assets"))
            with open(os.path.join(app_root, "index.html"), "w") as f:
                f.write(INDEX)
            with open(os.path.join(app_root, "assets", "app.css"), "w") as f:
                f.write(CSS)
            with open(os.path.join(app_root, "assets", "app.js"), "w") as f:
                f.write(APP_JS % {"cors": "http://" + api.addr, "plain": "http://" + plain.addr})
            app = Server(MODEL, os.path.join(workdir, "app-srv"), root=app_root)
            os.makedirs(app.workdir)
            servers.append(app)
            app.start("--fallback", "/index.html", "--header", "X-Content-Type-Options: nosniff")

            status, dom, err = dump_dom(exe, app.url("/users/42/settings"), workdir)
            check(status == 0, "chromium exited %d: %s" % (status, short(err, 600)))
            check_eq(text_of(dom, "route"), "route=/users/42/settings", "the deep link loaded the app and ran it")
            check_eq(text_of(dom, "style"), "color=rgb(1, 2, 3)", "the stylesheet applied")
            check_eq(text_of(dom, "data"), "data=200:from the api", "the cross-origin fetch with --cors")
            check_eq(text_of(dom, "blocked"), "blocked=failed:TypeError", "the same fetch without --cors")

            for srv in servers:
                srv.stop()
            log = open(app.log_path).read()
            for line in ("GET /users/42/settings HTTP/1.1\" 200", "GET /assets/app.js HTTP/1.1\" 200",
                         "GET /assets/app.css HTTP/1.1\" 200"):
                check(line in log, "the app's access log has %s: %s" % (line, short(log, 800)))
            api_log = open(api.log_path).read()
            check('"OPTIONS /data.json HTTP/1.1" 204' in api_log, "the API saw a preflight: %s" % short(api_log, 600))
            check('"GET /data.json HTTP/1.1" 200' in api_log, "and the GET: %s" % short(api_log, 600))
        finally:
            for srv in servers:
                srv.kill()
            shutil.rmtree(workdir, ignore_errors=True)
    suite.run("chromium loads a single-page app through --fallback and fetches across origins", body,
              timeout=120)


if __name__ == "__main__":
    sys.exit(main("browser", spa_through_fallback))
