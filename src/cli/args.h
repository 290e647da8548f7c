/* Flag values shared by the subcommands' command lines (serve, get, cat).
 * Each returns 0, or -1 when the text is not a valid value; the caller says
 * which flag was wrong, in its own program's name. */
#ifndef DUCT_CLI_ARGS_H
#define DUCT_CLI_ARGS_H

/* A whole decimal number in [min, max]: no sign tricks, spaces or suffixes. */
int args_count(const char *text, long long min, long long max, long long *out);

/* Seconds, possibly fractional, in (0, 86400], as milliseconds rounded up, so
 * that a tiny timeout never becomes 0 (no wait at all). */
int args_timeout_ms(const char *text, int *ms);

#endif
