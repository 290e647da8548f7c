#include "http/chunked.h"

#include <string.h>

enum state {
    S_SIZE,            /* hex digits of the chunk size */
    /* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
     * up to the CR (RFC 9112 §7.1.1): */
    S_EXT_NEXT,        /* after the size or an extension: CR, ';', or BWS before a ';' */
    S_EXT_BWS,         /* whitespace that only a ';' may follow */
    S_EXT_NAME_START,  /* after ';' and BWS: the name's first byte */
    S_EXT_NAME,        /* inside the name (a token) */
    S_EXT_NAME_BWS,    /* whitespace after the name: '=' or ';' must follow */
    S_EXT_VALUE_START, /* after '=' and BWS: a token or a quoted-string */
    S_EXT_TOKEN,       /* inside a token value */
    S_EXT_QUOTED,      /* inside a quoted-string value */
    S_EXT_QUOTED_PAIR, /* the byte after a backslash in it */
    S_SIZE_LF,         /* the size line's CR was seen */
    S_DATA,            /* chunk_left bytes of data */
    S_DATA_CR,         /* the CRLF that ends a chunk's data */
    S_DATA_LF,
    S_TRAILER_START,   /* a trailer field line, or the empty line that ends the body */
    S_TRAILER,         /* inside a trailer field line */
    S_TRAILER_LF,
    S_END_LF,          /* the final empty line's CR was seen */
    S_DONE,
};

/* 2^60 bytes: far beyond any body, and a size that can never overflow. */
#define MAX_SIZE_DIGITS 15

void http_chunked_init(struct http_chunked *d, size_t max_line, size_t max_trailers)
{
    memset(d, 0, sizeof *d);
    d->state = S_SIZE;
    d->max_line = max_line;
    d->max_trailers = max_trailers;
}

int http_chunked_done(const struct http_chunked *d)
{
    return d->state == S_DONE;
}

static int is_bws(char c)
{
    return c == ' ' || c == '\t';
}

static int to(struct http_chunked *d, int state)
{
    d->state = state;
    return 0;
}

/* Where an extension may end: the line's CR, or the ';' of the next one. */
static int ext_end(struct http_chunked *d, char c)
{
    if (c == '\r')
        return to(d, S_SIZE_LF);
    return c == ';' ? to(d, S_EXT_NAME_START) : -1;
}

/* One byte of the extensions. They are not interpreted, but they are read by
 * their grammar, so that "5;", "5;a b", "5 " or a control byte, which another
 * parser might read otherwise, end the body here. */
static int ext_byte(struct http_chunked *d, char c)
{
    switch (d->state) {
    case S_EXT_NEXT:
        return is_bws(c) ? to(d, S_EXT_BWS) : ext_end(d, c);
    case S_EXT_BWS:
        if (is_bws(c))
            return 0;
        return c == ';' ? to(d, S_EXT_NAME_START) : -1;
    case S_EXT_NAME_START:
        if (is_bws(c))
            return 0;
        return http_is_token_char(c) ? to(d, S_EXT_NAME) : -1;
    case S_EXT_NAME:
        if (http_is_token_char(c))
            return 0;
        if (c == '=')
            return to(d, S_EXT_VALUE_START);
        return is_bws(c) ? to(d, S_EXT_NAME_BWS) : ext_end(d, c);
    case S_EXT_NAME_BWS:
        if (is_bws(c))
            return 0;
        if (c == '=')
            return to(d, S_EXT_VALUE_START);
        return c == ';' ? ext_end(d, c) : -1;
    case S_EXT_VALUE_START:
        if (is_bws(c))
            return 0;
        if (c == '"')
            return to(d, S_EXT_QUOTED);
        return http_is_token_char(c) ? to(d, S_EXT_TOKEN) : -1;
    case S_EXT_TOKEN:
        if (http_is_token_char(c))
            return 0;
        return is_bws(c) ? to(d, S_EXT_BWS) : ext_end(d, c);
    case S_EXT_QUOTED: /* qdtext is HTAB, SP, VCHAR and obs-text but '"' and '\\' */
        if (c == '"')
            return to(d, S_EXT_NEXT);
        if (c == '\\')
            return to(d, S_EXT_QUOTED_PAIR);
        return http_is_field_char(c) ? 0 : -1;
    case S_EXT_QUOTED_PAIR:
        return http_is_field_char(c) ? to(d, S_EXT_QUOTED) : -1;
    default:
        return -1;
    }
}

/* One byte of a chunk-size line: 1*HEXDIG [ chunk-ext ] CRLF. */
static int size_line_byte(struct http_chunked *d, char c)
{
    if (++d->line_len > d->max_line)
        return -1;
    if (d->state == S_SIZE) {
        int v = http_hex_value((unsigned char)c);

        if (v >= 0) {
            if (++d->digits > MAX_SIZE_DIGITS)
                return -1;
            d->chunk_left = d->chunk_left * 16 + (uint64_t)v;
            return 0;
        }
        if (d->digits == 0)
            return -1;
        d->state = S_EXT_NEXT;
    }
    return ext_byte(d, c);
}

static void start_size_line(struct http_chunked *d)
{
    d->state = S_SIZE;
    d->digits = 0;
    d->chunk_left = 0;
    d->line_len = 0;
}

/* One byte of a trailer field line: a token, ':', then field-value bytes. */
static int trailer_byte(struct http_chunked *d, char c)
{
    if (c == '\r') {
        if (!d->trailer_colon)
            return -1;
        d->state = S_TRAILER_LF;
        return 0;
    }
    if (d->trailer_colon)
        return http_is_field_char(c) ? 0 : -1;
    if (c == ':') {
        d->trailer_colon = 1;
        return 0;
    }
    return http_is_token_char(c) ? 0 : -1;
}

/* Everything but data: one byte moves the state machine one step. */
static int control_byte(struct http_chunked *d, char c)
{
    if (d->state >= S_TRAILER_START && ++d->trailer_len > d->max_trailers)
        return -1;
    if (d->state < S_SIZE_LF) /* the states of a size line come first */
        return size_line_byte(d, c);
    switch (d->state) {
    case S_SIZE_LF:
        if (c != '\n' || ++d->line_len > d->max_line)
            return -1;
        d->state = d->chunk_left ? S_DATA : S_TRAILER_START;
        return 0;
    case S_DATA_CR:
        d->state = S_DATA_LF;
        return c == '\r' ? 0 : -1;
    case S_DATA_LF:
        if (c != '\n')
            return -1;
        start_size_line(d);
        return 0;
    case S_TRAILER_START:
        if (c == '\r') {
            d->state = S_END_LF;
            return 0;
        }
        d->state = S_TRAILER;
        d->trailer_colon = 0;
        return trailer_byte(d, c);
    case S_TRAILER:
        return trailer_byte(d, c);
    case S_TRAILER_LF:
        d->state = S_TRAILER_START;
        return c == '\n' ? 0 : -1;
    case S_END_LF:
        d->state = S_DONE;
        return c == '\n' ? 0 : -1;
    default:
        return -1;
    }
}

long http_chunked_decode(struct http_chunked *d, const char *buf, size_t len, struct http_span *data)
{
    size_t i = 0;

    data->ptr = buf;
    data->len = 0;
    while (i < len && d->state != S_DONE) {
        if (d->state == S_DATA) {
            size_t n = len - i;

            if (n > d->chunk_left)
                n = (size_t)d->chunk_left;
            data->ptr = buf + i;
            data->len = n;
            d->chunk_left -= n;
            d->body_len += n;
            if (d->chunk_left == 0)
                d->state = S_DATA_CR;
            return (long)(i + n);
        }
        if (control_byte(d, buf[i]) != 0)
            return -1;
        i++;
    }
    return (long)i;
}
