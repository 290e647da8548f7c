#include <stdio.h>
#include <stdlib.h>

#include "bench/report.h"
#include "test.h"

static struct bench_config cfg;
static struct bench_result r;

/* Renders one output into a string (freed by the caller). */
static char *render(int which)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (which == 0)
        bench_report_text(f, &r);
    else if (which == 1)
        bench_report_json(f, &r);
    else
        bench_report_html(f, &r);
    fclose(f);
    return text;
}

static void setup(void)
{
    char err[64];

    memset(&cfg, 0, sizeof cfg);
    cfg.target = "http://127.0.0.1:1/";
    cfg.method = "GET";
    cfg.conns = 1;
    cfg.pipeline = 1;
    bench_url_parse(cfg.target, &cfg.url, err, sizeof err);
    bench_stats_free(&r.total);
    memset(&r, 0, sizeof r);
    r.cfg = &cfg;
    r.threads = 1;
    bench_stats_init(&r.total, 4);
}

/* Nothing measured at all: every output still holds numbers, never nan or inf. */
static void test_empty_run_is_sane(void)
{
    setup();
    for (int which = 0; which < 3; which++) {
        char *out = render(which);
        CHECK(out && !strstr(out, "nan") && !strstr(out, "inf"));
        free(out);
    }
    CHECK(bench_per_second(5, 0) == 0.0);
    CHECK(bench_success_rate(&r.total) == 0.0);
}

static void test_saturation_warning(void)
{
    char *out;

    setup();
    r.busy[0] = r.max_busy = 0.99;
    out = render(0);
    CHECK(strstr(out, "saturated") != NULL);
    free(out);
    out = render(1);
    CHECK(strstr(out, "\"client_saturated\": true") != NULL);
    free(out);
    r.busy[0] = r.max_busy = 0.5;
    out = render(0);
    CHECK(strstr(out, "saturated") == NULL);
    free(out);
}

static void test_figures(void)
{
    char *out;

    setup();
    for (int i = 0; i < 90; i++)
        hist_record(&r.total.latency, 1000);
    for (int i = 0; i < 10; i++)
        hist_record(&r.total.latency, 50000);
    r.total.responses = 100;
    r.total.status[2] = 90;
    r.total.status[5] = 10;
    r.total.errors[BENCH_ERR_CLOSED] = 5;
    r.total.errnos[104] = 5; /* ECONNRESET on Linux */
    r.total.timeline[0] = 100;
    r.seconds = 2;
    CHECK(bench_success_rate(&r.total) > 85.71 && bench_success_rate(&r.total) < 85.72);
    out = render(0);
    CHECK(strstr(out, "requests     105 in 2.00 s, 50.0/s") != NULL);
    CHECK(strstr(out, "5xx 10") != NULL);
    CHECK(strstr(out, "closed_early 5") != NULL);
    CHECK(strstr(out, "p90 1.00 ms") != NULL);
    free(out);
    out = render(1);
    CHECK(strstr(out, "\"ECONNRESET\": 5") != NULL);
    CHECK(strstr(out, "\"90\": 1000") != NULL);
    CHECK(strstr(out, "\"non_2xx\": 10") != NULL);
    free(out);
    out = render(2);
    CHECK(strstr(out, "<svg") != NULL && strstr(out, "<polyline") != NULL);
    free(out);
}

int main(void)
{
    test_empty_run_is_sane();
    test_saturation_warning();
    test_figures();
    bench_stats_free(&r.total);
    return test_report();
}
