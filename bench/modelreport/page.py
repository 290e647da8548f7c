"""The HTML page: self-contained (inline CSS and SVG, no script, no link), readable in a browser
and on paper. Each figure it prints comes from the JSON and carries the path it came from
(data-key), which the tests follow back."""

from html import escape

from . import facts, fmt, svg

CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #111; background: #fff; margin: 0 auto;
       max-width: 1040px; padding: 0 20px 40px; line-height: 1.45; font-size: 15px; }
h1 { font-size: 26px; margin: 24px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p, li { max-width: 920px; }
.meta { color: #333; font-size: 14px; }
.caveat { background: #fff7e0; border-left: 4px solid #E69F00; padding: 8px 12px; }
figure { margin: 12px 0 20px; page-break-inside: avoid; break-inside: avoid; }
figure svg { width: 100%; max-width: 760px; height: auto; display: block; }
figcaption { font-size: 14px; color: #222; max-width: 900px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
th, td { border: 1px solid #bbb; padding: 3px 6px; vertical-align: top; }
th { background: #eee; text-align: left; }
td.n { text-align: right; white-space: nowrap; }
td.fail { color: #a00; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 2px; }
code { font-size: 13px; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; }
  h2 { page-break-after: avoid; break-after: avoid; }
  table { font-size: 8pt; page-break-inside: auto; }
  tr { page-break-inside: avoid; }
  .caveat { background: none; }
}
"""


def num(data, path, text=None):
    """A table cell holding one figure of the JSON."""
    v = fmt.lookup(data, path)
    if text is None:
        text = facts.show(path.rsplit("/", 1)[-1], v)
    if v is None:
        return '<td class="n">-</td>'
    return '<td class="n" data-key="%s">%s</td>' % (escape(path), escape(text))


def swatch(model, models):
    colour, _ = fmt.style(model, models)
    return '<span class="swatch" style="background:%s"></span>%s' % (colour, escape(model))


def segments(segs):
    """Text whose figures carry their JSON path: a string, or a list of strings and (text, key)."""
    if isinstance(segs, str):
        return escape(segs)
    return "".join(escape(s) if isinstance(s, str) else '<span data-key="%s">%s</span>' % (escape(s[1]), escape(s[0]))
                   for s in segs)


def stops_list(data, kind):
    """Where each model stopped, one item each."""
    items, last = facts.stops(data, kind)
    if not items:
        return "<p>%s</p>" % escape(last)
    return "<p>Where models stopped:</p><ul>%s</ul><p>%s</p>" % (
        "".join("<li>%s</li>" % escape(i) for i in items), escape(last))


def figure(svg_text, caption_paragraphs, after=""):
    return "<figure>\n%s\n<figcaption>%s%s</figcaption>\n</figure>" % (
        svg_text, "".join("<p>%s</p>" % segments(p) for p in caption_paragraphs), after)


def header(data):
    m = data["meta"]
    mach = m["machine"]
    p = m["params"]
    med, mx = facts.noise(data)
    out = ["<h1>How one server serves many clients: the models of duct serve</h1>"]
    out.append('<p class="meta">Run %s to %s on %s CPUs (%s), %s GiB RAM, Linux %s (%s); %s, git %s, '
               'binary sha256 %s&hellip;; Python %s. Load average (1, 5, 15 min) %s at the start, %s at the end.</p>' % (
                   escape(m["date_start"]), escape(m.get("date_end", "?")), mach["cpus"], escape(mach["cpu_model"]),
                   mach["mem_gib"], escape(mach["kernel"]), escape(mach["arch"]), escape(m["duct"]["version"]),
                   escape(m["duct"]["git_describe"]), escape(m["duct"]["binary_sha256"]), escape(m["python"]),
                   escape(" ".join(m["load_start"])), escape(" ".join(m.get("load_end", ["?"])))))
    out.append("<p>Every model of <code>duct serve</code> was started fresh for each kind of load, with one worker, "
               "pinned to CPU %d, serving a 1 KiB file; <code>duct bench</code> (one thread, pinned to CPU %d) loaded "
               "it with %s connections in turn, %g s measured after a warm-up of %g s plus a second per %s "
               "connections (so that opening them, and for some models starting a thread or process each, is "
               "not measured), until a count failed "
               "(an error, a non-2xx answer, or a client left with no answer): a model that failed was not run "
               "further. Requests not answered within %g s count as errors. The connection limit here is the hard "
               "RLIMIT_NOFILE of %s descriptors, which cannot be raised; duct was started with --max-conns %s.</p>" % (
                   p["server_cpu"], p["client_cpu"], escape(", ".join(fmt.count(c) for c in p["counts"])),
                   p["duration"], p["warmup"], fmt.count(p.get("ramp", 5000)), p["timeout"], fmt.count(p["nofile_hard"]),
                   fmt.count(p["max_conns"])))
    if med is not None:
        out.append('<p class="caveat">Noise: the CPU time on the two CPUs that was neither the server\'s nor the '
                   'client\'s (other work on this machine) was %s of a CPU in the median run and %s at most. '
                   'Differences of a few tens of per cent between models are within what such noise does; the '
                   'shapes (who stops where, who pays per connection) are not.%s</p>' % (
                       fmt.pct(med), fmt.pct(mx), " This was a QUICK=1 run: short runs, fewer counts." if p["quick"] else ""))
    return "\n".join(out)


def glance(data):
    ms = facts.models(data)
    ref = facts.ref_count(data)
    p = data["meta"]["params"]
    out = ["<h2>At a glance</h2>",
           "<p>Per model: the idle connections it held in the hold test, the largest count it served cleanly in "
           "each kind of load, and its figures at %s connections. Memory is per idle connection (PSS for fork, "
           "RSS for the others).</p>" % fmt.count(ref),
           "<table><tr><th>model</th><th>idle connections held</th><th>largest clean count: keep-alive / one "
           "request per connection / fixed rate</th><th>req/s keep-alive @%s</th><th>req per busy second of CPU 0, "
           "keep-alive @%s</th><th>req per server CPU-second, keep-alive @%s</th><th>req/s one per connection "
           "@%s</th><th>p99 at %s req/s @%s</th><th>memory per idle connection</th><th>threads @%s keep-alive</th>"
           "</tr>" % ((fmt.count(ref),) * 4 + (fmt.count(p["rate"]), fmt.count(ref), fmt.count(ref)))]
    for m in ms:
        h = facts.hold(data, m)
        row = ["<tr><td>%s</td>" % swatch(m, ms)]
        row.append(num(data, fmt.key("hold", m, "held")) if h.get("held") is not None else "<td>-</td>")
        lasts = []
        for kind in p["kinds"]:
            lo = facts.last_ok(data, m, kind)
            lasts.append(fmt.count(lo) if lo else "none")
        row.append("<td>%s</td>" % escape(" / ".join(lasts)))
        row.append(num(data, facts.run_key(m, "keepalive", ref, "rps")))
        row.append(num(data, facts.run_key(m, "keepalive", ref, "req_per_cpu0_s")))
        row.append(num(data, facts.run_key(m, "keepalive", ref, "req_per_server_cpu_s")))
        row.append(num(data, facts.run_key(m, "close", ref, "rps")))
        row.append(num(data, facts.run_key(m, "rate", ref, "p99_ms")))
        v, k, what = facts.memory(data, m)
        row.append(num(data, k) if v is not None else "<td>-</td>")
        row.append(num(data, facts.run_key(m, "keepalive", ref, "threads")))
        out.append("".join(row) + "</tr>")
    out.append("</table>")
    out.append("<p>A dash: the model failed before that count, or the figure was not measured. Why each model "
               "stopped is in <a href=\"#stops\">How each model stopped</a>.</p>")
    return "\n".join(out)


def series(data, kind, field):
    return [(m, facts.points(data, m, kind, field)) for m in facts.models(data)]


def throughput(data):
    ms = facts.models(data)
    ref = facts.ref_count(data)
    out = ["<h2>Throughput</h2>"]
    for kind, what in (("keepalive", "kept-alive connections: each client sends its next request as soon as "
                                     "the previous answer is in"),
                       ("close", "one request per connection (Connection: close): every request pays a TCP "
                                 "handshake, an accept and a close")):
        if kind not in data["meta"]["params"]["kinds"]:
            continue
        plot = svg.line_plot("Requests per second, %s" % fmt.KIND_NAMES[kind], series(data, kind, "rps"), ms,
                             "concurrent connections (log scale)", "requests per second (1 KiB answers)")
        out.append("<h3>%s</h3>" % escape("Requests per second, " + fmt.KIND_NAMES[kind]))
        out.append(figure(plot, [
            "Responses per second (1 KiB each) over %s. One server core does all the serving, so this "
            "is also a measure of how much work each model does per request. A hollow marker with a cross is "
            "the count at which a model failed (it was not run beyond it)." % what,
            facts.ranking_sentence(data, kind, "rps", ref, "requests per second")], stops_list(data, kind)))
    return "\n".join(out)


def efficiency(data):
    ms = facts.models(data)
    ref = facts.ref_count(data)
    med, _ = facts.noise(data)
    out = ["<h2>Requests per CPU-second</h2>",
           "<p>What a request costs, rather than how fast the client could drive it, measured two ways. "
           "<b>Per busy second of CPU 0</b>, the server's core: user, nice, system, irq and softirq time of that "
           "CPU from /proc/stat, so the kernel's work for the server's sockets counts too (a process's own times "
           "miss softirq work), but so does any other work that ran on that core. <b>Per CPU-second of the "
           "server's processes</b>: their user + system time (children included, for fork), which other work "
           "does not inflate but which leaves out interrupt work done on the server's behalf. On a quiet machine "
           "the two agree within the kernel's share; on a busy one trust the second.%s</p>" % (
               (" In this run other work used %s of a CPU in the median run: the first measure is inflated by it."
                % fmt.pct(med)) if med is not None and med > 0.25 else "")]
    for field, per in (("req_per_cpu0_s", "busy CPU-second of CPU 0"),
                       ("req_per_server_cpu_s", "CPU-second of the server's processes")):
        for kind in ("keepalive", "close"):
            if kind not in data["meta"]["params"]["kinds"]:
                continue
            title = "Requests per %s, %s" % (per, fmt.KIND_NAMES[kind])
            plot = svg.line_plot(title, series(data, kind, field), ms, "concurrent connections (log scale)",
                                 "requests per %s" % per.replace("CPU-second of the server's processes",
                                                                 "server CPU-second"))
            out.append("<h3>%s</h3>" % escape(title))
            if kind == "keepalive":
                extra = ("At one connection no model keeps its core busy (server and client wait for each other), so "
                         "the figure there is about cost, not speed. The event-driven models serve many connections in "
                         "one loop, paying one wake-up for several ready sockets when many are busy; thread, fork and "
                         "pool pay a switch between threads or processes for most requests.")
            else:
                extra = ("With a connection per request the kernel's work (handshake, accept, teardown) weighs on every "
                         "model; fork adds a fork and an exit per request, thread a thread start and exit.")
            out.append(figure(plot, [extra, facts.ranking_sentence(data, kind, field, ref, "requests per " + per)]))
    return "\n".join(out)


def latency(data):
    ms = facts.models(data)
    ref = facts.ref_count(data)
    p = data["meta"]["params"]
    if "rate" not in p["kinds"]:
        return ""
    out = ["<h2>Latency at a fixed offered rate</h2>",
           "<p>duct bench offered %s requests per second, spread evenly over the connections (the open model: "
           "each connection sends a request when it falls due, and a request's latency counts from when it was "
           "due, not from when the client got round to sending it; a server that stalls a client shows the stall "
           "instead of slowing the client down). The rate is well below what every model serves at saturation, "
           "so these are the latencies of a server that is not overloaded. Note the logarithmic latency axis.</p>"
           % fmt.count(p["rate"])]
    for field, name in (("p50_ms", "median (p50)"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
        plot = svg.line_plot("Latency %s at %s req/s" % (name, fmt.count(p["rate"])), series(data, "rate", field),
                             ms, "concurrent connections (log scale)",
                             "latency %s, milliseconds (log scale)" % name.split(" ")[-1].strip("()"),
                             y_log=True, y_fmt=lambda v: ("%g" % v))
        out.append("<h3>%s</h3>" % escape("Latency, %s" % name))
        caption = [facts.ranking_sentence(data, "rate", field, ref, "%s latency" % name, high_is_good=False)]
        if field == "p50_ms":
            caption.insert(0, "Half the requests were answered faster than this. With few connections and a "
                              "quiet core it is a round trip through the loopback and one pass of the model's "
                              "loop; a model that makes a request wait for a thread, a fork or another client "
                              "shows it here first.")
        elif field == "p99_ms":
            caption.insert(0, "One request in a hundred waited longer than this: scheduling delays on a shared "
                              "core (the server's threads and other work), a fork or a thread start that had "
                              "to happen first, or a wake-up that served many connections before this one.")
        else:
            caption.insert(0, "One request in a thousand waited longer than this; with a short run it rests on few "
                              "requests, so read it as an order of magnitude.")
        out.append(figure(plot, caption, stops_list(data, "rate") if field == "p999_ms" else ""))
    return "\n".join(out)


def tasks(data):
    ms = facts.models(data)
    if "keepalive" not in data["meta"]["params"]["kinds"]:
        return ""
    plot = svg.line_plot("Threads of the server under keep-alive load", series(data, "keepalive", "threads"), ms,
                         "concurrent connections (log scale)", "threads, all processes (log scale)", y_log=True)
    top = max(facts.counts(data))
    many = []
    for m in ms:
        r = facts.run(data, m, "keepalive", top)
        if r:
            many += ["; " if many else "", "%s " % m, (fmt.count(r["threads"]), facts.run_key(m, "keepalive", top, "threads")),
                     " threads in ", (fmt.count(r["procs"]), facts.run_key(m, "keepalive", top, "procs")),
                     " process" if r["procs"] == 1 else " processes"]
    at_top = (["At %s connections: " % fmt.count(top)] + many + ["."]) if many else \
        "No model was run at %s connections." % fmt.count(top)
    return "\n".join(["<h2>Threads and processes</h2>", figure(plot, [
        "Threads the server ran (summed over its processes; the main thread included), read from /proc half-way "
        "through each keep-alive run. thread and fork grow with the connections (a thread or a process each); "
        "pool keeps its fixed pool; the event-driven models run one worker whatever the count.", at_top])])


def held(data):
    ms = facts.models(data)
    p = data["meta"]["params"]
    if not data.get("hold"):
        return ""
    bars = []
    for m in ms:
        h = facts.hold(data, m)
        v = h.get("held")
        bars.append((m, v, fmt.key("hold", m, "held"), fmt.count(v) if v is not None else "", "none held"))
    plot = svg.bar_chart("Idle keep-alive connections held", bars, ms,
                         "connections held, of %s asked for (log scale)" % fmt.count(p["hold_n"]))
    out = ["<h2 id=\"held\">Connections held</h2>", figure(plot, [
        "The hold test (bench/idle_conns.py) opened up to %s keep-alive connections in batches of %s, each "
        "sending one GET and reading the whole answer, and stopped at the first batch not wholly answered within "
        "%g s (or %g s into the test), against a server whose idle timeout outlasts the test. Held: the "
        "connections still open and silent 1 s after the last batch. "
        "The iterative model holds one client at a time by design; select stops near FD_SETSIZE; the others "
        "stop at descriptors (RLIMIT_NOFILE %s here, shared by all threads of a process), threads, processes, "
        "or the test's time." % (fmt.count(p["hold_n"]), fmt.count(p["hold_batch"]), p["hold_timeout"],
                                 p["hold_deadline"], fmt.count(p["nofile_hard"]))])]
    return "\n".join(out)


def memory(data):
    ms = facts.models(data)
    if not data.get("hold"):
        return ""
    bars = []
    for m in ms:
        v, k, what = facts.memory(data, m)
        held_n = facts.hold(data, m).get("held")
        missing = ("none held" if not held_n else
                   "%s held: too few to tell" % fmt.count(held_n) if held_n < facts.MEMORY_MIN_HELD else
                   "%s (%s): too little to tell from %s connections" % (fmt.nbytes(v), what, fmt.count(held_n)))
        bars.append((m, v, k, "%s (%s)" % (fmt.nbytes(v), what) if v is not None else "", missing))
    plot = svg.bar_chart("Memory per idle connection", bars, ms,
                         "bytes per idle connection (log scale; 1k = 1,000 bytes)")
    return "\n".join(["<h2>Memory per connection</h2>", figure(plot, [
        "(Resident memory with the held connections - resident memory before them) / connections held, summed "
        "over the server's processes. For fork this is PSS, which divides each shared page among the processes "
        "sharing it: RSS would count the text, libc and every page not yet copied once per child. Kernel memory "
        "(socket buffers, task structs, kernel stacks, page tables) is in neither figure. An event-driven "
        "connection that is idle holds a small record and no buffer; a thread holds its stack and its own "
        "buffers; a process holds the pages it has copied."])])


def stops(data):
    ms = facts.models(data)
    p = data["meta"]["params"]
    out = ['<h2 id="stops">How each model stopped</h2>',
           "<p>For each kind of load, the first count at which the model failed and what failed (it was not run "
           "beyond it), and the hold test's end.</p>",
           "<table><tr><th>model</th><th>why it behaves so</th>%s<th>hold test</th></tr>" % "".join(
               "<th>%s</th>" % escape(fmt.KIND_NAMES[k]) for k in p["kinds"])]
    for m in ms:
        row = ["<tr><td>%s</td><td>%s</td>" % (swatch(m, ms), escape(facts.WHY.get(m, "")))]
        for kind in p["kinds"]:
            f = facts.failure(data, m, kind)
            if f is None:
                row.append("<td>served every count, up to %s</td>" % fmt.count(max(p["counts"])))
            else:
                c, why = f
                row.append('<td class="fail">%s%s</td>' % (
                    "at %s: " % fmt.count(c) if c is not None else "", escape("; ".join(why))))
        h = facts.hold(data, m)
        row.append("<td>%s held: %s</td>" % (fmt.count(h.get("held")) if h else "-", escape(facts.hold_stop(data, m))))
        out.append("".join(row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


RUN_FIELDS = (("rps", "req/s"), ("req_per_cpu0_s", "req per CPU0-s"), ("req_per_server_cpu_s", "req per server CPU-s"),
              ("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9"), ("threads", "threads"),
              ("procs", "processes"), ("cpu0_busy", "CPU 0 busy"), ("others_cpu", "others' CPU"))


def every_run(data):
    ms = facts.models(data)
    out = ["<h2>Every run</h2>",
           "<p>req per CPU0-s: per busy second of CPU 0; req per server CPU-s: per CPU-second of the server's "
           "processes (user + system, children included). Latency runs from sending a request to its answer "
           "(fixed rate: from when it was due). Others' CPU: time on the two CPUs used by neither the server nor "
           "the client, in share of one CPU: the noise each run shared the machine with.</p>",
           "<table><tr><th>model</th><th>load</th><th>conns</th>%s<th>result</th></tr>" % "".join(
               "<th>%s</th>" % escape(n) for _, n in RUN_FIELDS)]
    for m in ms:
        for kind in data["meta"]["params"]["kinds"]:
            for c in facts.counts(data):
                r = facts.run(data, m, kind, c)
                if not r:
                    continue
                row = ["<tr><td>%s</td><td>%s</td><td class=\"n\">%s</td>" % (
                    escape(m), escape(fmt.KIND_NAMES[kind]), fmt.count(c))]
                for f, _ in RUN_FIELDS:
                    row.append(num(data, facts.run_key(m, kind, c, f)))
                result = "ok" if r.get("ok") else "; ".join(r.get("why", []))
                if r.get("sent_share") is not None and r["sent_share"] < 0.95:
                    result += " (%s of the requests due were sent: the latency understates the stall)" % fmt.pct(
                        r["sent_share"])
                if r.get("retried"):
                    result += " (run twice: the first try failed while others used %s of a CPU)" % fmt.pct(
                        r["retried"].get("others_cpu"))
                row.append('<td%s>%s</td>' % ("" if r.get("ok") else ' class="fail"', escape(result)))
                out.append("".join(row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def method(data):
    p = data["meta"]["params"]
    return "\n".join([
        "<h2>How to run it</h2>",
        "<pre><code>make report            # every model, %s connections; under 10 minutes\n"
        "QUICK=1 make report    # 1, 100 and 1,000 connections, short runs: under 2 minutes\n"
        "bench/report.py --render docs/report/report.json   # draw the page and summary again</code></pre>" % (
            escape(", ".join(fmt.count(c) for c in (1, 10, 100, 1000, 10000)))),
        "<p>Each run: <code>taskset -c %d duct serve DIR --model M --workers 1 --listen 127.0.0.1:0 --max-conns %d"
        "</code> and <code>taskset -c %d duct bench URL -c N -t 1 -d %gs --warmup %gs --timeout %gs</code> "
        "(with <code>--close</code>, or <code>--rate %d</code>). The CPU figures are read from /proc inside the "
        "measured part of each run; a client left without any answer is found with <code>ss -tni</code> "
        "(a client socket that has received no byte). The raw figures are in report.json next to this page; "
        "bench/report.py's header lists every setting.</p>" % (
            p["server_cpu"], p["max_conns"], p["client_cpu"], p["duration"], p["warmup"], p["timeout"], p["rate"]),
    ])


def render(data):
    parts = [header(data), glance(data), throughput(data), efficiency(data), latency(data), tasks(data),
             held(data), memory(data), stops(data), every_run(data), method(data)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>duct: the concurrency models compared</title>\n<style>%s</style>\n</head>\n<body>\n%s\n"
            "</body>\n</html>\n" % (CSS, "\n".join(x for x in parts if x)))
