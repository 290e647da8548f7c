#include "http/accept.h"

#include <string.h>

enum { Q_ABSENT = -1 };

struct codings {
    int zstd, br, gzip, identity, any; /* q-values in thousandths, or Q_ABSENT */
};

#define ORDER_SHIFT 4

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. */
static int parse_qvalue(const char *p, size_t len)
{
    if (len == 0 || (p[0] != '0' && p[0] != '1') || len > 5 || (len > 1 && p[1] != '.'))
        return -1;
    int q = (p[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* One element "coding *( OWS ';' OWS param )" at p[0..len), OWS trimmed. */
static void take_element(const char *p, size_t len, struct codings *c)
{
    size_t n = 0, i;
    int q = 1000;
    while (n < len && is_tchar(p[n]))
        n++;
    if (n == 0)
        return;
    for (i = n; i < len;) {
        while (i < len && is_ows(p[i]))
            i++;
        if (i == len || p[i] != ';')
            return;
        i++;
        while (i < len && is_ows(p[i]))
            i++;
        size_t start = i;
        while (i < len && p[i] != ';' && !is_ows(p[i]))
            i++;
        if (i - start >= 2 && (p[start] | 0x20) == 'q' && p[start + 1] == '=')
            q = parse_qvalue(p + start + 2, i - start - 2);
        if (q < 0)
            return;
    }
    struct http_span name = {p, n};
    if (http_span_ieq(name, "zstd"))
        c->zstd = q;
    else if (http_span_ieq(name, "br"))
        c->br = q;
    else if (http_span_ieq(name, "identity"))
        c->identity = q;
    else if (http_span_ieq(name, "gzip") || http_span_ieq(name, "x-gzip"))
        c->gzip = q;
    else if (n == 1 && p[0] == '*')
        c->any = q;
}

static void take_line(struct http_span v, struct codings *c)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (is_ows(v.ptr[i]) || v.ptr[i] == ','))
            i++;
        size_t start = i;
        while (i < v.len && v.ptr[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_ows(v.ptr[end - 1]))
            end--;
        if (end > start)
            take_element(v.ptr + start, end - start, c);
    }
}

/* The effective q-value of a coding: its own, else that of "*". */
static int effective(int q, int any)
{
    return q != Q_ABSENT ? q : any;
}

unsigned http_accept_encoding(const struct http_request *req)
{
    struct codings c = {Q_ABSENT, Q_ABSENT, Q_ABSENT, Q_ABSENT, Q_ABSENT};
    for (size_t i = 0; i < req->header_count; i++)
        if (http_span_ieq(req->headers[i].name, "accept-encoding"))
            take_line(req->headers[i].value, &c);
    /* In the server's order, so that a stable sort leaves ties to it. */
    const unsigned bit[3] = {HTTP_ACCEPT_ZSTD, HTTP_ACCEPT_BR, HTTP_ACCEPT_GZIP};
    const int q[3] = {effective(c.zstd, c.any), effective(c.br, c.any), effective(c.gzip, c.any)};
    int floor = effective(c.identity, c.any);
    int rank[3] = {0, 1, 2};
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && q[rank[j]] > q[rank[j - 1]]; j--) {
            int t = rank[j];
            rank[j] = rank[j - 1];
            rank[j - 1] = t;
        }
    unsigned bits = 0, shift = ORDER_SHIFT;
    for (int i = 0; i < 3; i++) {
        int k = rank[i];
        if (q[k] <= 0 || q[k] < floor)
            continue;
        bits |= bit[k] | ((unsigned)(k + 1) << shift);
        shift += 2;
    }
    return bits;
}

unsigned http_accept_pick(unsigned accept, unsigned available)
{
    static const unsigned bit[3] = {HTTP_ACCEPT_ZSTD, HTTP_ACCEPT_BR, HTTP_ACCEPT_GZIP};
    for (unsigned shift = ORDER_SHIFT; shift < ORDER_SHIFT + 6; shift += 2) {
        unsigned k = (accept >> shift) & 3;
        if (k == 0)
            return 0;
        if (available & bit[k - 1])
            return bit[k - 1];
    }
    return 0;
}

const char *http_accept_name(unsigned coding)
{
    switch (coding) {
    case HTTP_ACCEPT_ZSTD:
        return "zstd";
    case HTTP_ACCEPT_BR:
        return "br";
    case HTTP_ACCEPT_GZIP:
        return "gzip";
    default:
        return NULL;
    }
}
