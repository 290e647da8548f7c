/* Numbers with units as `duct bench` reads and prints them. Pure: no I/O. */
#ifndef DUCT_BENCH_UNITS_H
#define DUCT_BENCH_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "10" or "10s", "250ms", "1.5m", "1h", "0" -> seconds in [0, 1e6]. Returns 0 or -1. */
int units_parse_duration(const char *text, double *seconds);

/* A whole number with an optional k, M or G (powers of 1000, or of 1024 with "Ki", "Mi", "Gi"), in [min, max]. */
int units_parse_count(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* "812.3 us", "12.45 ms", "1.20 s" for a value in microseconds. */
char *units_format_us(double us, char *out, size_t outlen);

/* "1.23 MB" (powers of 1000, like the "/s" figures next to it). */
char *units_format_bytes(double bytes, char *out, size_t outlen);

#endif
