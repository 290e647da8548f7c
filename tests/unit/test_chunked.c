/* Unit tests for the chunked decoder (src/http/chunked.c): every body is also
 * fed split at every byte position, so that no state depends on how the
 * bytes arrive. */
#include "http/chunked.h"
#include "test.h"

#include <stdlib.h>

#define LIT(s) s, sizeof(s) - 1

enum { LINE = 64, TRAILERS = 256 };

struct outcome {
    int error;         /* the decoder returned -1 */
    int done;          /* it saw the end of the body */
    size_t consumed;   /* bytes it consumed in all */
    char body[512];    /* the data it found */
    size_t body_len;
};

/* Feeds in[0..n) in pieces of `step` bytes (the whole when step is 0). */
static struct outcome decode(const char *in, size_t n, size_t step)
{
    struct http_chunked d;
    struct outcome o;
    size_t pos = 0;

    memset(&o, 0, sizeof o);
    http_chunked_init(&d, LINE, TRAILERS);
    while (pos < n && !http_chunked_done(&d)) {
        size_t end = step && pos + step < n ? pos + step : n;
        size_t avail = end - pos;
        struct http_span data;
        long r = http_chunked_decode(&d, in + pos, avail, &data);

        if (r < 0) {
            o.error = 1;
            break;
        }
        if (data.len) {
            if (data.ptr < in + pos || data.ptr + data.len > in + pos + (size_t)r || o.body_len + data.len > sizeof o.body)
                abort();
            memcpy(o.body + o.body_len, data.ptr, data.len);
            o.body_len += data.len;
        }
        if (r == 0 && !http_chunked_done(&d) && end == n)
            break; /* wants more than there is */
        pos += (size_t)r;
    }
    o.done = http_chunked_done(&d);
    o.consumed = pos;
    return o;
}

/* The body must decode to `want` at every split, consuming exactly `used`. */
static void check_body(const char *in, size_t n, const char *want, size_t used)
{
    for (size_t step = 0; step <= n; step++) {
        struct outcome o = decode(in, n, step);

        CHECK(!o.error);
        CHECK(o.done);
        CHECK_EQ_INT(o.consumed, used);
        CHECK_EQ_MEM(o.body, o.body_len, want, strlen(want));
        if (o.error || !o.done)
            fprintf(stderr, "     at step %zu for \"%.*s\"\n", step, (int)n, in);
    }
}

static void check_rejected(const char *in, size_t n)
{
    for (size_t step = 0; step <= n; step++) {
        struct outcome o = decode(in, n, step);

        CHECK(o.error);
        if (!o.error)
            fprintf(stderr, "     accepted at step %zu: \"%.*s\"\n", step, (int)n, in);
    }
}

static void test_valid_bodies(void)
{
    check_body(LIT("0\r\n\r\n"), "", 5);
    check_body(LIT("5\r\nhello\r\n0\r\n\r\n"), "hello", 15);
    check_body(LIT("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world", 26);
    check_body(LIT("A\r\n0123456789\r\n0\r\n\r\n"), "0123456789", 20);
    check_body(LIT("a\r\n0123456789\r\n000\r\n\r\n"), "0123456789", 22);
    check_body(LIT("005\r\nhello\r\n0\r\n\r\n"), "hello", 17);
    /* Extensions are skipped, with or without values and whitespace. */
    check_body(LIT("5;name=value\r\nhello\r\n0;last\r\n\r\n"), "hello", 31);
    check_body(LIT("5 ; a=\"q v\"\r\nhello\r\n0\r\n\r\n"), "hello", 25);
    /* Trailer fields are read and dropped. */
    check_body(LIT("5\r\nhello\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n"), "hello", 39);
    /* The bytes after the body are the next message's and are not consumed. */
    check_body(LIT("2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), "hi", 12);
}

/* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * (RFC 9112 §7.1.1): every form the grammar allows is skipped. */
static void test_extension_grammar(void)
{
    static const char *const ok[] = {
        "5;a", "5;a=b", "5;a;b", "5;a=b;c=d", "5 ;a", "5\t;a", "5; a", "5;a =b", "5;a= b", "5;a = b",
        "5;a=b ;c", "5;a ;b", "5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz", "5;a=\"\"", "5;a=\"b c\"",
        "5;a=\"\\\"\"", "5;a=\"\\\\\"", "5;a=\"x;y=z\"", "5;a=\"\t\x80\xff\"", "5;a=\"b\";c", "5;a=\"b\" ;c",
    };
    char in[128];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int n = snprintf(in, sizeof in, "%s\r\nhello\r\n0\r\n\r\n", ok[i]);
        check_body(in, (size_t)n, "hello", (size_t)n);
    }
    /* The last chunk carries extensions by the same rule. */
    check_body(LIT("0;a=\"b\"\r\n\r\n"), "", 11);
}

/* What the grammar does not allow ends the body, so that no parser that reads
 * it some other way can disagree about where the next request starts. */
static void test_extension_rejections(void)
{
    static const char *const bad[] = {
        "5;",         /* a bare semicolon: no name */
        "5; ",        /* the same, with BWS */
        "5;;a",       /* an empty extension */
        "5;a b",      /* a name that is not a token */
        "5;a;",       /* a trailing semicolon */
        "5 ",         /* whitespace after the size, no extension */
        "5\t",
        "5;a ",       /* whitespace at the end of the line */
        "5;a=b ",
        "5;a=\"b\" ",
        "5;a=",       /* '=' without a value */
        "5;a= ",
        "5;=b",       /* a value without a name */
        "5;a=b c",    /* a value that is not a token */
        "5;a=b=c",
        "5;a=\"b",     /* an unterminated quoted-string */
        "5;a=\"b\"c",  /* bytes after the closing quote */
        "5;a=b\"c\"",
        "5;(a)",      /* delimiters */
        "5;a=(b)",
        "5;a=\x80",   /* obs-text outside quotes */
        "5;a\x01",    /* control bytes */
        "5;a=b\x01",
        "5;a=\"\x01\"",
        "5;a=\"b\\\x01\"",
        "5;a=\"\x7f\"",
        "5 x",        /* no ';' */
    };
    char in[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = snprintf(in, sizeof in, "%s\r\nhello\r\n0\r\n\r\n", bad[i]);
        check_rejected(in, (size_t)n);
    }
    check_rejected(LIT("5;a=\"b\0\"\r\nhello\r\n0\r\n\r\n")); /* NUL in a quoted value */
    check_rejected(LIT("5;a=\"b\rc\"\r\nhello\r\n0\r\n\r\n")); /* bare CR in a quoted value */
    check_rejected(LIT("5;a=\"b\nc\"\r\nhello\r\n0\r\n\r\n")); /* LF in a quoted value */
    check_rejected(LIT("0;\r\n\r\n"));
    check_rejected(LIT("0 \r\n\r\n"));
}

static void test_rejections(void)
{
    check_rejected(LIT("\r\n"));                            /* no size */
    check_rejected(LIT("x\r\n"));                           /* not hex */
    check_rejected(LIT("-5\r\nhello\r\n0\r\n\r\n"));        /* sign */
    check_rejected(LIT("+5\r\nhello\r\n0\r\n\r\n"));
    check_rejected(LIT(" 5\r\nhello\r\n0\r\n\r\n"));        /* leading space */
    check_rejected(LIT("0x5\r\nhello\r\n0\r\n\r\n"));       /* C hex prefix */
    check_rejected(LIT("5\nhello\r\n0\r\n\r\n"));           /* bare LF ends the size line */
    check_rejected(LIT("5\r\nhello\n0\r\n\r\n"));           /* bare LF after data */
    check_rejected(LIT("5\r\nhelloX\r\n0\r\n\r\n"));        /* data longer than announced */
    check_rejected(LIT("5\rhello\r\n0\r\n\r\n"));           /* bare CR */
    check_rejected(LIT("5 x\r\nhello\r\n0\r\n\r\n"));       /* garbage instead of ';' */
    check_rejected(LIT("5;a\x01\r\nhello\r\n0\r\n\r\n"));   /* control byte in an extension */
    check_rejected(LIT("1000000000000000\r\n"));            /* 16 hex digits: 2^60, too big */
    check_rejected(LIT("ffffffffffffffffff\r\n"));          /* would overflow */
    check_rejected(LIT("0\r\nno colon\r\n\r\n"));           /* trailer without ':' */
    check_rejected(LIT("0\r\nBad Name: v\r\n\r\n"));        /* space in a trailer name */
    check_rejected(LIT("0\r\nA: v\nB: w\r\n\r\n"));         /* bare LF in the trailers */
    check_rejected(LIT("0\r\n\rX"));                        /* the final CRLF is not one */
}

static void test_limits(void)
{
    char line[200];
    char trailer[600];
    size_t n;

    /* A size line of LINE bytes with its CRLF is the longest allowed. */
    n = (size_t)snprintf(line, sizeof line, "1;%0*d\r\nx\r\n0\r\n\r\n", LINE - 4, 0);
    check_body(line, n, "x", n);
    n = (size_t)snprintf(line, sizeof line, "1;%0*d\r\nx\r\n0\r\n\r\n", LINE - 3, 0);
    check_rejected(line, n);
    /* A trailer section of TRAILERS bytes with its final CRLF passes; one more does not. */
    n = (size_t)snprintf(trailer, sizeof trailer, "0\r\nA:%0*d\r\n\r\n", TRAILERS - 6, 0);
    check_body(trailer, n, "", n);
    n = (size_t)snprintf(trailer, sizeof trailer, "0\r\nA:%0*d\r\n\r\n", TRAILERS - 5, 0);
    check_rejected(trailer, n);
}

static void test_large_chunk_counts_bytes(void)
{
    struct http_chunked d;
    struct http_span data;
    const char head[] = "fffffff\r\n"; /* 268435455 bytes announced */
    char block[4096];
    long r;

    http_chunked_init(&d, LINE, TRAILERS);
    r = http_chunked_decode(&d, head, sizeof head - 1, &data);
    CHECK_EQ_INT(r, (long)(sizeof head - 1));
    CHECK_EQ_INT(data.len, 0);
    memset(block, 'z', sizeof block);
    r = http_chunked_decode(&d, block, sizeof block, &data);
    CHECK_EQ_INT(r, (long)sizeof block);
    CHECK_EQ_INT(data.len, sizeof block);
    CHECK(data.ptr == block);
    CHECK_EQ_INT(d.body_len, sizeof block);
    CHECK(!http_chunked_done(&d));
}

int main(void)
{
    test_valid_bodies();
    test_rejections();
    test_extension_grammar();
    test_extension_rejections();
    test_limits();
    test_large_chunk_counts_bytes();
    return test_report();
}
