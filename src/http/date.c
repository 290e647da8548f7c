/* HTTP-date (RFC 9110 §5.6.7) by plain calendar arithmetic on the proleptic
 * Gregorian calendar, so that neither the process's time zone nor its locale
 * (month and day names) can leak into a header. */
#include "http/date.h"

#include <stdbool.h>
#include <string.h>

static const char *const wkday_name[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const weekday_long[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday" };
static const char *const month_name[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* IMF-fixdate has a four-digit year: outside 0001..9999 the text would not be
 * a date any recipient could parse, so time values are clamped to that span. */
static const long long first_second = -62135596800LL;  /* 0001-01-01T00:00:00Z */
static const long long last_second = 253402300799LL;   /* 9999-12-31T23:59:59Z */

struct civil {
    long long year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
};

static long long floor_div(long long a, long long b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01. The year is taken to start on 1 March so that the
 * leap day falls last, and counted in 400-year cycles of 146097 days, within
 * which every cycle has the same pattern of leap years. */
static long long days_from_civil(struct civil c)
{
    long long y = c.year - (c.month <= 2);
    long long cycle = floor_div(y, 400);
    long long year_of_cycle = y - cycle * 400;
    int month_from_march = c.month > 2 ? c.month - 3 : c.month + 9;
    /* Days before a month counted from March: the 31/30 pattern repeats every
     * five months, 153 days, so this is exact. */
    long long day_of_year = (153 * month_from_march + 2) / 5 + c.day - 1;
    long long day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    /* 719468 days separate 0000-03-01 from 1970-01-01. */
    return cycle * 146097 + day_of_cycle - 719468;
}

/* The inverse of days_from_civil. */
static struct civil civil_from_days(long long days)
{
    long long z = days + 719468;
    long long cycle = floor_div(z, 146097);
    long long day_of_cycle = z - cycle * 146097;
    /* Remove the leap days (one per 1460 days, less one per 36524, plus the
     * one at the end of the cycle) to find the year within the cycle. */
    long long year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146096) / 365;
    long long day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    int month_from_march = (int)((5 * day_of_year + 2) / 153);
    struct civil c;

    c.day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    c.month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    c.year = year_of_cycle + cycle * 400 + (c.month <= 2);
    return c;
}

/* 1970-01-01 was a Thursday; 0 is Sunday. */
static int weekday_of(long long days)
{
    return (int)(days + 4 - floor_div(days + 4, 7) * 7);
}

static char *put_digits(char *p, long long value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + width;
}

static char *put_text(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

void http_date_format(time_t t, char out[HTTP_DATE_LEN + 1])
{
    long long s = (long long)t;

    if (s < first_second)
        s = first_second;
    if (s > last_second)
        s = last_second;
    long long days = floor_div(s, 86400);
    long long secs = s - days * 86400;
    struct civil c = civil_from_days(days);
    char *p = out;

    p = put_text(p, wkday_name[weekday_of(days)], 3);
    p = put_text(p, ", ", 2);
    p = put_digits(p, c.day, 2);
    *p++ = ' ';
    p = put_text(p, month_name[c.month - 1], 3);
    *p++ = ' ';
    p = put_digits(p, c.year, 4);
    *p++ = ' ';
    p = put_digits(p, secs / 3600, 2);
    *p++ = ':';
    p = put_digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, secs % 60, 2);
    p = put_text(p, " GMT", 4);
    *p = '\0';
}

const char *http_date_cached(struct http_date_cache *cache, time_t now)
{
    /* A zeroed cache has an empty text, which marks it as not yet computed. */
    if (cache->text[0] == '\0' || cache->second != now) {
        http_date_format(now, cache->text);
        cache->second = now;
    }
    return cache->text;
}

struct cursor {
    const char *s;
    size_t len;
    size_t pos;
};

struct fields {
    int wday;
    long long year;
    int month;
    int day;
    int hour;
    int minute;
    int second;
};

/* RFC 9110 §5.6.7 spells names and "GMT" with %s"...": case-sensitive. */
static bool lit(struct cursor *c, const char *text)
{
    size_t n = strlen(text);

    if (c->len - c->pos < n || memcmp(c->s + c->pos, text, n) != 0)
        return false;
    c->pos += n;
    return true;
}

static bool digits(struct cursor *c, int count, int *value)
{
    int v = 0;

    if (c->len - c->pos < (size_t)count)
        return false;
    for (int i = 0; i < count; i++) {
        char ch = c->s[c->pos + (size_t)i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    c->pos += (size_t)count;
    *value = v;
    return true;
}

static bool month(struct cursor *c, int *m)
{
    for (int i = 0; i < 12; i++) {
        if (lit(c, month_name[i])) {
            *m = i + 1;
            return true;
        }
    }
    return false;
}

/* "Sun" also matches the start of "Sunday": the "," that must follow the
 * IMF-fixdate name is what tells the two forms apart. */
static bool day_name(struct cursor *c, const char *const *names, int *wday)
{
    for (int i = 0; i < 7; i++) {
        if (lit(c, names[i])) {
            *wday = i;
            return true;
        }
    }
    return false;
}

static bool wkday(struct cursor *c, int *wday)
{
    return day_name(c, wkday_name, wday);
}

/* time-of-day = hour ":" minute ":" second */
static bool time_of_day(struct cursor *c, struct fields *f)
{
    return digits(c, 2, &f->hour) && lit(c, ":") && digits(c, 2, &f->minute) && lit(c, ":") &&
           digits(c, 2, &f->second);
}

static bool at_end(const struct cursor *c)
{
    return c->pos == c->len;
}

/* IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
 * date1 = day SP month SP year, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf(struct cursor *c, struct fields *f)
{
    int year;

    if (!(wkday(c, &f->wday) && lit(c, ", ") && digits(c, 2, &f->day) && lit(c, " ") &&
          month(c, &f->month) && lit(c, " ") && digits(c, 4, &year) && lit(c, " ") &&
          time_of_day(c, f) && lit(c, " GMT") && at_end(c)))
        return false;
    f->year = year;
    return true;
}

/* rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT
 * date2 = day "-" month "-" 2DIGIT, e.g. "Sunday, 06-Nov-94 08:49:37 GMT".
 * Without a clock here, "more than 50 years in the future" is judged against
 * the span 1970-2069, the range this server's timestamps can plausibly hold. */
static bool parse_rfc850(struct cursor *c, struct fields *f)
{
    int yy;

    if (!(day_name(c, weekday_long, &f->wday) && lit(c, ", ") && digits(c, 2, &f->day) && lit(c, "-") &&
          month(c, &f->month) && lit(c, "-") && digits(c, 2, &yy) && lit(c, " ") && time_of_day(c, f) &&
          lit(c, " GMT") && at_end(c)))
        return false;
    f->year = yy >= 70 ? 1900 + yy : 2000 + yy;
    return true;
}

/* asctime-date = day-name SP date3 SP time-of-day SP year
 * date3 = month SP ( 2DIGIT / ( SP DIGIT )), e.g. "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime(struct cursor *c, struct fields *f)
{
    int year;

    if (!(wkday(c, &f->wday) && lit(c, " ") && month(c, &f->month) && lit(c, " ")))
        return false;
    if (!(lit(c, " ") ? digits(c, 1, &f->day) : digits(c, 2, &f->day)))
        return false;
    if (!(lit(c, " ") && time_of_day(c, f) && lit(c, " ") && digits(c, 4, &year) && at_end(c)))
        return false;
    f->year = year;
    return true;
}

static bool is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long year, int m)
{
    static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    return days[m - 1] + (m == 2 && is_leap(year));
}

/* Ranges per §5.6.7 (second 60 is a leap second, which time_t cannot hold:
 * it becomes the first second of the next minute). A day name that disagrees
 * with the date means the sender's clock arithmetic is broken, and a date we
 * cannot trust is better ignored, as §13.1.3 and §13.1.4 do with invalid ones. */
static int to_time(const struct fields *f, time_t *t)
{
    if (f->day < 1 || f->day > days_in_month(f->year, f->month) || f->hour > 23 || f->minute > 59 ||
        f->second > 60)
        return -1;
    long long days = days_from_civil((struct civil){ f->year, f->month, f->day });
    if (weekday_of(days) != f->wday)
        return -1;
    long long s = days * 86400 + f->hour * 3600LL + f->minute * 60LL + f->second;
    if ((long long)(time_t)s != s)
        return -1;
    *t = (time_t)s;
    return 0;
}

int http_date_parse(const char *text, size_t len, time_t *t)
{
    struct fields f;
    struct cursor c = { text, len, 0 };

    if (parse_imf(&c, &f))
        return to_time(&f, t);
    c.pos = 0;
    if (parse_rfc850(&c, &f))
        return to_time(&f, t);
    c.pos = 0;
    if (parse_asctime(&c, &f))
        return to_time(&f, t);
    return -1;
}
