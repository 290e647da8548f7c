/* HTTP-date formatting and parsing (RFC 9110 §5.6.7). */
#include "http/date.h"
#include "test.h"

static time_t parse(const char *text)
{
    time_t t = (time_t)-12345;

    if (http_date_parse(text, strlen(text), &t) != 0)
        return (time_t)-99999;
    return t;
}

static void check_format(time_t t, const char *want)
{
    char out[HTTP_DATE_LEN + 1];

    memset(out, 'X', sizeof out);
    http_date_format(t, out);
    CHECK_EQ_STR(out, want);
}

static void test_format(void)
{
    check_format(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    check_format(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    check_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    check_format(951782400 + 86400, "Wed, 01 Mar 2000 00:00:00 GMT");
    check_format(1709164800, "Thu, 29 Feb 2024 00:00:00 GMT");
    check_format(4107456000, "Sun, 28 Feb 2100 00:00:00 GMT");
    check_format(4107542400, "Mon, 01 Mar 2100 00:00:00 GMT");
    check_format(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    check_format(2147483648, "Tue, 19 Jan 2038 03:14:08 GMT");
    check_format(4294967296, "Sun, 07 Feb 2106 06:28:16 GMT");
    check_format(32503680000, "Wed, 01 Jan 3000 00:00:00 GMT");
    check_format(1483228799, "Sat, 31 Dec 2016 23:59:59 GMT");
    check_format(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    check_format(-2208988800, "Mon, 01 Jan 1900 00:00:00 GMT");
    /* Outside the four-digit years the value is clamped. */
    check_format((time_t)253402300799, "Fri, 31 Dec 9999 23:59:59 GMT");
    check_format((time_t)253402300800, "Fri, 31 Dec 9999 23:59:59 GMT");
    check_format((time_t)-62135596800, "Mon, 01 Jan 0001 00:00:00 GMT");
    check_format((time_t)-62135596801, "Mon, 01 Jan 0001 00:00:00 GMT");
}

/* Against the C library's own calendar, over a long span of odd offsets. */
static void test_format_matches_libc(void)
{
    int mismatches = 0;
    int count = 0;

    for (long long s = -2208988800LL; s < 7258118400LL; s += 86399LL * 7 + 3601) {
        char want[64];
        char got[HTTP_DATE_LEN + 1];
        struct tm tm;
        time_t t = (time_t)s;
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        http_date_format(t, got);
        if (strcmp(want, got) != 0 && mismatches++ < 5)
            fprintf(stderr, "     %lld: got %s want %s\n", s, got, want);
        count++;
    }
    CHECK(count > 10000);
    CHECK_EQ_INT(mismatches, 0);
}

static void test_parse_forms(void)
{
    CHECK_EQ_INT(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    CHECK_EQ_INT(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    CHECK_EQ_INT(parse("Sun Nov  6 08:49:37 1994"), 784111777);
    CHECK_EQ_INT(parse("Sun Nov 06 08:49:37 1994"), 784111777);
    CHECK_EQ_INT(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_EQ_INT(parse("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
    CHECK_EQ_INT(parse("Thu Jan  1 00:00:00 1970"), 0);
    CHECK_EQ_INT(parse("Wed Nov 16 08:49:37 1994"), 784111777 + 10 * 86400);
    CHECK_EQ_INT(parse("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    CHECK_EQ_INT(parse("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800);
    CHECK_EQ_INT(parse("Mon, 01 Mar 2100 00:00:00 GMT"), 4107542400);
    CHECK_EQ_INT(parse("Tue, 19 Jan 2038 03:14:08 GMT"), 2147483648);
    CHECK_EQ_INT(parse("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
    /* RFC 850 years: 70-99 are 19xx, 00-69 are 20xx. */
    CHECK_EQ_INT(parse("Tuesday, 29-Feb-00 00:00:00 GMT"), 951782400);
    CHECK_EQ_INT(parse("Tuesday, 31-Dec-69 00:00:00 GMT"), 3155673600);
    CHECK_EQ_INT(parse("Wednesday, 31-Dec-69 00:00:00 GMT"), -99999);
    /* A leap second becomes the next minute's first second. */
    CHECK_EQ_INT(parse("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
    /* Only len bytes are read. */
    time_t t = 0;
    CHECK_EQ_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMTxyz", HTTP_DATE_LEN, &t), 0);
    CHECK_EQ_INT(t, 784111777);
}

static void test_parse_rejects(void)
{
    static const char *const bad[] = {
        "",
        " ",
        "Snu, 06 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "SUN, 06 Nov 1994 08:49:37 GMT",
        "Mon, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nox 1994 08:49:37 GMT",
        "Thu, 30 Feb 2023 00:00:00 GMT",
        "Sun, 29 Feb 2100 00:00:00 GMT",
        "Wed, 29 Feb 2023 00:00:00 GMT",
        "Sun, 31 Apr 1994 00:00:00 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Mon, 07 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:60:00 GMT",
        "Sun, 06 Nov 1994 23:59:61 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 06 Nov 1994 08:49:37 GMTx",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun,  6 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sundy, 06-Nov-94 08:49:37 GMT",
        "Monday, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sunday, 06-Nov-94 08:49:37 GMT junk",
        "Sunday, 31-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov   6 08:49:37 1994",
        "Sun, Nov  6 08:49:37 1994",
        "Mon Nov  6 08:49:37 1994",
        "Sun Nov  6 25:49:37 1994",
        "Sun Nov  6 08:49:37 1994\n",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov -994 08:49:37 GMT",
        "garbage",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t = 777;
        int rc = http_date_parse(bad[i], strlen(bad[i]), &t);
        if (rc != -1)
            fprintf(stderr, "     accepted \"%s\"\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_INT(t, 777);
    }
}

static void test_parse_truncated(void)
{
    /* Every proper prefix of a valid date is invalid. */
    static const char good[] = "Sun, 06 Nov 1994 08:49:37 GMT";
    int accepted = 0;
    for (size_t n = 0; n < sizeof good - 1; n++) {
        time_t t;
        accepted += http_date_parse(good, n, &t) == 0;
    }
    CHECK_EQ_INT(accepted, 0);
    /* An embedded NUL is junk like any other. */
    time_t t;
    CHECK_EQ_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT\0", HTTP_DATE_LEN + 1, &t), -1);
}

/* format -> parse returns the same second, 1970 to 2100, for all forms. */
static void test_round_trip(void)
{
    int bad = 0;
    int count = 0;

    for (long long s = 0; s <= 4133980799LL; s += 86399LL * 7) {
        char text[HTTP_DATE_LEN + 1];
        time_t t = (time_t)-1;
        http_date_format((time_t)s, text);
        if (http_date_parse(text, HTTP_DATE_LEN, &t) != 0 || (long long)t != s) {
            if (bad++ < 5)
                fprintf(stderr, "     %lld -> %s -> %lld\n", s, text, (long long)t);
        }
        count++;
    }
    CHECK(count > 6000);
    CHECK_EQ_INT(bad, 0);
}

/* RFC 850 and asctime texts built from libc's calendar parse to the same
 * second, within the 1970-2069 window that two-digit years can name. */
static void test_old_forms_round_trip(void)
{
    int bad = 0;

    for (long long s = 0; s < 3155760000LL; s += 86399LL * 13) {
        time_t t = (time_t)s;
        struct tm tm;
        char rfc850[64];
        char asct[64];
        gmtime_r(&t, &tm);
        strftime(rfc850, sizeof rfc850, "%A, %d-%b-%y %H:%M:%S GMT", &tm);
        strftime(asct, sizeof asct, "%a %b %e %H:%M:%S %Y", &tm);
        if (parse(rfc850) != t || parse(asct) != t) {
            if (bad++ < 5)
                fprintf(stderr, "     %lld: %s / %s\n", s, rfc850, asct);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_cached(void)
{
    struct http_date_cache cache = { 0 };

    const char *a = http_date_cached(&cache, 0);
    CHECK_EQ_STR(a, "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(a == cache.text);
    CHECK_EQ_STR(http_date_cached(&cache, 784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    /* Same second: the text is reused as is, so a mark put in it survives. */
    cache.text[0] = 'X';
    CHECK_EQ_STR(http_date_cached(&cache, 784111777), "Xun, 06 Nov 1994 08:49:37 GMT");
    CHECK_EQ_STR(http_date_cached(&cache, 784111778), "Sun, 06 Nov 1994 08:49:38 GMT");
    CHECK_EQ_INT(cache.second, 784111778);
}

int main(void)
{
    test_format();
    test_format_matches_libc();
    test_parse_forms();
    test_parse_rejects();
    test_parse_truncated();
    test_round_trip();
    test_old_forms_round_trip();
    test_cached();
    return test_report();
}
