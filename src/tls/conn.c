#include "tls/conn.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define IN_CAP TLS_RECORD_MAX

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

/* OpenSSL reads what the caller received. */
static int bio_read(BIO *bio, char *buf, int len)
{
    struct tls_conn *c = BIO_get_data(bio);
    size_t have = c->in_end - c->in_start;
    BIO_clear_retry_flags(bio);
    if (have == 0) {
        if (c->in_eof)
            return 0;
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t n = have < (size_t)len ? have : (size_t)len;
    memcpy(buf, c->in + c->in_start, n);
    c->in_start += n;
    if (c->in_start == c->in_end)
        c->in_start = c->in_end = 0;
    return (int)n;
}

/* OpenSSL's records go to the out buffer, which takes them all: the layer
 * above bounds how much plaintext it gives at a time. */
static int bio_write(BIO *bio, const char *buf, int len)
{
    struct tls_conn *c = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (len <= 0)
        return 0;
    if (c->out_start == c->out_end)
        c->out_start = c->out_end = 0;
    if (c->out_end + (size_t)len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : TLS_RECORD_MAX;
        while (cap < c->out_end + (size_t)len)
            cap *= 2;
        char *grown = realloc(c->out, cap);
        if (!grown)
            return -1;
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_end, buf, (size_t)len);
    c->out_end += (size_t)len;
    return len;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    const struct tls_conn *c = BIO_get_data(bio);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return (long)(c->in_end - c->in_start);
    case BIO_CTRL_WPENDING:
        return (long)(c->out_end - c->out_start);
    case BIO_CTRL_EOF:
        return c->in_eof && c->in_end == c->in_start;
    default:
        return 0;
    }
}

static int bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "duct memory");
    if (m && BIO_meth_set_read(m, bio_read) && BIO_meth_set_write(m, bio_write) && BIO_meth_set_ctrl(m, bio_ctrl) &&
        BIO_meth_set_create(m, bio_create))
        method = m;
    else
        BIO_meth_free(m);
}

int tls_conn_init(struct tls_conn *c, SSL *ssl)
{
    memset(c, 0, sizeof *c);
    c->ssl = ssl;
    pthread_once(&method_once, make_method);
    BIO *bio = method ? BIO_new(method) : NULL;
    if (!bio)
        return -1;
    BIO_set_data(bio, c);
    SSL_set_bio(ssl, bio, bio); /* one reference, owned by ssl */
    return 0;
}

void tls_conn_free(struct tls_conn *c)
{
    SSL_free(c->ssl);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
}

char *tls_conn_in_space(struct tls_conn *c, size_t *room)
{
    if (!c->in && !(c->in = malloc(IN_CAP)))
        return NULL;
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    *room = IN_CAP - c->in_end;
    return c->in + c->in_end;
}

void tls_conn_in_added(struct tls_conn *c, size_t n)
{
    if (n == 0)
        c->in_eof = 1;
    c->in_end += n;
}

int tls_conn_handshake(struct tls_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1)
        return 1;
    if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ && !c->in_eof)
        return 0;
    return -1;
}

ssize_t tls_conn_read(struct tls_conn *c, char *buf, size_t cap)
{
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(c->ssl, buf, cap, &n) == 1)
        return (ssize_t)n;
    switch (SSL_get_error(c->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
        return c->in_eof ? TLS_READ_CLOSED : TLS_READ_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_READ_CLOSED;
    default:
        /* An end of input without close_notify is how most clients close:
         * an end, not an attack (truncation cannot hide in HTTP's framing). */
        if (c->in_eof && c->in_end == c->in_start) {
            ERR_clear_error();
            return TLS_READ_CLOSED;
        }
        return TLS_READ_ERROR;
    }
}

int tls_conn_write(struct tls_conn *c, const char *buf, size_t n)
{
    size_t done = 0;
    ERR_clear_error();
    return n == 0 || (SSL_write_ex(c->ssl, buf, n, &done) == 1 && done == n) ? 0 : -1;
}

void tls_conn_shutdown(struct tls_conn *c)
{
    ERR_clear_error();
    if (SSL_shutdown(c->ssl) < 0)
        ERR_clear_error();
}

const char *tls_conn_out(const struct tls_conn *c, size_t *len)
{
    *len = c->out_end - c->out_start;
    return *len ? c->out + c->out_start : NULL;
}

void tls_conn_out_sent(struct tls_conn *c, size_t n)
{
    c->out_start += n;
    if (c->out_start >= c->out_end)
        c->out_start = c->out_end = 0;
}

int tls_conn_has_input(const struct tls_conn *c)
{
    return c->in_end > c->in_start || SSL_has_pending(c->ssl);
}

void tls_conn_trim(struct tls_conn *c)
{
    if (c->in && c->in_end == c->in_start) {
        free(c->in);
        c->in = NULL;
        c->in_start = c->in_end = 0;
    }
    if (c->out && c->out_end == c->out_start) {
        free(c->out);
        c->out = NULL;
        c->out_start = c->out_end = c->out_cap = 0;
    }
}
