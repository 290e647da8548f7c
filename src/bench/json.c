/* --json FILE: every figure of the run, machine-readable. Latencies are in
 * microseconds, rates per second, durations in seconds. */
#include <string.h>

#include "bench/report.h"

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void json_config(FILE *out, const struct bench_config *cfg, int threads)
{
    fprintf(out, "  \"target\": ");
    json_string(out, cfg->target);
    fprintf(out, ",\n  \"model\": \"%s\",\n  \"connections\": %d,\n  \"threads\": %d,\n", bench_model_name(cfg),
            cfg->conns, threads);
    fprintf(out, "  \"duration_requested_s\": %.6f,\n  \"requests_requested\": %llu,\n", cfg->requests ? 0 : cfg->duration,
            (unsigned long long)cfg->requests);
    fprintf(out, "  \"warmup_s\": %.6f,\n  \"rate\": %.3f,\n  \"pipeline\": %d,\n  \"method\": ", cfg->warmup,
            cfg->rate, cfg->pipeline);
    json_string(out, cfg->method);
    fprintf(out, ",\n  \"close\": %s,\n  \"reqs_per_conn\": %llu,\n  \"timeout_s\": %.6f,\n",
            cfg->close ? "true" : "false", (unsigned long long)cfg->reqs_per_conn, cfg->timeout);
}

/* The percentile curve as [percentile, microseconds] pairs, for plotting elsewhere. */
static const double json_curve[] = {0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.75, 99.9,
                                    99.95, 99.99, 99.995, 99.999, 100};

static void json_latency(FILE *out, const char *name, const struct hist *h)
{
    fprintf(out, "  \"%s\": {\"count\": %llu, \"min\": %llu, \"mean\": %.3f, \"stdev\": %.3f, \"max\": %llu,\n",
            name, (unsigned long long)h->count, (unsigned long long)h->min, hist_mean(h), hist_stdev(h),
            (unsigned long long)h->max);
    fprintf(out, "    \"percentiles\": {");
    for (int i = 0; i < bench_percentile_count; i++)
        fprintf(out, "%s\"%g\": %llu", i ? ", " : "", bench_percentiles[i],
                (unsigned long long)hist_percentile(h, bench_percentiles[i]));
    fprintf(out, "},\n    \"curve\": [");
    for (size_t i = 0; i < sizeof json_curve / sizeof json_curve[0]; i++)
        fprintf(out, "%s[%g, %llu]", i ? ", " : "", json_curve[i],
                (unsigned long long)hist_percentile(h, json_curve[i]));
    fprintf(out, "]},\n");
}

static void json_errors(FILE *out, const struct bench_stats *s)
{
    int first = 1;

    fprintf(out, "  \"errors\": {\"total\": %llu", (unsigned long long)bench_errors(s));
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        fprintf(out, ", \"%s\": %llu", bench_stage_names[i], (unsigned long long)s->errors[i]);
    fprintf(out, "},\n  \"errors_by_errno\": {");
    for (int e = 1; e < BENCH_ERRNO_MAX; e++) {
        if (!s->errnos[e])
            continue;
        fprintf(out, "%s", first ? "" : ", ");
        json_string(out, strerrorname_np(e) ? strerrorname_np(e) : "unknown");
        fprintf(out, ": %llu", (unsigned long long)s->errnos[e]);
        first = 0;
    }
    fprintf(out, "},\n");
}

static void json_counts(FILE *out, const struct bench_result *r)
{
    const struct bench_stats *s = &r->total;

    fprintf(out, "  \"duration_s\": %.6f,\n  \"requests\": %llu,\n  \"responses\": %llu,\n", r->seconds,
            (unsigned long long)(s->responses + bench_errors(s) + s->lost), (unsigned long long)s->responses);
    fprintf(out, "  \"requests_per_s\": %.3f,\n  \"bytes\": %llu,\n  \"bytes_per_s\": %.3f,\n",
            bench_per_second((double)s->responses, r->seconds), (unsigned long long)s->bytes,
            bench_per_second((double)s->bytes, r->seconds));
    fprintf(out, "  \"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, \"4xx\": %llu, \"5xx\": %llu, "
                 "\"other\": %llu},\n",
            (unsigned long long)s->status[1], (unsigned long long)s->status[2], (unsigned long long)s->status[3],
            (unsigned long long)s->status[4], (unsigned long long)s->status[5], (unsigned long long)s->status[0]);
    fprintf(out, "  \"non_2xx\": %llu,\n  \"success_rate\": %.4f,\n  \"connections_opened\": %llu,\n",
            (unsigned long long)(s->responses - s->status[2]), bench_success_rate(s),
            (unsigned long long)s->connects);
    fprintf(out, "  \"datagrams_sent\": %llu,\n  \"datagrams_lost\": %llu,\n  \"loss_rate\": %.4f,\n",
            (unsigned long long)s->sent, (unsigned long long)s->lost, bench_loss_rate(s));
}

static void json_timeline(FILE *out, const struct bench_result *r)
{
    size_t n = (size_t)r->seconds + (r->seconds > (double)(size_t)r->seconds);

    if (n > r->total.timeline_len)
        n = r->total.timeline_len;
    fprintf(out, "  \"per_second\": [");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%llu", i ? ", " : "", (unsigned long long)r->total.timeline[i]);
    fprintf(out, "],\n  \"client_cpu\": [");
    for (int i = 0; i < r->threads; i++)
        fprintf(out, "%s%.4f", i ? ", " : "", r->busy[i]);
    fprintf(out, "],\n  \"client_saturated\": %s,\n  \"interrupted\": %s\n",
            r->max_busy > BENCH_BUSY_LIMIT ? "true" : "false", r->interrupted ? "true" : "false");
}

/* https: handshakes and their latency, apart from the requests'. */
static void json_tls(FILE *out, const struct bench_result *r)
{
    const struct bench_stats *s = &r->total;

    fprintf(out, "  \"tls\": %s,\n  \"tls_resume\": %s,\n  \"tls_handshakes\": %llu,\n  \"tls_resumed\": %llu,\n",
            r->cfg->url.tls ? "true" : "false", r->cfg->tls_resume ? "true" : "false",
            (unsigned long long)s->handshakes, (unsigned long long)s->resumed);
    json_latency(out, "tls_handshake_us", &s->handshake);
}

int bench_report_json(FILE *out, const struct bench_result *r)
{
    fprintf(out, "{\n");
    json_config(out, r->cfg, r->threads);
    json_counts(out, r);
    json_latency(out, "latency_us", &r->total.latency);
    json_tls(out, r);
    json_errors(out, &r->total);
    json_timeline(out, r);
    fprintf(out, "}\n");
    return ferror(out) ? -1 : 0;
}
