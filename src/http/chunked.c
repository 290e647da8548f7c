#include "http/chunked.h"

#include <string.h>

enum state {
    S_SIZE,          /* hex digits of the chunk size */
    S_EXT,           /* after the size: OWS, then ';' and extensions, up to CR */
    S_SIZE_LF,       /* the size line's CR was seen */
    S_DATA,          /* chunk_left bytes of data */
    S_DATA_CR,       /* the CRLF that ends a chunk's data */
    S_DATA_LF,
    S_TRAILER_START, /* a trailer field line, or the empty line that ends the body */
    S_TRAILER,       /* inside a trailer field line */
    S_TRAILER_LF,
    S_END_LF,        /* the final empty line's CR was seen */
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

/* One byte of a chunk-size line: 1*HEXDIG [ BWS ";" chunk-ext ] CRLF. */
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
        d->state = S_EXT;
    }
    if (c == '\r') {
        d->state = S_SIZE_LF;
        return 0;
    }
    if (c == ';') {
        d->ext_started = 1;
        return 0;
    }
    if (c == ' ' || c == '\t')
        return 0;
    /* Extension names and values are not interpreted, only bounded. */
    return d->ext_started && http_is_field_char(c) ? 0 : -1;
}

static void start_size_line(struct http_chunked *d)
{
    d->state = S_SIZE;
    d->digits = 0;
    d->chunk_left = 0;
    d->line_len = 0;
    d->ext_started = 0;
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
    switch (d->state) {
    case S_SIZE:
    case S_EXT:
        return size_line_byte(d, c);
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
