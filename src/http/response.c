#include "http/response.h"

#include <string.h>

/* Content-Length = 1*DIGIT; a list of identical values ("42, 42") is what a
 * proxy may leave behind and is accepted (RFC 9110 §8.6). */
static int parse_content_length(struct http_span value, uint64_t *out, int *seen)
{
    struct http_span item;

    while (http_list_next(&value, &item)) {
        uint64_t n;

        if (http_parse_length(item, &n) != 0)
            return -1;
        if (*seen && n != *out)
            return -1;
        *out = n;
        *seen = 1;
    }
    return 0;
}

/* Is the last transfer coding chunked? Only then is the end of the body
 * marked; any other final coding lasts until the close (RFC 9112 §6.3). */
static int final_coding_is_chunked(struct http_span value)
{
    struct http_span item = {NULL, 0};
    struct http_span last = {NULL, 0};

    while (http_list_next(&value, &item))
        last = item;
    return last.ptr && http_span_ieq(last, "chunked");
}

static void connection_options(struct http_span value, int *close, int *keep_alive)
{
    struct http_span item;

    while (http_list_next(&value, &item)) {
        if (http_span_ieq(item, "close"))
            *close = 1;
        else if (http_span_ieq(item, "keep-alive"))
            *keep_alive = 1;
    }
}

int http_response_interpret(const struct http_response *res, int request_was_head, struct http_response_info *info)
{
    int saw_length = 0, saw_encoding = 0, chunked = 0, close = 0, keep_alive = 0;

    memset(info, 0, sizeof *info);
    for (size_t i = 0; i < res->header_count; i++) {
        const struct http_header *h = &res->headers[i];

        if (http_span_ieq(h->name, "content-length")) {
            if (parse_content_length(h->value, &info->content_length, &saw_length) != 0)
                return -1;
        } else if (http_span_ieq(h->name, "transfer-encoding")) {
            saw_encoding = 1;
            chunked = final_coding_is_chunked(h->value);
        } else if (http_span_ieq(h->name, "connection")) {
            connection_options(h->value, &close, &keep_alive);
        }
    }
    info->keep_alive = res->version_minor >= 1 ? !close : keep_alive && !close;
    if (request_was_head || res->status < 200 || res->status == 204 || res->status == 304) {
        info->framing = HTTP_BODY_NONE;
    } else if (saw_encoding) {
        /* Transfer-Encoding overrides Content-Length, but a sender of both
         * may be smuggling: do not reuse the connection after it. */
        info->framing = chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_UNTIL_CLOSE;
        if (saw_length || !chunked)
            info->keep_alive = 0;
    } else if (saw_length) {
        info->framing = HTTP_BODY_LENGTH;
    } else {
        info->framing = HTTP_BODY_UNTIL_CLOSE;
        info->keep_alive = 0;
    }
    return 0;
}
