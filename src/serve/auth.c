#include "serve/auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "http/basic.h"

#define SHA256_DIGEST_SIZE 32
#define USER_MAX (HTTP_USER_MAX - 1)
#define CREDENTIALS_MAX 1024

struct user {
    char name[HTTP_USER_MAX];
    char *hash;
};

struct remembered {
    int user; /* index into users; -1: free */
    uint8_t mac[SHA256_DIGEST_SIZE];
    int64_t until_ms;
};

struct auth {
    struct user *users;
    size_t count;
    char challenge[512];
    char dummy[128]; /* a valid hash to spend time on for unknown users */
    uint8_t key[32];
    pthread_mutex_t lock;
    struct remembered slots[AUTH_CACHE_SLOTS];
    unsigned long hashes;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- loading ---------------------------------------------------------------- */

static int supported(const char *hash)
{
    return (strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2a$", 4) == 0 ||
            strncmp(hash, "$6$", 3) == 0) &&
           crypt_checksalt(hash) == CRYPT_SALT_OK;
}

/* One "user:hash" line into auth. 0, or -1 with err set. */
static int take_line(struct auth *auth, char *line, int lineno, const char *path, char *err, size_t errlen)
{
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#')
        return 0;
    char *colon = strchr(line, ':');
    if (!colon || colon == line || (size_t)(colon - line) > USER_MAX) {
        snprintf(err, errlen, "%s:%d: not \"user:hash\" (a user name of 1 to %d bytes)", path, lineno, USER_MAX);
        return -1;
    }
    *colon = '\0';
    if (!supported(colon + 1)) {
        snprintf(err, errlen,
                 "%s:%d: user \"%s\": the hash is not bcrypt ($2y$, htpasswd -B) or SHA-512-crypt ($6$)", path,
                 lineno, line);
        return -1;
    }
    struct user *more = realloc(auth->users, (auth->count + 1) * sizeof *more);
    char *hash = strdup(colon + 1);
    if (!more || !hash) {
        free(hash);
        if (more)
            auth->users = more;
        snprintf(err, errlen, "out of memory reading %s", path);
        return -1;
    }
    auth->users = more;
    memcpy(more[auth->count].name, line, (size_t)(colon - line) + 1);
    more[auth->count].hash = hash;
    auth->count++;
    return 0;
}

static int read_file(struct auth *auth, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read --auth file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f))
        rc = take_line(auth, line, ++lineno, path, err, errlen);
    fclose(f);
    if (rc == 0 && auth->count == 0) {
        snprintf(err, errlen, "--auth file %s holds no user", path);
        rc = -1;
    }
    return rc;
}

/* The unknown users' stand-in: a bcrypt hash at the cost of the first
 * user's, when that is bcrypt, so that both take about as long. */
static int make_dummy(struct auth *auth)
{
    const char *model = auth->users[0].hash;
    int sha = strncmp(model, "$6$", 3) == 0;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *data = calloc(1, sizeof *data);
    const char *hash = NULL;
    if (data && crypt_gensalt_rn(sha ? "$6$" : "$2y$", sha ? 0 : strtoul(model + 4, NULL, 10), NULL, 0, setting,
                                 sizeof setting))
        hash = crypt_rn("not a password", setting, data, sizeof *data);
    if (hash && strlen(hash) < sizeof auth->dummy)
        strcpy(auth->dummy, hash);
    free(data);
    return auth->dummy[0] ? 0 : -1;
}

struct auth *auth_load(const char *path, const char *realm, char *err, size_t errlen)
{
    struct auth *auth = calloc(1, sizeof *auth);
    if (!auth) {
        snprintf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    if (read_file(auth, path, err, errlen) != 0)
        goto fail;
    if (getrandom(auth->key, sizeof auth->key, 0) != (ssize_t)sizeof auth->key || make_dummy(auth) != 0 ||
        pthread_mutex_init(&auth->lock, NULL) != 0) {
        snprintf(err, errlen, "cannot set up --auth: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < AUTH_CACHE_SLOTS; i++)
        auth->slots[i].user = -1;
    snprintf(auth->challenge, sizeof auth->challenge, "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n",
             realm);
    return auth;
fail:
    auth_free(auth);
    return NULL;
}

void auth_free(struct auth *auth)
{
    if (!auth)
        return;
    for (size_t i = 0; i < auth->count; i++)
        free(auth->users[i].hash);
    free(auth->users);
    if (auth->dummy[0])
        pthread_mutex_destroy(&auth->lock);
    explicit_bzero(auth, sizeof *auth);
    free(auth);
}

const char *auth_challenge(const struct auth *auth)
{
    return auth->challenge;
}

/* ---- checking ---------------------------------------------------------------- */

static int find_user(const struct auth *auth, struct http_span name)
{
    for (size_t i = 0; i < auth->count; i++)
        if (strlen(auth->users[i].name) == name.len && memcmp(auth->users[i].name, name.ptr, name.len) == 0)
            return (int)i;
    return -1;
}

static int mac_of(const struct auth *auth, int user, struct http_span pass, uint8_t out[SHA256_DIGEST_SIZE])
{
    /* user and password in one message: OpenSSL's one-shot HMAC, since its
     * streaming HMAC_CTX is deprecated; the password is at most CREDENTIALS_MAX. */
    uint8_t msg[sizeof(uint32_t) + CREDENTIALS_MAX];
    uint32_t u = (uint32_t)user;
    size_t n = pass.len < CREDENTIALS_MAX ? pass.len : CREDENTIALS_MAX;
    unsigned int out_len = SHA256_DIGEST_SIZE;
    memcpy(msg, &u, sizeof u);
    memcpy(msg + sizeof u, pass.ptr, n);
    int made = HMAC(EVP_sha256(), auth->key, (int)sizeof auth->key, msg, sizeof u + n, out, &out_len) != NULL &&
               out_len == SHA256_DIGEST_SIZE;
    OPENSSL_cleanse(msg, sizeof msg);
    return made;
}

/* Whether the pair was verified less than AUTH_CACHE_SECONDS ago. */
static int remembered(struct auth *auth, int user, const uint8_t mac[SHA256_DIGEST_SIZE], int64_t now)
{
    int found = 0;
    pthread_mutex_lock(&auth->lock);
    for (int i = 0; i < AUTH_CACHE_SLOTS; i++) {
        const struct remembered *r = &auth->slots[i];
        found |= r->user == user && r->until_ms > now && !CRYPTO_memcmp(r->mac, mac, SHA256_DIGEST_SIZE);
    }
    pthread_mutex_unlock(&auth->lock);
    return found;
}

/* Takes a free or expired slot, else the one closest to expiring. */
static void remember(struct auth *auth, int user, const uint8_t mac[SHA256_DIGEST_SIZE], int64_t now)
{
    pthread_mutex_lock(&auth->lock);
    struct remembered *slot = &auth->slots[0];
    for (int i = 0; i < AUTH_CACHE_SLOTS && slot->user >= 0 && slot->until_ms > now; i++)
        if (auth->slots[i].user < 0 || auth->slots[i].until_ms < slot->until_ms)
            slot = &auth->slots[i];
    slot->user = user;
    memcpy(slot->mac, mac, SHA256_DIGEST_SIZE);
    slot->until_ms = now + AUTH_CACHE_SECONDS * 1000;
    pthread_mutex_unlock(&auth->lock);
}

/* One hash: whether pass matches the stored hash (the dummy's for an unknown user). */
static int verify(struct auth *auth, const char *stored, struct http_span pass)
{
    char phrase[CREDENTIALS_MAX];
    struct crypt_data *data = calloc(1, sizeof *data);
    int ok = 0;
    if (data && pass.len < sizeof phrase) {
        memcpy(phrase, pass.ptr, pass.len);
        phrase[pass.len] = '\0';
        const char *hash = crypt_rn(phrase, stored, data, sizeof *data);
        size_t len = strlen(stored);
        ok = hash && strlen(hash) == len && !CRYPTO_memcmp(hash, stored, len);
        explicit_bzero(phrase, sizeof phrase);
    }
    if (data) {
        explicit_bzero(data, sizeof *data);
        free(data);
    }
    __atomic_add_fetch(&auth->hashes, 1, __ATOMIC_RELAXED);
    return ok;
}

int auth_check(void *ctx, const struct http_request *req, char *user_out, size_t cap)
{
    struct auth *auth = ctx;
    char buf[CREDENTIALS_MAX];
    struct http_span user, pass;
    if (http_basic_credentials(req, buf, sizeof buf, &user, &pass) != HTTP_BASIC_OK)
        return 0;
    int u = find_user(auth, user);
    uint8_t mac[SHA256_DIGEST_SIZE];
    int64_t now = now_ms();
    int ok = 0;
    /* Without a MAC the pair is neither looked up nor kept: verified afresh. */
    int have_mac = mac_of(auth, u, pass, mac);
    if (have_mac && u >= 0 && remembered(auth, u, mac, now)) {
        ok = 1;
    } else {
        ok = verify(auth, u >= 0 ? auth->users[u].hash : auth->dummy, pass) && u >= 0;
        if (ok && have_mac)
            remember(auth, u, mac, now);
    }
    explicit_bzero(buf, sizeof buf);
    if (ok && cap > 0) {
        size_t n = strlen(auth->users[u].name);
        n = n < cap - 1 ? n : cap - 1;
        memcpy(user_out, auth->users[u].name, n);
        user_out[n] = '\0';
    }
    return ok;
}

unsigned long auth_hashes(struct auth *auth)
{
    return __atomic_load_n(&auth->hashes, __ATOMIC_RELAXED);
}
