"""Number formats shared by the HTML page and the Markdown summary (so both show the same
figures), the models' colours and markers, and the paths into the JSON a shown figure comes from."""

import math

# One colour and one marker per model, kept across every plot (Okabe-Ito's colour-blind-safe
# palette, its yellow replaced by a brown that prints; the markers tell them apart in grey).
STYLE = {
    "iterative": ("#000000", "circle"),
    "fork": ("#E69F00", "square"),
    "thread": ("#56B4E9", "triangle"),
    "pool": ("#009E73", "diamond"),
    "select": ("#CC79A7", "triangle_down"),
    "poll": ("#0072B2", "pentagon"),
    "epoll": ("#D55E00", "hexagon"),
    "uring": ("#8C6D1F", "star"),
}
EXTRA = [("#666666", "circle"), ("#994455", "square"), ("#117733", "triangle")]

KIND_NAMES = {
    "keepalive": "keep-alive",
    "close": "one request per connection",
    "rate": "fixed rate",
}


def style(model, models):
    if model in STYLE:
        return STYLE[model]
    others = [m for m in models if m not in STYLE]
    return EXTRA[others.index(model) % len(EXTRA)] if model in others else EXTRA[0]


def count(v):
    """An integer with thousands separators: 63,228."""
    if v is None:
        return "-"
    return "{:,}".format(int(round(v)))


def ms(v):
    """Milliseconds to about 3 significant digits."""
    if v is None:
        return "-"
    if v < 1:
        return "%.3f ms" % v
    if v < 10:
        return "%.2f ms" % v
    if v < 100:
        return "%.1f ms" % v
    return "{:,} ms".format(int(round(v)))


def nbytes(v):
    """Bytes: exact below 10 KiB, KiB above."""
    if v is None:
        return "-"
    if abs(v) < 10240:
        return "{:,} B".format(int(round(v)))
    if abs(v) < 10 * 1048576:
        return "%.1f KiB" % (v / 1024)
    return "%.1f MiB" % (v / 1048576)


def pct(v):
    if v is None:
        return "-"
    return "%.0f%%" % (100 * v)


def fixed(v, digits=1):
    if v is None:
        return "-"
    return "%.*f" % (digits, v)


def key(*parts):
    """A path into the report's JSON, as data-key attributes carry it: results/epoll/keepalive/runs/100/rps."""
    return "/".join(str(p) for p in parts)


def lookup(data, path):
    """The value at a key() path, or None."""
    cur = data
    for p in path.split("/"):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            return None
    return cur


def nice_step(v):
    """A round axis step at or above v: 1, 2, 2.5 or 5 times a power of ten."""
    if v <= 0:
        return 1
    p = 10 ** math.floor(math.log10(v))
    for s in (1, 2, 2.5, 5, 10):
        if v <= s * p * 1.0000001:
            return s * p
    return 10 * p


def short_count(v):
    """Axis labels: 1, 10, 100, 1k, 12.5k, 10k, 1M."""
    if v >= 1e6:
        return "%gM" % (v / 1e6)
    if v >= 1000:
        return "%gk" % (v / 1000)
    if v >= 1:
        return "{:,}".format(int(v)) if v == int(v) else "%g" % v
    return "%g" % v
