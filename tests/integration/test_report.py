#!/usr/bin/env python3
"""Tests of `make report` (bench/report.py): the generator runs a tiny sweep (two models, two
connection counts, a second each, a small hold test) and its output is checked: the HTML parses
and is well nested and self-contained, there is one SVG per plot with a point per run, every
figure the page and the summary show is the JSON's, the page is a function of the JSON, and the
demo site serves the committed report.

Run: python3 tests/integration/test_report.py
Environment: DUCT_BIN, DUCT_TESTS (see harness.py). Only the standard library is used; the
sweep is bounded (every run lasts about a second, the whole generator at most REPORT_TIMEOUT).
"""

import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile

from harness import DUCT_BIN, REPO, Registry, Server, check, check_eq, main, short

TESTS = Registry()
test = TESTS.case()
REPORT = os.path.join(REPO, "bench", "report.py")
REPORT_TIMEOUT = 240
MODELS = ("epoll", "thread")
COUNTS = (1, 10)
SWEEP_ENV = {"MODELS": " ".join(MODELS), "COUNTS": " ".join(map(str, COUNTS)), "DURATION": "1", "WARMUP": "0.3",
             "SETTLE": "0.1", "HOLD_N": "40", "HOLD_BATCH": "20", "HOLD_TIMEOUT": "2", "HOLD_DEADLINE": "10"}
# The plots of a full sweep: requests/s, per busy second of CPU 0 and per server CPU-second for
# two kinds, three latency percentiles, threads, connections held, memory per connection.
PLOTS = 12


class Sweep:
    """The tiny sweep, run once for the whole suite, in the suite's directory."""
    base = None
    out = None
    error = None

    @classmethod
    def get(cls, _workdir=None):
        if cls.out is None and cls.error is None:
            out = tempfile.mkdtemp(prefix="report-", dir=cls.base)
            env = dict(os.environ, OUT=out, DUCT=DUCT_BIN, **SWEEP_ENV)
            env.pop("QUICK", None)
            try:
                p = subprocess.run([sys.executable, REPORT], env=env, capture_output=True, timeout=REPORT_TIMEOUT,
                                   stdin=subprocess.DEVNULL)
                if p.returncode != 0:
                    cls.error = "report.py exit %d: %s" % (p.returncode, p.stderr.decode()[-800:])
                else:
                    cls.out = out
            except subprocess.TimeoutExpired:
                cls.error = "report.py took more than %d s" % REPORT_TIMEOUT
        check(cls.error is None, cls.error or "")
        return cls.out


def load(out):
    with open(os.path.join(out, "report.json")) as f:
        data = json.load(f)
    with open(os.path.join(out, "models.html"), encoding="utf-8") as f:
        page = f.read()
    with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
        md = f.read()
    return data, page, md


def lookup(data, path):
    cur = data
    for p in path.split("/"):
        check(isinstance(cur, dict) and p in cur, "the JSON has nothing at %s (stops at %r)" % (path, p))
        cur = cur[p]
    return cur


# ---------------------------------------------------------------------------
# Reading the page.

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class Page(html.parser.HTMLParser):
    """Checks nesting as it parses and collects what the tests look at: tags, figures and their
    SVGs, and every element carrying data-key with its text (a <title> inside it for SVG)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.decl = [], [], {}, []
        self.keyed = []  # [tag, key, text, attrs]
        self.open_keys = []  # indices into keyed, by stack depth
        self.figures = []  # [svg count, point keys, bar keys, text]
        self.text = []
        self.svg_texts = []

    def handle_decl(self, decl):
        self.decl.append(decl)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "figure":
            self.figures.append({"svgs": 0, "points": [], "bars": [], "text": ""})
        if tag == "svg" and self.figures:
            self.figures[-1]["svgs"] += 1
            self.svg_texts.append("")
        if a.get("data-key"):
            self.keyed.append([tag, a["data-key"], "", a])
            if self.figures and a.get("class") == "pt":
                self.figures[-1]["points"].append(a["data-key"])
            if self.figures and a.get("class") == "bar":
                self.figures[-1]["bars"].append(a["data-key"])
        if tag in VOID:
            return
        self.stack.append((tag, len(self.keyed) - 1 if a.get("data-key") else None))

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if self.figures and tag == "svg":
            self.errors.append("an empty <svg/>")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1][0] if self.stack else "nothing"))
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.figures and "svg" in [t for t, _ in self.stack]:
            self.svg_texts[-1] += data + " "
        for tag, idx in self.stack:
            if idx is not None:
                self.keyed[idx][2] += data
        if self.figures and "figcaption" in [t for t, _ in self.stack]:
            self.figures[-1]["text"] += data


def parse(page):
    p = Page()
    p.feed(page)
    p.close()
    return p


UNITS = {"": 1, "B": 1, "KiB": 1024, "MiB": 1048576, "ms": 1, "%": 0.01}


def shown_number(text):
    """(value, tolerance) of the figure a text shows: '63,228', '0.106 ms', '35.0 KiB', '99%'."""
    m = re.search(r"(-?\d[\d,]*(?:\.(\d+))?)\s*(KiB|MiB|ms|B|%)?", text)
    check(m is not None, "no figure in %r" % text)
    unit = UNITS[m.group(3) or ""]
    decimals = len(m.group(2) or "")
    return float(m.group(1).replace(",", "")) * unit, 0.5 * 10 ** -decimals * unit + 1e-9


def check_figure(value, text, where):
    check(isinstance(value, (int, float)) and not isinstance(value, bool),
          "%s: the JSON holds %r, not a number" % (where, value))
    shown, tol = shown_number(text)
    check(abs(shown - value) <= tol, "%s: the page shows %r, the JSON holds %r" % (where, text, value))


def keyed_text(entry):
    """The figure's text: a cell's or span's own, or for an SVG point or bar, its <title>'s last
    part ('epoll, 10 connections, keep-alive: 110,997 (failed: ...)' -> '110,997')."""
    tag, key, text, attrs = entry
    if tag == "g":
        text = re.sub(r" \((failed|RSS|PSS)[^)]*\)?.*$", "", text.strip())
        text = text.rsplit(": ", 1)[-1]
    return text.strip()


# ---------------------------------------------------------------------------
# Tests.


@test
def generator_writes_three_files(ctx):
    out = Sweep.get(ctx)
    for name in ("models.html", "summary.md", "report.json"):
        check(os.path.getsize(os.path.join(out, name)) > 500, "%s is missing or nearly empty" % name)
    data, _, _ = load(out)
    check_eq(sorted(data["results"]), sorted(MODELS), "models in the JSON")
    check_eq(data["meta"]["params"]["models"], list(MODELS), "models asked for, in order")
    for m in MODELS:
        for kind in ("keepalive", "close", "rate"):
            runs = data["results"][m][kind]["runs"]
            check(runs, "%s %s: no run" % (m, kind))
            for c, r in runs.items():
                check(int(c) in COUNTS, "%s %s: a run at %s connections" % (m, kind, c))
                if r.get("ok"):
                    check(r["rps"] > 0 and r["responses"] > 0, "%s %s @%s: ok with no responses" % (m, kind, c))
                    check(r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"], "%s %s @%s: percentiles out of order" % (m, kind, c))
                else:
                    check(r.get("why"), "%s %s @%s: failed without a reason" % (m, kind, c))
        check(data["hold"][m].get("n") == 40, "%s: hold test: %s" % (m, short(data["hold"][m])))
    # The sweep must have measured something: epoll serves one and ten keep-alive clients.
    ok = [c for c, r in data["results"]["epoll"]["keepalive"]["runs"].items() if r.get("ok")]
    check(len(ok) >= 1, "epoll failed keep-alive at every count: %s" % short(data["results"]["epoll"]["keepalive"]))
    check_eq(data["hold"]["epoll"]["held"], 40, "epoll: idle connections held of 40")
    check(data["hold"]["thread"]["threads"] >= 40, "thread model: a thread per held connection: %s" % short(
        data["hold"]["thread"]))


@test
def html_is_valid_and_self_contained(ctx):
    _, page, _ = load(Sweep.get(ctx))
    p = parse(page)
    check_eq(p.errors, [], "nesting errors")
    check_eq([t for t, _ in p.stack], [], "tags left open")
    check_eq([d.lower() for d in p.decl], ["doctype html"], "doctype")
    for tag in ("html", "head", "body", "style"):
        check_eq(p.tags.get(tag, 0), 1, "<%s> elements" % tag)
    check(re.search(r"<head>.*<title>[^<]+</title>.*</head>", page, re.S), "no <title> in <head>")
    for tag in ("script", "link", "img", "iframe", "object"):
        check_eq(p.tags.get(tag, 0), 0, "<%s> elements (the page must stand alone)" % tag)
    check(not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page), "an external reference")
    check(not re.search(r"url\(", page), "a CSS url()")
    check("@media print" in page, "no print style")


@test
def one_svg_per_plot_with_a_point_per_run(ctx):
    data, page, _ = load(Sweep.get(ctx))
    p = parse(page)
    check_eq(len(p.figures), PLOTS, "figures")
    check_eq([f["svgs"] for f in p.figures], [1] * PLOTS, "SVGs per figure")
    check_eq(p.tags.get("svg"), PLOTS, "SVGs in the page")
    for f, text in zip(p.figures, p.svg_texts):
        check("(log scale" in text or "per second" in text, "an axis label without a scale or unit: %r" % text[-200:])
        check(f["text"].strip(), "a plot without an explanation")
    # Every run's figure is a point of the plot of its field, and nothing else is.
    by_field = {}
    for f in p.figures:
        fields = set(k.rsplit("/", 1)[-1] + "@" + k.split("/")[2] for k in f["points"])
        if f["points"]:
            check_eq(len(fields), 1, "fields in one plot")
            by_field[fields.pop()] = sorted(f["points"])
    expected = {}
    for m in MODELS:
        for kind, field in (("keepalive", "rps"), ("close", "rps"), ("keepalive", "req_per_cpu0_s"),
                            ("close", "req_per_cpu0_s"), ("keepalive", "req_per_server_cpu_s"),
                            ("close", "req_per_server_cpu_s"), ("rate", "p50_ms"), ("rate", "p99_ms"),
                            ("rate", "p999_ms"), ("keepalive", "threads")):
            for c, r in data["results"][m][kind]["runs"].items():
                if r.get(field) is not None and (r[field] > 0 or not field.endswith("_ms") and field != "threads"):
                    expected.setdefault(field + "@" + kind, []).append("results/%s/%s/runs/%s/%s" % (m, kind, c, field))
    check_eq(sorted(by_field), sorted(expected), "plotted fields")
    for k in expected:
        check_eq(by_field[k], sorted(expected[k]), "points of %s" % k)
    bars = [f["bars"] for f in p.figures if f["bars"]]
    check_eq(len(bars), 2, "bar charts")
    check_eq(sorted(bars[0]), sorted("hold/%s/held" % m for m in MODELS if data["hold"][m].get("held")), "held bars")


@test
def every_figure_shown_is_the_jsons(ctx):
    data, page, _ = load(Sweep.get(ctx))
    p = parse(page)
    check(len(p.keyed) > 50, "only %d figures carry their JSON path" % len(p.keyed))
    kinds = {}
    for entry in p.keyed:
        kinds[entry[0]] = kinds.get(entry[0], 0) + 1
        check_figure(lookup(data, entry[1]), keyed_text(entry), entry[1])
    for tag in ("td", "span", "g"):
        check(kinds.get(tag), "no keyed figure in a <%s>" % tag)
    # The glance table has a row per model, the table of runs a row per run.
    text = "".join(p.text)
    runs = sum(len(data["results"][m][k]["runs"]) for m in MODELS for k in data["results"][m])
    rows = sum(1 for e in p.keyed if e[0] == "td" and e[1].endswith("/rps") and "/runs/" in e[1])
    check(rows >= runs, "%d runs, %d req/s cells" % (runs, rows))
    meta = data["meta"]
    for what in (meta["machine"]["kernel"], meta["duct"]["git_describe"], meta["machine"]["cpu_model"]):
        check(what and what in text, "the page does not say %r" % what)


@test
def summary_has_the_same_figures(ctx):
    data, _, md = load(Sweep.get(ctx))
    for title, kind, field in (("Requests per second, keep-alive", "keepalive", "rps"),
                               ("Requests per second, one request per connection", "close", "rps"),
                               ("Latency p99 at", "rate", "p99_ms")):
        m = re.search(r"^## %s.*?\n\n(\|.*?)\n\n" % re.escape(title), md, re.S | re.M)
        check(m is not None, "no table %r in the summary" % title)
        lines = m.group(1).splitlines()
        head = [h.strip() for h in lines[0].strip("|").split("|")]
        check_eq(head[1:], ["@%s" % c for c in COUNTS], "%s: columns" % title)
        rows = {l.strip("|").split("|")[0].strip(): [x.strip() for x in l.strip("|").split("|")[1:]] for l in lines[2:]}
        check_eq(sorted(rows), sorted(MODELS), "%s: rows" % title)
        for mo in MODELS:
            for c, cell in zip(COUNTS, rows[mo]):
                r = data["results"][mo][kind]["runs"].get(str(c))
                if r is None or r.get(field) is None:
                    check_eq(cell, "", "%s %s @%d: not run, or no figure" % (title, mo, c))
                    continue
                check_figure(r[field], cell, "summary %s %s @%d" % (title, mo, c))
                check_eq(cell.endswith("(failed)"), not r["ok"], "%s %s @%d marked failed" % (title, mo, c))
    for what in (data["meta"]["machine"]["kernel"], data["meta"]["duct"]["git_describe"]):
        check(what in md, "the summary does not say %r" % what)


@test
def page_is_drawn_from_the_json_alone(ctx):
    out = Sweep.get(ctx)
    again = tempfile.mkdtemp(prefix="again-", dir=ctx)
    p = subprocess.run([sys.executable, REPORT, "--render", os.path.join(out, "report.json")],
                       env=dict(os.environ, OUT=again), capture_output=True, timeout=60)
    check_eq(p.returncode, 0, "--render exit status (%s)" % p.stderr.decode()[-300:])
    for name in ("models.html", "summary.md"):
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(again, name), "rb") as b:
            check(a.read() == b.read(), "%s drawn again from report.json differs" % name)


@test
def bad_settings_are_refused(ctx):
    for env, what in (({"COUNTS": "ten"}, "COUNTS"), ({"MODELS": "nosuch"}, "unknown model"),
                      ({"KINDS": "sideways"}, "unknown kind"), ({"DURATION": "-1"}, "DURATION")):
        p = subprocess.run([sys.executable, REPORT], env=dict(os.environ, DUCT=DUCT_BIN, OUT=ctx, **env),
                           capture_output=True, timeout=30)
        check(p.returncode != 0, "%s accepted" % env)
        check(what in p.stderr.decode(), "%s: message %r" % (env, p.stderr.decode()[-200:]))
        check(not os.path.exists(os.path.join(ctx, "report.json")), "%s: wrote a report" % env)


@test
def demo_site_serves_the_committed_report(ctx):
    committed = os.path.join(REPO, "docs", "report", "models.html")
    check(os.path.isfile(committed), "docs/report/models.html is not committed")
    for doc in ("README.md", os.path.join("docs", "MODELS.md")):
        with open(os.path.join(REPO, doc), encoding="utf-8") as f:
            check("report/models.html" in f.read(), "%s does not link to the report" % doc)
    srv = Server("epoll", ctx)
    try:
        srv.start(root=False)
        index = srv.get("/")
        check_eq(index.status, 200, "demo index status")
        check(b'href="/models.html"' in index.body, "the demo index does not link to /models.html")
        resp = srv.get("/models.html")
        check_eq(resp.status, 200, "/models.html status")
        with open(committed, "rb") as f:
            check(resp.body == f.read(), "/models.html is not docs/report/models.html (rebuild duct after make report)")
    finally:
        srv.stop()


def run_all(suite):
    Sweep.base = suite.dir
    for index, case in enumerate(TESTS):
        workdir = suite.workdir("%03d-" % index)
        suite.run(case.name, lambda: case.fn(workdir))


if __name__ == "__main__":
    sys.exit(main("report", run_all))
