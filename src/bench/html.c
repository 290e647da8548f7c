/* --html FILE: one self-contained page (no script, no font, no link: it
 * opens from a file with no network) with two hand-drawn SVG plots:
 *  - the latency percentile curve as HdrHistogram plots it: the x axis is
 *    1/(1 - percentile) on a log scale, so 90%, 99%, 99.9% are evenly spaced
 *    and the tail gets as much room as the median;
 *  - the responses completed in each second of the measurement. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/report.h"
#include "bench/units.h"

#define PLOT_W 720
#define PLOT_H 300
#define PAD_L 70
#define PAD_B 40
#define PAD_T 20
#define PAD_R 40
#define CURVE_POINTS 121 /* 20 per decade of 1/(1-p), up to 99.9999% */

static void html_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* A round number at or above v, for an axis end, so that its quarters are round too. */
static double nice_ceil(double v)
{
    static const double steps[] = {1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10};
    double p;

    if (v <= 0)
        return 1;
    p = pow(10, floor(log10(v)));
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (v <= steps[i] * p)
            return steps[i] * p;
    return 10 * p;
}

static void svg_open(FILE *out, const char *title)
{
    fprintf(out, "<h2>");
    html_escape(out, title);
    fprintf(out, "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                 "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H);
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#999\"/>\n", PAD_L,
            PAD_T, PLOT_W - PAD_L - PAD_R, PLOT_H - PAD_T - PAD_B);
}

/* Horizontal grid lines and labels for a y axis from 0 to top. */
static void svg_y_axis(FILE *out, double top, const char *unit)
{
    double h = PLOT_H - PAD_T - PAD_B;

    for (int i = 0; i <= 4; i++) {
        double y = PLOT_H - PAD_B - h * i / 4;
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PAD_L, PLOT_W - PAD_R,
                y, y);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", PAD_L - 6, y + 4, top * i / 4);
    }
    fprintf(out, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">%s</text>\n",
            PLOT_H / 2, PLOT_H / 2, unit);
}

static double curve_x(double decades, double max_decades)
{
    return PAD_L + (PLOT_W - PAD_L - PAD_R) * decades / max_decades;
}

static void plot_percentiles(FILE *out, const struct hist *h)
{
    /* Beyond 1/count the percentiles are all the maximum: stop the axis there. */
    double max_dec = h->count > 1 ? ceil(log10((double)h->count)) : 1, top, ph = PLOT_H - PAD_T - PAD_B;
    static const char *const labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"};

    if (max_dec > 6)
        max_dec = 6;
    top = nice_ceil((double)h->max / 1000.0);
    svg_open(out, "Latency by percentile");
    svg_y_axis(out, top, "latency (ms)");
    for (int d = 0; d <= (int)max_dec; d++)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", curve_x(d, max_dec),
                PLOT_H - PAD_B + 16, labels[d]);
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile</text>\n", (PLOT_W + PAD_L) / 2,
            PLOT_H - 6);
    if (h->count == 0) {
        fprintf(out, "</svg>\n<p>No complete response: nothing to plot.</p>\n");
        return;
    }
    fprintf(out, "<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"2\" points=\"");
    for (int i = 0; i < CURVE_POINTS; i++) {
        double dec = max_dec * i / (CURVE_POINTS - 1), p = 100.0 * (1.0 - pow(10, -dec));
        double ms = (double)hist_percentile(h, p) / 1000.0;
        fprintf(out, "%.1f,%.1f ", curve_x(dec, max_dec), PLOT_H - PAD_B - ph * ms / top);
    }
    fprintf(out, "\"/>\n</svg>\n");
}

static void plot_timeline(FILE *out, const struct bench_result *r)
{
    size_t n = (size_t)ceil(r->seconds);
    double top = 0, pw = PLOT_W - PAD_L - PAD_R, ph = PLOT_H - PAD_T - PAD_B, bw;

    if (n > r->total.timeline_len)
        n = r->total.timeline_len;
    for (size_t i = 0; i < n; i++)
        if ((double)r->total.timeline[i] > top)
            top = (double)r->total.timeline[i];
    top = nice_ceil(top);
    svg_open(out, "Responses per second");
    svg_y_axis(out, top, "responses in the second");
    bw = n ? pw / (double)n : pw;
    for (size_t i = 0; i < n; i++) {
        double hgt = ph * (double)r->total.timeline[i] / top;
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#36c\"/>\n",
                PAD_L + bw * (double)i + bw * 0.1, PLOT_H - PAD_B - hgt, bw * 0.8, hgt);
    }
    /* A label under every bar, or under every tenth or so of them. */
    for (size_t i = 0, every = n > 20 ? (n + 9) / 10 : 1; i < n; i += every)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%zu</text>\n", PAD_L + bw * ((double)i + 0.5),
                PLOT_H - PAD_B + 16, i);
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">second of the measurement</text>\n",
            (PLOT_W + PAD_L) / 2, PLOT_H - 6);
    fprintf(out, "</svg>\n");
    if (n < (size_t)ceil(r->seconds))
        fprintf(out, "<p>Only the first %zu seconds are kept per second.</p>\n", n);
}

/* The text report, verbatim, so that the page holds every figure too. */
static void html_summary(FILE *out, const struct bench_result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    if (!mem)
        return;
    bench_report_text(mem, r);
    if (fclose(mem) == 0) {
        fprintf(out, "<pre>");
        html_escape(out, text);
        fprintf(out, "</pre>\n");
    }
    free(text);
}

int bench_report_html(FILE *out, const struct bench_result *r)
{
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>duct bench ");
    html_escape(out, r->cfg->target);
    fprintf(out, "</title>\n<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}"
                 "pre{background:#f4f4f4;padding:1em;overflow-x:auto}h2{font-size:1.1em;margin-top:2em}</style>\n"
                 "</head>\n<body>\n<h1>duct bench</h1>\n");
    html_summary(out, r);
    plot_percentiles(out, &r->total.latency);
    plot_timeline(out, r);
    fprintf(out, "</body>\n</html>\n");
    return ferror(out) ? -1 : 0;
}
