/* One TLS connection driven through memory, free of I/O: ciphertext the
 * caller received goes in (tls_conn_in_space + tls_conn_in_added), plaintext
 * comes out of tls_conn_read; plaintext given to tls_conn_write comes out as
 * ciphertext to send (tls_conn_out + tls_conn_out_sent). OpenSSL sees the two
 * buffers through a BIO of our own, so no byte is copied twice and a buffer
 * that empties can be given back (an idle connection then holds only its
 * SSL state). */
#ifndef DUCT_TLS_CONN_H
#define DUCT_TLS_CONN_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_st SSL;

/* Room for one whole record (16 KiB of plaintext and its overhead). */
#define TLS_RECORD_MAX (16384 + 2048)
#define TLS_PLAIN_MAX 16384

struct tls_conn {
    SSL *ssl;
    char *in; /* ciphertext received, in[in_start..in_end) not yet taken by OpenSSL */
    size_t in_start, in_end;
    char *out; /* ciphertext to send: out[out_start..out_end) */
    size_t out_start, out_end, out_cap;
    int in_eof; /* the peer closed its sending side */
};

/* Takes ownership of ssl (a server's or a client's). 0, or -1 out of memory. */
int tls_conn_init(struct tls_conn *c, SSL *ssl);
void tls_conn_free(struct tls_conn *c);

/* Where to put received ciphertext, and how much fits; NULL out of memory. */
char *tls_conn_in_space(struct tls_conn *c, size_t *room);
/* n bytes were put there; 0 means the peer closed its side. */
void tls_conn_in_added(struct tls_conn *c, size_t n);

/* 1 done, 0 more input is needed, -1 failed (an alert may wait in out). */
int tls_conn_handshake(struct tls_conn *c);

#define TLS_READ_AGAIN 0  /* nothing yet: more ciphertext is needed */
#define TLS_READ_CLOSED -1 /* the peer closed (close_notify, or its end of input) */
#define TLS_READ_ERROR -2  /* a protocol error: the connection is over */
/* Plaintext bytes (> 0) or one of the above. */
ssize_t tls_conn_read(struct tls_conn *c, char *buf, size_t cap);

/* Encrypts all n bytes into out. 0, or -1 on failure. */
int tls_conn_write(struct tls_conn *c, const char *buf, size_t n);

/* Queues our close_notify. */
void tls_conn_shutdown(struct tls_conn *c);

/* Ciphertext waiting to be sent (NULL, *len 0: none); n bytes of it went out. */
const char *tls_conn_out(const struct tls_conn *c, size_t *len);
void tls_conn_out_sent(struct tls_conn *c, size_t n);

/* Whether received bytes wait in the buffer or inside OpenSSL. */
int tls_conn_has_input(const struct tls_conn *c);

/* Gives back the buffers that hold nothing. */
void tls_conn_trim(struct tls_conn *c);

#endif
