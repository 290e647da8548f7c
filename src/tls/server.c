#include "tls/server.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* TLS 1.2 suites: ECDHE key exchange (forward secrecy, no RSA key
 * transport) with AEAD ciphers only (no CBC). TLS 1.3's own suites are all
 * of that kind already. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

/* One ticket key (RFC 5077's layout: a name, a cipher key and a MAC key). */
struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
};

/* Ticket keys live in memory only and rotate: tickets sealed with the
 * previous key are still accepted (and renewed) for one more period, so a
 * client resumes across a rotation and across a certificate reload. */
struct tickets {
    pthread_mutex_t lock;
    struct ticket_key cur;
    struct ticket_key prev;
    int have_prev;
    time_t born;
    int rotate_s;
};

/* The contexts of one load of the certificates: ctx[0] is the default, the
 * others are chosen by SNI. The set lives as long as ctx[0] (freed with it
 * through its ex_data), which every connection begun on it holds. */
struct ctx_set {
    SSL_CTX *ctx[TLS_MAX_CERTS];
    int count;
    struct tls_server *ts;
};

struct tls_server {
    pthread_mutex_t lock; /* guards current */
    SSL_CTX *current;     /* ctx[0] of the set new connections get */
    struct tls_server_config cfg;
    struct tickets tickets;
    X509 *self_cert; /* --tls-self-signed: made once, kept across reloads */
    EVP_PKEY *self_key;
};

static int set_index = -1;
static pthread_once_t set_index_once = PTHREAD_ONCE_INIT;

void tls_thread_done(void)
{
    OPENSSL_thread_stop();
}

void tls_error_text(char *out, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, out, cap);
    else
        snprintf(out, cap, "unknown TLS error");
    ERR_clear_error();
}

/* ---- ticket keys --------------------------------------------------------- */

static int new_ticket_key(struct ticket_key *k)
{
    return RAND_bytes((unsigned char *)k, sizeof *k) == 1 ? 0 : -1;
}

/* Copies the key to seal with, rotating it when its period is over. */
static void sealing_key(struct tickets *t, struct ticket_key *out)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&t->lock);
    if (now - t->born >= t->rotate_s) {
        struct ticket_key next;
        if (new_ticket_key(&next) == 0) {
            t->prev = t->cur;
            t->have_prev = 1;
            t->cur = next;
            t->born = now;
        }
    }
    *out = t->cur;
    pthread_mutex_unlock(&t->lock);
}

/* 1: the current key; 2: the previous one (the ticket is renewed); 0: unknown. */
static int opening_key(struct tickets *t, const unsigned char *name, struct ticket_key *out)
{
    int found = 0;
    pthread_mutex_lock(&t->lock);
    if (memcmp(name, t->cur.name, sizeof t->cur.name) == 0) {
        *out = t->cur;
        found = 1;
    } else if (t->have_prev && memcmp(name, t->prev.name, sizeof t->prev.name) == 0) {
        *out = t->prev;
        found = 2;
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    const struct ctx_set *set = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    struct tickets *t = &set->ts->tickets;
    struct ticket_key k;
    int found = 1;
    if (enc) {
        sealing_key(t, &k);
        memcpy(name, k.name, sizeof k.name);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            return -1;
    } else {
        found = opening_key(t, name, &k);
        if (!found)
            return 0;
        if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            return -1;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof k.hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    OPENSSL_cleanse(&k, sizeof k);
    return found;
}

/* ---- SNI and ALPN -------------------------------------------------------- */

/* The certificate whose names match the client's server name; none: the
 * default, as nginx does. */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const struct ctx_set *set = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!name || !set)
        return SSL_TLSEXT_ERR_NOACK;
    for (int i = 0; i < set->count; i++) {
        X509 *cert = SSL_CTX_get0_certificate(set->ctx[i]);
        if (cert && X509_check_host(cert, name, 0, 0, NULL) == 1) {
            if (i > 0 && !SSL_set_SSL_CTX(ssl, set->ctx[i]))
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* The one protocol we speak, when the client offers it; a client that
 * offers only others gets no ALPN answer, as nginx does. */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
    (void)ssl;
    const struct tls_server *ts = arg;
    size_t want = strlen(ts->cfg.alpn);
    for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
        unsigned len = in[i];
        if (i + 1u + len > inlen)
            break;
        if (len == want && memcmp(in + i + 1, ts->cfg.alpn, len) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)len;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ---- contexts ------------------------------------------------------------ */

static void free_set(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    struct ctx_set *set = ptr;
    if (!set)
        return;
    for (int i = 1; i < set->count; i++)
        SSL_CTX_free(set->ctx[i]);
    free(set);
}

static void make_set_index(void)
{
    set_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_set);
}

static SSL_CTX *new_ctx(struct tls_server *ts)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* An idle connection keeps its session but not its record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Resumption by tickets only: stateless, so no cache shared by workers
     * (or lost by forked children). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    /* A ticket lives as long as its key may open it: two periods. */
    SSL_CTX_set_timeout(ctx, 2L * ts->tickets.rotate_s);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
    if (ts->cfg.alpn)
        SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, ts);
    return ctx;
}

static int load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t cap)
{
    char why[256];
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_error_text(why, sizeof why);
        snprintf(err, cap, "cannot load certificate %s: %s", cert, why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_error_text(why, sizeof why);
        snprintf(err, cap, "cannot load key %s: %s", key, why);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, cap, "key %s does not match certificate %s", key, cert);
        return -1;
    }
    return 0;
}

/* A set of contexts from the configuration: ctx[0] with the set attached,
 * or NULL with err filled. */
static SSL_CTX *load_set(struct tls_server *ts, char *err, size_t cap)
{
    struct ctx_set *set = calloc(1, sizeof *set);
    int pairs = ts->cfg.self_signed ? 1 : ts->cfg.count;
    if (!set) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    set->ts = ts;
    for (int i = 0; i < pairs; i++) {
        SSL_CTX *ctx = new_ctx(ts);
        if (!ctx) {
            tls_error_text(err, cap);
            goto fail;
        }
        set->ctx[set->count++] = ctx;
        SSL_CTX_set_app_data(ctx, set);
        if (ts->cfg.self_signed) {
            if (SSL_CTX_use_certificate(ctx, ts->self_cert) != 1 || SSL_CTX_use_PrivateKey(ctx, ts->self_key) != 1) {
                tls_error_text(err, cap);
                goto fail;
            }
        } else if (load_pair(ctx, ts->cfg.cert[i], ts->cfg.key[i], err, cap) != 0) {
            goto fail;
        }
    }
    if (!SSL_CTX_set_ex_data(set->ctx[0], set_index, set)) {
        tls_error_text(err, cap);
        goto fail;
    }
    return set->ctx[0];
fail:
    for (int i = 0; i < set->count; i++)
        SSL_CTX_free(set->ctx[i]);
    free(set);
    return NULL;
}

/* ---- the development certificate ------------------------------------------ */

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* An ECDSA P-256 key and a certificate for localhost, 127.0.0.1 and ::1,
 * valid for 30 days from an hour ago (clock skew). */
static int make_self_signed(struct tls_server *ts, char *err, size_t cap)
{
    unsigned char serial[16];
    ts->self_key = EVP_EC_gen("P-256");
    ts->self_cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIGNUM *bn = NULL;
    int ok = ts->self_key && ts->self_cert && name && RAND_bytes(serial, sizeof serial) == 1;
    if (ok) {
        serial[0] &= 0x7f; /* a positive serial number */
        bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(ts->self_cert)) &&
             X509_set_version(ts->self_cert, X509_VERSION_3) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(ts->self_cert), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(ts->self_cert), 30L * 86400) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) ==
                 1 &&
             X509_set_subject_name(ts->self_cert, name) == 1 && X509_set_issuer_name(ts->self_cert, name) == 1 &&
             X509_set_pubkey(ts->self_cert, ts->self_key) == 1 &&
             add_ext(ts->self_cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") == 0 &&
             add_ext(ts->self_cert, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             add_ext(ts->self_cert, NID_subject_key_identifier, "hash") == 0 &&
             X509_sign(ts->self_cert, ts->self_key, EVP_sha256()) > 0;
    }
    BN_free(bn);
    X509_NAME_free(name);
    if (!ok)
        tls_error_text(err, cap);
    return ok ? 0 : -1;
}

/* ---- the server ----------------------------------------------------------- */

struct tls_server *tls_server_new(const struct tls_server_config *cfg, char *err, size_t cap)
{
    pthread_once(&set_index_once, make_set_index);
    struct tls_server *ts = calloc(1, sizeof *ts);
    if (!ts || set_index < 0) {
        free(ts);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    ts->cfg = *cfg;
    pthread_mutex_init(&ts->lock, NULL);
    pthread_mutex_init(&ts->tickets.lock, NULL);
    ts->tickets.rotate_s = cfg->ticket_rotate_s > 0 ? cfg->ticket_rotate_s : 3600;
    ts->tickets.born = time(NULL);
    if (new_ticket_key(&ts->tickets.cur) != 0) {
        tls_error_text(err, cap);
        goto fail;
    }
    if (cfg->self_signed && make_self_signed(ts, err, cap) != 0)
        goto fail;
    if (!cfg->self_signed && cfg->count < 1) {
        snprintf(err, cap, "no certificate");
        goto fail;
    }
    ts->current = load_set(ts, err, cap);
    if (!ts->current)
        goto fail;
    return ts;
fail:
    tls_server_free(ts);
    return NULL;
}

void tls_server_free(struct tls_server *ts)
{
    if (!ts)
        return;
    SSL_CTX_free(ts->current);
    X509_free(ts->self_cert);
    EVP_PKEY_free(ts->self_key);
    OPENSSL_cleanse(&ts->tickets.cur, sizeof ts->tickets.cur);
    OPENSSL_cleanse(&ts->tickets.prev, sizeof ts->tickets.prev);
    pthread_mutex_destroy(&ts->lock);
    pthread_mutex_destroy(&ts->tickets.lock);
    free(ts);
}

int tls_server_reload(struct tls_server *ts, char *err, size_t cap)
{
    if (ts->cfg.self_signed)
        return 0; /* nothing on disk to read again */
    SSL_CTX *fresh = load_set(ts, err, cap);
    if (!fresh)
        return -1;
    pthread_mutex_lock(&ts->lock);
    SSL_CTX *old = ts->current;
    ts->current = fresh;
    pthread_mutex_unlock(&ts->lock);
    SSL_CTX_free(old); /* connections begun on it hold it until they end */
    return 0;
}

SSL *tls_server_ssl(struct tls_server *ts)
{
    pthread_mutex_lock(&ts->lock);
    SSL *ssl = SSL_new(ts->current);
    pthread_mutex_unlock(&ts->lock);
    if (ssl)
        SSL_set_accept_state(ssl);
    else
        ERR_clear_error();
    return ssl;
}

void tls_server_fingerprint(struct tls_server *ts, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    pthread_mutex_lock(&ts->lock);
    X509 *cert = SSL_CTX_get0_certificate(ts->current);
    int ok = cert && X509_digest(cert, EVP_sha256(), md, &n) == 1;
    pthread_mutex_unlock(&ts->lock);
    out[0] = '\0';
    for (unsigned i = 0; ok && i < n && i * 3 + 3 <= TLS_FINGERPRINT_MAX; i++)
        snprintf(out + i * 3, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
}
