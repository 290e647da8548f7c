"""What the page and the summary say, derived from the report's JSON: the figures at a count,
where a model stopped and why, its memory, and the sentences that state figures (so that no
figure in the prose is written by hand)."""

import statistics

from . import fmt

# Why each model behaves as it does: the mechanism, free of figures (docs/MODELS.md has more).
WHY = {
    "iterative": "serves one connection at a time in its accept thread, to the connection's end. "
                 "A kept-alive client keeps it busy while every other client waits in the listen backlog "
                 "with its request unread (its idle timeout is cut to 2 s so that they eventually get a "
                 "turn); one request per connection works at any count, one client after the other.",
    "fork": "forks a child process per connection: the fork, the copy-on-write faults and the exit are "
            "paid for every connection, so one request per connection is dominated by them, and a burst "
            "of connections waits for the forks of one accept thread. Its memory is counted as PSS: the "
            "children share the parent's pages.",
    "thread": "starts a thread per connection: a pthread_create, a stack and a kernel task each, and a "
              "context switch whenever a blocked thread wakes up. Its limits are threads, memory and "
              "descriptors (RLIMIT_NOFILE is shared by the threads of the process).",
    "pool": "keeps a fixed pool of threads and lends one to a connection only while it has a request to "
            "read or an answer to write; idle connections wait in one poll set. Each request pays a hand-off "
            "to a pool thread and back, and the poll set is scanned whole at every wake-up.",
    "select": "watches its sockets with select(2), whose bitmaps stop at FD_SETSIZE = 1024 descriptor "
              "numbers for the whole process: beyond about a thousand connections duct refuses the new "
              "ones at once (a 503, or a close when even that cannot be written), since it cannot watch them. Each wake-up copies and scans the bitmaps.",
    "poll": "watches its sockets with poll(2): the whole array goes to the kernel and back at every "
            "wake-up, so the cost of a wake-up grows with the connections held, idle ones included.",
    "epoll": "keeps its interest list in the kernel (epoll_ctl when it changes) and epoll_wait returns "
             "only the ready sockets: the cost of a wake-up grows with the ready connections, not with "
             "those held.",
    "uring": "hands the kernel the operations themselves (recv, send) through an io_uring and reaps "
             "their completions, about one system call per round of the loop instead of one per read and "
             "write; an idle connection waits with a recv that takes a buffer only when bytes arrive.",
}


def counts(data):
    return data["meta"]["params"]["counts"]


def models(data):
    """The models in the order duct serve lists them (the JSON's keys are sorted)."""
    order = [m for m in data["meta"]["params"]["models"] if m in data["results"]]
    return order + sorted(m for m in data["results"] if m not in order)


def ref_count(data):
    """The count the summary compares models at: 100 when it was run."""
    c = counts(data)
    return 100 if 100 in c else max(c)


def run(data, model, kind, c):
    return data["results"].get(model, {}).get(kind, {}).get("runs", {}).get(str(c))


def run_key(model, kind, c, field):
    return fmt.key("results", model, kind, "runs", c, field)


def value(data, model, kind, c, field):
    r = run(data, model, kind, c)
    return None if r is None else r.get(field)


def last_ok(data, model, kind):
    """The largest count the model served cleanly, or None."""
    best = None
    for c in counts(data):
        r = run(data, model, kind, c)
        if r and r.get("ok"):
            best = c
    return best


def failure(data, model, kind):
    """(count, reasons) of the run the model stopped at, or None when it went all the way."""
    sw = data["results"].get(model, {}).get(kind, {})
    if sw.get("start_error"):
        return (None, ["the server did not start: " + " ".join(sw["start_error"])])
    c = sw.get("stopped_at")
    if c is None:
        return None
    r = run(data, model, kind, c) or {}
    why = list(r.get("why", []))
    if r.get("server_log"):
        why.append("server said: " + r["server_log"][0])
    return (c, why)


def points(data, model, kind, field):
    """[(x, y, ok, key, label)] for a line plot."""
    out = []
    for c in counts(data):
        r = run(data, model, kind, c)
        if not r or r.get(field) is None:
            continue
        label = "%s, %s connections, %s: %s" % (model, fmt.count(c), fmt.KIND_NAMES[kind], show(field, r[field]))
        if not r.get("ok"):
            label += " (failed: %s)" % "; ".join(r.get("why", []))
        out.append((c, r[field], bool(r.get("ok")), run_key(model, kind, c, field), label))
    return out


def show(field, v):
    """A run's figure as every table prints it."""
    if field.endswith("_ms"):
        return fmt.ms(v)
    if field.endswith("_bytes"):
        return fmt.nbytes(v)
    if field in ("cpu0_busy", "server_cpu", "others_cpu", "client_cpu"):
        return fmt.pct(v)
    return fmt.count(v)


# ---------------------------------------------------------------------------------------------
# The hold test.

def hold(data, model):
    return data.get("hold", {}).get(model) or {}


# Below this many connections held, a page or two of the allocator hides the figure per connection.
MEMORY_MIN_HELD = 20


def memory_field(model):
    """PSS for fork (its children share pages), RSS for the others."""
    return "pss_per_conn_bytes" if model == "fork" else "per_conn_bytes"


def memory(data, model):
    """(bytes per idle connection, its key, what it is) or (None, ...)."""
    h = hold(data, model)
    f = memory_field(model)
    v = h.get(f)
    if (h.get("held") or 0) < MEMORY_MIN_HELD:
        v = None
    return v, fmt.key("hold", model, f), "PSS" if f.startswith("pss") else "RSS"


def hold_stop(data, model):
    """Why the hold test stopped where it did, in words."""
    h = hold(data, model)
    if not h:
        return "not run"
    if h.get("start_error"):
        return "the server did not start"
    if h.get("error"):
        return h["error"]
    text = h.get("stop", "")
    if text == "all opened":
        text = "all %s asked for were held" % fmt.count(h.get("n"))
    fails = h.get("failures") or {}
    if fails:
        text += "; the rest: " + ", ".join("%s %s" % (k.replace("_", " "), fmt.count(v)) for k, v in sorted(fails.items()))
    if h.get("server_log"):
        text += "; server said: " + h["server_log"][0]
    if h.get("server_died") is not None:
        text += "; the server died (exit status %s)" % h["server_died"]
    return text


# ---------------------------------------------------------------------------------------------
# Sentences with figures.

def ranking(data, kind, field, c, high_is_good=True):
    """'epoll 70,000, uring 69,000, ...' at count c, best first, over the runs that were clean."""
    vals = []
    for m in models(data):
        r = run(data, m, kind, c)
        if r and r.get("ok") and r.get(field) is not None:
            vals.append((r[field], m))
    vals.sort(reverse=high_is_good)
    return vals


def ranking_sentence(data, kind, field, c, what, high_is_good=True):
    """Segments: plain strings, and (text, key) pairs for the figures (the page marks them with
    their JSON path; plain() joins them for the Markdown)."""
    vals = ranking(data, kind, field, c, high_is_good)
    if not vals:
        return ["No model served %s connections cleanly in this run." % fmt.count(c)]
    segs = ["At %s connections (%s), %s: " % (fmt.count(c), fmt.KIND_NAMES[kind], what)]
    for i, (v, m) in enumerate(vals):
        segs += [("" if i == 0 else ", ") + m + " ", (show(field, v), run_key(m, kind, c, field))]
    segs.append(".")
    failed = [m for m in models(data) if run(data, m, kind, c) and not run(data, m, kind, c).get("ok")]
    missing = [m for m in models(data) if not run(data, m, kind, c)]
    if failed:
        segs.append(" Failed at this count: %s." % ", ".join(failed))
    if missing:
        segs.append(" Not run this far (stopped earlier): %s." % ", ".join(missing))
    return segs


def plain(segs):
    """Segments as plain text."""
    if isinstance(segs, str):
        return segs
    return "".join(s if isinstance(s, str) else s[0] for s in segs)


def stops(data, kind):
    """(items, closing sentence): where each model that stopped did, and why."""
    items = []
    for m in models(data):
        f = failure(data, m, kind)
        if f is None:
            continue
        c, why = f
        if c is None:
            items.append("%s did not start (%s)." % (m, "; ".join(why)))
        else:
            ok = last_ok(data, m, kind)
            items.append("%s %s at %s connections: %s." % (
                m, "served up to %s cleanly, then failed" % fmt.count(ok) if ok else "failed from the start,",
                fmt.count(c), "; ".join(why)))
    went = [m for m in models(data) if failure(data, m, kind) is None]
    if not items:
        return [], "Every model served every count cleanly."
    return items, ("The others (%s) went up to %s." % (", ".join(went), fmt.count(max(counts(data)))) if went else
                   "No model went up to %s." % fmt.count(max(counts(data))))


def stops_sentence(data, kind):
    items, last = stops(data, kind)
    return ("Where models stopped: " + " ".join(items) + " " + last) if items else last


def noise(data):
    """(median, max) of the CPU others used on the two CPUs during the runs, as fractions of a CPU."""
    vals = []
    for m in models(data):
        for kind, sw in data["results"][m].items():
            for r in sw.get("runs", {}).values():
                if r.get("others_cpu") is not None:
                    vals.append(r["others_cpu"])
    if not vals:
        return None, None
    return statistics.median(vals), max(vals)
