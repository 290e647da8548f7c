#include "bench/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int units_parse_duration(const char *text, double *seconds)
{
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"h", 3600}};
    char *end;
    double v;
    size_t i;

    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0 || (*text < '0' || *text > '9'))
        return -1;
    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            v *= units[i].scale;
            if (v > 1e6)
                return -1;
            *seconds = v;
            return 0;
        }
    }
    return -1;
}

int units_parse_count(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t scale;
    } units[] = {{"", 1},           {"k", 1000},        {"K", 1000},         {"M", 1000000},
                 {"G", 1000000000}, {"Ki", 1024},       {"Mi", 1024 * 1024}, {"Gi", 1024 * 1024 * 1024}};
    char *end;
    unsigned long long v;
    size_t i;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > max / units[i].scale)
                return -1;
            v *= units[i].scale;
            if (v < min || v > max)
                return -1;
            *out = v;
            return 0;
        }
    }
    return -1;
}

char *units_format_us(double us, char *out, size_t outlen)
{
    if (us < 1000)
        snprintf(out, outlen, "%.0f us", us);
    else if (us < 1e6)
        snprintf(out, outlen, "%.2f ms", us / 1e3);
    else
        snprintf(out, outlen, "%.2f s", us / 1e6);
    return out;
}

char *units_format_bytes(double bytes, char *out, size_t outlen)
{
    static const char *const names[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;

    while (bytes >= 1000 && i < 4) {
        bytes /= 1000;
        i++;
    }
    snprintf(out, outlen, i ? "%.2f %s" : "%.0f %s", bytes, names[i]);
    return out;
}
