"""Hand-drawn inline SVG: line plots over connection counts (log x) and horizontal bar charts,
one colour and marker per model. Every point and bar carries data-key (its figure's path in the
JSON) and a <title> with the figure as the tables print it, for the tests and for a hover."""

import math
from html import escape

from . import fmt

W, H = 760, 360
PAD_L, PAD_R, PAD_T, PAD_B = 78, 130, 16, 56
FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="13"'


def marker(shape, x, y, colour, hollow=False, r=5.5):
    fill = "#ffffff" if hollow else colour
    common = 'fill="%s" stroke="%s" stroke-width="%s"' % (fill, colour, "2" if hollow else "1")
    if shape == "circle":
        return '<circle cx="%.1f" cy="%.1f" r="%.1f" %s/>' % (x, y, r, common)
    if shape == "square":
        s = r * 0.9
        return '<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s/>' % (x - s, y - s, 2 * s, 2 * s, common)
    sides = {"triangle": (3, -90), "triangle_down": (3, 90), "diamond": (4, 0), "pentagon": (5, -90),
             "hexagon": (6, 0), "star": (10, -90)}
    n, start = sides.get(shape, (4, 45))
    pts = []
    for i in range(n):
        a = math.radians(start + 360 * i / n)
        rr = r * 1.25 if shape != "star" else (r * 1.4 if i % 2 == 0 else r * 0.6)
        pts.append("%.1f,%.1f" % (x + rr * math.cos(a), y + rr * math.sin(a)))
    return '<polygon points="%s" %s/>' % (" ".join(pts), common)


def _open(title, height=H):
    return ['<svg xmlns="http://www.w3.org/2000/svg" class="plot" role="img" viewBox="0 0 %d %d" width="%d" '
            'height="%d" %s><title>%s</title>' % (W, height, W, height, FONT, escape(title)),
            '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (W, height)]


def _legend(models, all_models, x, y):
    out = []
    for i, m in enumerate(models):
        colour, shape = fmt.style(m, all_models)
        yy = y + 20 * i
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (x, yy, x + 24, yy, colour))
        out.append(marker(shape, x + 12, yy, colour))
        out.append('<text x="%d" y="%d" dominant-baseline="middle">%s</text>' % (x + 30, yy, escape(m)))
    return out


def _log_ticks(lo, hi):
    out, e = [], math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        if 10 ** e >= lo * 0.9999:
            out.append(10 ** e)
        e += 1
    return out


def line_plot(title, series, all_models, x_label, y_label, y_log=False, y_fmt=fmt.short_count, note=None):
    """series: [(model, [(x, y, ok, key, label)])]; x on a log scale. A point whose run failed is
    drawn hollow with a cross, joined by a dashed line: the model went no further."""
    xs = [p[0] for _, pts in series for p in pts]
    ys = [p[1] for _, pts in series for p in pts if p[1] is not None and (p[1] > 0 or not y_log)]
    out = _open(title)
    x0, x1, y0, y1 = PAD_L, W - PAD_R, PAD_T, H - PAD_B
    if not xs or not ys:
        out.append('<text x="%d" y="%d" text-anchor="middle">no data</text></svg>' % (W // 2, H // 2))
        return "\n".join(out)
    lx0, lx1 = math.log10(min(xs)) - 0.25, math.log10(max(xs)) + 0.25
    if y_log:
        ly0 = math.floor(math.log10(min(ys)))
        ly1 = math.ceil(math.log10(max(ys)))
        if ly1 == ly0:
            ly1 += 1
        ymap = lambda v: y1 - (math.log10(max(v, 10 ** ly0)) - ly0) / (ly1 - ly0) * (y1 - y0)  # noqa: E731
        yticks = [10 ** e for e in range(ly0, ly1 + 1)]
    else:
        step = fmt.nice_step(max(ys) / 4)
        top = step * math.ceil(max(ys) / step - 1e-9)
        ymap = lambda v: y1 - v / top * (y1 - y0)  # noqa: E731
        yticks = [step * i for i in range(int(round(top / step)) + 1)]
    xmap = lambda v: x0 + (math.log10(v) - lx0) / (lx1 - lx0) * (x1 - x0)  # noqa: E731
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#fbfbfb" stroke="#888"/>' % (x0, y0, x1 - x0, y1 - y0))
    for t in yticks:
        yy = ymap(t)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (x0, yy, x1, yy))
        out.append('<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>' % (
            x0 - 6, yy, escape(y_fmt(t))))
    for t in _log_ticks(10 ** lx0, 10 ** lx1):
        xx = xmap(t)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (xx, y0, xx, y1))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (xx, y1 + 18, fmt.short_count(t)))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % ((x0 + x1) / 2, H - 12, escape(x_label)))
    out.append('<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>' % (
        (y0 + y1) / 2, escape(y_label)))
    drawn = []
    for model, pts in series:
        colour, shape = fmt.style(model, all_models)
        pts = [p for p in pts if p[1] is not None and (p[1] > 0 or not y_log)]
        if not pts:
            continue
        drawn.append(model)
        for a, b in zip(pts, pts[1:]):
            dash = ' stroke-dasharray="5,4"' if not b[2] else ""
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>' % (
                xmap(a[0]), ymap(a[1]), xmap(b[0]), ymap(b[1]), colour, dash))
        for x, y, ok, k, label in pts:
            xx, yy = xmap(x), ymap(y)
            out.append('<g class="pt" data-key="%s" data-model="%s"><title>%s</title>%s%s</g>' % (
                escape(k), escape(model), escape(label), marker(shape, xx, yy, colour, hollow=not ok),
                "" if ok else '<path d="M%.1f %.1fl12 12m0 -12l-12 12" stroke="%s" stroke-width="2"/>' % (
                    xx - 6, yy - 6, colour)))
    out += _legend(drawn, all_models, x1 + 16, y0 + 12)
    if note:
        out.append('<text x="%d" y="%d" font-size="11" fill="#444">%s</text>' % (x1 + 16, y0 + 12 + 20 * len(drawn) + 8,
                                                                                escape(note)))
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title, bars, all_models, x_label, log=True, v_fmt=fmt.count):
    """bars: [(model, value or None, key, label, text shown when there is no value)], horizontal,
    one row per model; a log scale when the values span decades."""
    row = 30
    height = PAD_T + row * len(bars) + 60
    out = _open(title, height)
    x0, x1, y0 = 110, W - 150, PAD_T
    vals = [b[1] for b in bars if b[1] is not None and b[1] > 0]
    if not vals:
        out.append('<text x="%d" y="%d" text-anchor="middle">no data</text></svg>' % (W // 2, height // 2))
        return "\n".join(out)
    if log:
        lo = 10 ** math.floor(math.log10(min(vals)))
        if min(vals) < 2 * lo:
            lo /= 10  # a bar just above a decade would be a sliver
        hi = 10 ** math.ceil(math.log10(max(vals)))
        if hi <= lo:
            hi = lo * 10
        xmap = lambda v: x0 + (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (x1 - x0)  # noqa: E731
        ticks = _log_ticks(lo, hi)
    else:
        step = fmt.nice_step(max(vals) / 4)
        hi = step * math.ceil(max(vals) / step - 1e-9)
        xmap = lambda v: x0 + v / hi * (x1 - x0)  # noqa: E731
        ticks = [step * i for i in range(int(round(hi / step)) + 1)]
    y1 = y0 + row * len(bars)
    for t in ticks:
        xx = xmap(t)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (xx, y0, xx, y1))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (xx, y1 + 18, escape(v_fmt(t))))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' % (x0, y0, x0, y1))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % ((x0 + x1) / 2, height - 12, escape(x_label)))
    for i, (model, v, k, label, missing) in enumerate(bars):
        colour, shape = fmt.style(model, all_models)
        yy = y0 + row * i + row / 2
        out.append('<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>' % (
            x0 - 8, yy, escape(model)))
        if v is None or v <= 0:
            out.append('<text x="%d" y="%.1f" dominant-baseline="middle" fill="#444">%s</text>' % (
                x0 + 6, yy, escape(missing)))
            continue
        xx = xmap(v)
        out.append('<g class="bar" data-key="%s" data-model="%s"><title>%s</title>'
                   '<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="%s" fill-opacity="0.85"/>%s</g>' % (
                       escape(k), escape(model), escape(label), x0, yy - 10, max(1.0, xx - x0), 20, colour,
                       marker(shape, xx, yy, colour, r=4.5)))
        out.append('<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>' % (xx + 10, yy, escape(label)))
    out.append("</svg>")
    return "\n".join(out)
