#include "bench/request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/parse.h"

int bench_header_valid(const char *header)
{
    const char *colon = strchr(header, ':');

    if (!colon || colon == header || strpbrk(header, "\r\n"))
        return 0;
    for (const char *p = header; p < colon; p++)
        if (!http_is_token_char(*p))
            return 0;
    return 1;
}

static int has_header(const struct bench_config *cfg, const char *name)
{
    size_t n = strlen(name);

    for (int i = 0; i < cfg->header_count; i++)
        if (strncasecmp(cfg->headers[i], name, n) == 0 && cfg->headers[i][n] == ':')
            return 1;
    return 0;
}

static int read_body(const char *path, char **body, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    long size;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "--body %s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    *body = malloc((size_t)size + 1);
    if (!*body || fread(*body, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "--body %s: could not read it", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    *len = (size_t)size;
    return 0;
}

/* Formats the head of one request into a stream. */
static void write_head(FILE *f, const struct bench_config *cfg, size_t body_len, int has_body)
{
    fprintf(f, "%s %s HTTP/1.1\r\n", cfg->method, cfg->url.path);
    if (!has_header(cfg, "host"))
        fprintf(f, "Host: %s\r\n", cfg->url.authority);
    for (int i = 0; i < cfg->header_count; i++)
        fprintf(f, "%s\r\n", cfg->headers[i]);
    if (cfg->close && !has_header(cfg, "connection"))
        fputs("Connection: close\r\n", f);
    if (has_body && !has_header(cfg, "content-length"))
        fprintf(f, "Content-Length: %zu\r\n", body_len);
    fputs("\r\n", f);
}

static int build_http(const struct bench_config *cfg, char **one, size_t *one_len, char *err, size_t errlen)
{
    char *body = NULL, *head = NULL;
    size_t body_len = 0, head_len = 0;
    FILE *f;

    if (cfg->body_file && read_body(cfg->body_file, &body, &body_len, err, errlen) != 0) {
        free(body);
        return -1;
    }
    f = open_memstream(&head, &head_len);
    if (!f) {
        snprintf(err, errlen, "open_memstream: %s", strerror(errno));
        free(body);
        return -1;
    }
    write_head(f, cfg, body_len, cfg->body_file != NULL);
    if (body_len)
        fwrite(body, 1, body_len, f);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "building the request: %s", strerror(errno));
        free(body);
        free(head);
        return -1;
    }
    free(body);
    *one = head;
    *one_len = head_len;
    return 0;
}

static int build_echo(const struct bench_config *cfg, char **one, size_t *one_len)
{
    *one = malloc(cfg->size ? cfg->size : 1);
    if (!*one)
        return -1;
    /* A recognisable, non-constant pattern: a misrouted byte shows in a capture. */
    for (size_t i = 0; i < cfg->size; i++)
        (*one)[i] = (char)('a' + i % 26);
    *one_len = cfg->size;
    return 0;
}

int bench_request_build(const struct bench_config *cfg, char **out, size_t *one_len, char *err, size_t errlen)
{
    char *one = NULL, *all;
    size_t len = 0;
    int copies = cfg->pipeline > 0 ? cfg->pipeline : 1;

    if (cfg->url.scheme == BENCH_HTTP ? build_http(cfg, &one, &len, err, errlen) != 0
                                      : build_echo(cfg, &one, &len) != 0) {
        if (!*err)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    all = malloc(len * (size_t)copies + 1);
    if (!all) {
        free(one);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < copies; i++)
        memcpy(all + (size_t)i * len, one, len);
    free(one);
    *out = all;
    *one_len = len;
    return 0;
}
