/* The text summary, and the figures all three outputs share. */
#include "bench/report.h"

#include <string.h>

#include "bench/units.h"

const double bench_percentiles[] = {50, 75, 90, 99, 99.9, 99.99};
const int bench_percentile_count = sizeof bench_percentiles / sizeof bench_percentiles[0];

double bench_per_second(double count, double seconds)
{
    return seconds > 0 ? count / seconds : 0.0;
}

uint64_t bench_errors(const struct bench_stats *s)
{
    uint64_t n = 0;

    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        n += s->errors[i];
    return n;
}

/* Successes are 2xx responses (an echo round trip counts as one) over every request that ended. */
double bench_success_rate(const struct bench_stats *s)
{
    uint64_t ended = s->responses + bench_errors(s) + s->lost;
    return ended ? 100.0 * (double)s->status[2] / (double)ended : 0.0;
}

/* UDP: lost over the datagrams whose fate is known; those still in flight when a timed run ends are neither. */
double bench_loss_rate(const struct bench_stats *s)
{
    uint64_t settled = s->responses + s->lost;

    return settled ? 100.0 * (double)s->lost / (double)settled : 0.0;
}

const char *bench_model_name(const struct bench_config *cfg)
{
    return cfg->rate > 0 ? "open" : "closed";
}

static void text_header(FILE *out, const struct bench_result *r)
{
    const struct bench_config *cfg = r->cfg;

    fprintf(out, "duct bench %s\n", cfg->target);
    fprintf(out, "  %d thread%s, %d connection%s, %s model", r->threads, r->threads == 1 ? "" : "s", cfg->conns,
            cfg->conns == 1 ? "" : "s", bench_model_name(cfg));
    if (cfg->rate > 0)
        fprintf(out, " at %.0f req/s (latency from when each request was due)", cfg->rate);
    if (cfg->pipeline > 1)
        fprintf(out, ", pipeline %d", cfg->pipeline);
    if (cfg->warmup > 0)
        fprintf(out, ", %.2f s warm-up not counted", cfg->warmup);
    fprintf(out, "\n");
    if (r->interrupted)
        fprintf(out, "  interrupted: the figures cover the run up to the interruption\n");
}

static void text_latency(FILE *out, const struct hist *h)
{
    char a[32], b[32], c[32];

    if (h->count == 0) {
        fprintf(out, "  latency      no complete response\n");
        return;
    }
    fprintf(out, "  latency      mean %s, stdev %s, max %s\n", units_format_us(hist_mean(h), a, sizeof a),
            units_format_us(hist_stdev(h), b, sizeof b), units_format_us((double)h->max, c, sizeof c));
    fprintf(out, "  percentiles ");
    for (int i = 0; i < bench_percentile_count; i++)
        fprintf(out, " p%g %s%s", bench_percentiles[i],
                units_format_us((double)hist_percentile(h, bench_percentiles[i]), a, sizeof a),
                i + 1 < bench_percentile_count ? "," : "\n");
}

/* https: the handshakes apart from the requests, so that the cost of a
 * full and of a resumed handshake can be read off a --close run. */
static void text_tls(FILE *out, const struct bench_result *r)
{
    const struct bench_stats *s = &r->total;
    const struct hist *h = &s->handshake;

    fprintf(out, "  tls          %llu handshakes, %llu resumed%s", (unsigned long long)s->handshakes,
            (unsigned long long)s->resumed, r->cfg->tls_resume ? "" : " (no --tls-resume)");
    if (h->count) {
        char a[32], b[32], c[32], d[32];
        fprintf(out, "; mean %s, p50 %s, p99 %s, max %s", units_format_us(hist_mean(h), a, sizeof a),
                units_format_us((double)hist_percentile(h, 50), b, sizeof b),
                units_format_us((double)hist_percentile(h, 99), c, sizeof c),
                units_format_us((double)h->max, d, sizeof d));
    }
    fprintf(out, "\n");
}

static void text_errors(FILE *out, const struct bench_stats *s)
{
    uint64_t total = bench_errors(s);

    if (total == 0) {
        fprintf(out, "  errors       none\n");
    } else {
        fprintf(out, "  errors       %llu:", (unsigned long long)total);
        for (int i = 0; i < BENCH_ERR_COUNT; i++)
            if (s->errors[i])
                fprintf(out, " %s %llu", bench_stage_names[i], (unsigned long long)s->errors[i]);
        fprintf(out, "\n");
    }
    /* UDP notes an ICMP error here though the datagram itself only counts as lost. */
    for (int e = 1; e < BENCH_ERRNO_MAX; e++)
        if (s->errnos[e])
            fprintf(out, "               %s: %llu\n", strerror(e), (unsigned long long)s->errnos[e]);
}

static void text_cpu(FILE *out, const struct bench_result *r)
{
    fprintf(out, "  client CPU   ");
    for (int i = 0; i < r->threads; i++)
        fprintf(out, "%s%.0f%%", i ? ", " : "", 100 * r->busy[i]);
    fprintf(out, " of a core per thread\n");
    if (r->max_busy > BENCH_BUSY_LIMIT)
        fprintf(out, "  warning: a client thread used %.0f%% of its CPU: the generator was saturated, so these\n"
                     "           figures measure the client as much as the server (add -t or a core)\n",
                100 * r->max_busy);
}

void bench_report_text(FILE *out, const struct bench_result *r)
{
    const struct bench_stats *s = &r->total;
    int echo = r->cfg->url.scheme != BENCH_HTTP;
    char a[32], b[32];

    text_header(out, r);
    fprintf(out, "  %-12s %llu in %.2f s, %.1f/s\n", echo ? "round trips" : "requests",
            (unsigned long long)(s->responses + bench_errors(s) + s->lost), r->seconds,
            bench_per_second((double)s->responses, r->seconds));
    if (!echo)
        fprintf(out, "  responses    %llu: 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu, other %llu\n",
                (unsigned long long)s->responses, (unsigned long long)s->status[2], (unsigned long long)s->status[3],
                (unsigned long long)s->status[4], (unsigned long long)s->status[5],
                (unsigned long long)(s->status[0] + s->status[1]));
    if (r->cfg->url.scheme == BENCH_UDP_ECHO)
        fprintf(out, "  datagrams    %llu sent, %llu echoed, %llu lost (%.3f%% of those settled)\n",
                (unsigned long long)s->sent, (unsigned long long)s->responses, (unsigned long long)s->lost,
                bench_loss_rate(s));
    fprintf(out, "  transfer     %s read, %s/s\n", units_format_bytes((double)s->bytes, a, sizeof a),
            units_format_bytes(bench_per_second((double)s->bytes, r->seconds), b, sizeof b));
    text_latency(out, &s->latency);
    if (r->cfg->url.tls)
        text_tls(out, r);
    text_errors(out, s);
    fprintf(out, "  success      %.2f%% (%s)\n", bench_success_rate(s),
            echo ? "round trips completed" : "2xx responses over requests");
    text_cpu(out, r);
}
