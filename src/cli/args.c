#include "cli/args.h"

#include <errno.h>
#include <stdlib.h>

int args_count(const char *text, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int args_timeout_ms(const char *text, int *ms)
{
    char *end;
    errno = 0;
    double s = strtod(text, &end);
    if (errno || end == text || *end || !(s > 0 && s <= 86400)) /* NaN fails too */
        return -1;
    *ms = (int)(s * 1000 + 0.999);
    return 0;
}
