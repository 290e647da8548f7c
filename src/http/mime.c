/* Extension -> Content-Type, as an open-addressing hash table keyed by the
 * lower-cased extension. Lookups hash and compare the path's bytes in place,
 * folding case on the fly, so the hot path neither allocates nor copies. */
#include "http/mime.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIME_DEFAULT "application/octet-stream"
#define UTF8 "; charset=utf-8"

struct mime_entry {
    const char *ext; /* lower case, not NUL-terminated; NULL marks a free slot */
    size_t extlen;
    const char *type;
};

/* The text of one loaded mime.types line: its type and extensions, to which
 * the table's entries point. */
struct mime_blob {
    struct mime_blob *next;
    char text[];
};

struct mime_table {
    struct mime_entry *slots;
    size_t cap; /* a power of two */
    size_t count;
    struct mime_blob *blobs;
};

/* Text types carry a charset: without one, RFC 2046 §4.1.2 makes text/plain
 * US-ASCII and browsers fall back to sniffing (RFC 9110 §8.3.3). JavaScript is
 * text/javascript per RFC 9239; fonts are the font/ tree of RFC 8081. */
static const struct {
    const char *ext;
    const char *type;
} builtin[] = {
    { "html", "text/html" UTF8 },
    { "htm", "text/html" UTF8 },
    { "css", "text/css" UTF8 },
    { "js", "text/javascript" UTF8 },
    { "mjs", "text/javascript" UTF8 },
    { "json", "application/json" UTF8 },
    { "map", "application/json" UTF8 },
    { "webmanifest", "application/manifest+json" UTF8 },
    { "txt", "text/plain" UTF8 },
    { "xml", "application/xml" UTF8 },
    { "svg", "image/svg+xml" UTF8 },
    { "md", "text/markdown" UTF8 },
    { "csv", "text/csv" UTF8 },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "ico", "image/x-icon" },
    { "bmp", "image/bmp" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "br", "application/x-brotli" },
    { "tar", "application/x-tar" },
    { "wasm", "application/wasm" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },
};

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the lower-cased bytes. */
static size_t hash_ext(const char *ext, size_t len)
{
    uint64_t h = 14695981039346656037u;

    for (size_t i = 0; i < len; i++) {
        h ^= lower((unsigned char)ext[i]);
        h *= 1099511628211u;
    }
    return (size_t)(h ^ (h >> 32));
}

static bool ext_equal(const struct mime_entry *e, const char *ext, size_t len)
{
    if (e->extlen != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)e->ext[i] != lower((unsigned char)ext[i]))
            return false;
    }
    return true;
}

/* The slot holding ext, or the free slot where it belongs. The load factor
 * stays at most 1/2, so a free slot always exists. */
static struct mime_entry *find_slot(struct mime_entry *slots, size_t cap, const char *ext, size_t len)
{
    size_t i = hash_ext(ext, len) & (cap - 1);

    while (slots[i].ext != NULL && !ext_equal(&slots[i], ext, len))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow(struct mime_table *t)
{
    size_t cap = t->cap * 2;
    struct mime_entry *slots = calloc(cap, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].ext != NULL)
            *find_slot(slots, cap, t->slots[i].ext, t->slots[i].extlen) = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Adds ext (already lower case) unless present: the first entry for an
 * extension wins, which is what gives the built-ins their priority. Returns 1
 * when added, 0 when already present, -1 when out of memory. */
static int insert(struct mime_table *t, const char *ext, size_t len, const char *type)
{
    if ((t->count + 1) * 2 > t->cap && grow(t) < 0)
        return -1;
    struct mime_entry *e = find_slot(t->slots, t->cap, ext, len);
    if (e->ext != NULL)
        return 0;
    e->ext = ext;
    e->extlen = len;
    e->type = type;
    t->count++;
    return 1;
}

struct mime_table *mime_table_new(void)
{
    struct mime_table *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->cap = 128;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if (insert(t, builtin[i].ext, strlen(builtin[i].ext), builtin[i].type) < 0) {
            mime_table_free(t);
            return NULL;
        }
    }
    return t;
}

void mime_table_free(struct mime_table *table)
{
    if (table == NULL)
        return;
    while (table->blobs != NULL) {
        struct mime_blob *next = table->blobs->next;
        free(table->blobs);
        table->blobs = next;
    }
    free(table->slots);
    free(table);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* RFC 9110 §5.6.2 tchar: a type ends up verbatim in a Content-Type header, so
 * anything else (controls above all) would let a bad file inject headers. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 6838 §4.2: type "/" subtype, both non-empty tokens. */
static bool valid_type(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);

    if (slash == NULL || slash == s || slash == s + len - 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s + i != slash && !is_tchar(s[i]))
            return false;
    }
    return true;
}

/* An extension with a '.' can never match, since lookups use only the last
 * extension of a name. */
static bool valid_ext(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' || !is_tchar(s[i]))
            return false;
    }
    return true;
}

/* The next whitespace-delimited token of line[*pos..end). */
static bool next_token(const char *line, size_t end, size_t *pos, const char **tok, size_t *toklen)
{
    size_t i = *pos;

    while (i < end && is_space(line[i]))
        i++;
    size_t start = i;
    while (i < end && !is_space(line[i]))
        i++;
    *pos = i;
    *tok = line + start;
    *toklen = i - start;
    return i > start;
}

/* Copies tok into the blob at *used, lower-cased if asked, NUL-terminated. */
static char *blob_put(struct mime_blob *b, size_t *used, const char *tok, size_t len, bool fold)
{
    char *dst = b->text + *used;

    for (size_t i = 0; i < len; i++)
        dst[i] = fold ? (char)lower((unsigned char)tok[i]) : tok[i];
    dst[len] = '\0';
    *used += len + 1;
    return dst;
}

/* Adds the extensions of one "type ext ext ..." line (comment already cut).
 * Returns the number added, or -1 when out of memory. */
static long load_line(struct mime_table *t, const char *line, size_t len)
{
    size_t pos = 0;
    const char *tok;
    size_t toklen;

    if (!next_token(line, len, &pos, &tok, &toklen) || !valid_type(tok, toklen))
        return 0;
    /* Tokens are separated by whitespace, so they fit in len + 1 bytes. */
    struct mime_blob *b = malloc(sizeof *b + len + 1);
    if (b == NULL)
        return -1;
    b->next = t->blobs;
    t->blobs = b;
    size_t used = 0;
    const char *type = blob_put(b, &used, tok, toklen, false);
    long added = 0;
    while (next_token(line, len, &pos, &tok, &toklen)) {
        if (!valid_ext(tok, toklen))
            continue;
        const char *ext = blob_put(b, &used, tok, toklen, true);
        int rc = insert(t, ext, toklen, type);
        if (rc < 0)
            return -1;
        added += rc;
    }
    if (added == 0) {
        t->blobs = b->next;
        free(b);
    }
    return added;
}

long mime_table_load(struct mime_table *table, const char *text, size_t len)
{
    long total = 0;
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        const char *hash = memchr(text + pos, '#', end - pos);
        size_t stop = hash != NULL ? (size_t)(hash - text) : end;
        long added = load_line(table, text + pos, stop - pos);
        if (added < 0)
            return -1;
        total += added;
        pos = end + 1;
    }
    return total;
}

/* The extension of the last segment: after its last '.', where a name made
 * only of leading dots and one word (".bashrc") has none. */
static bool find_ext(const char *path, size_t len, const char **ext, size_t *extlen)
{
    size_t seg = len;

    while (seg > 0 && path[seg - 1] != '/')
        seg--;
    while (seg < len && path[seg] == '.')
        seg++;
    size_t dot = len;
    while (dot > seg && path[dot - 1] != '.')
        dot--;
    if (dot == seg || dot == len)
        return false;
    *ext = path + dot;
    *extlen = len - dot;
    return true;
}

const char *mime_type_for(const struct mime_table *table, const char *path, size_t len)
{
    const char *ext;
    size_t extlen;

    if (table == NULL || !find_ext(path, len, &ext, &extlen))
        return MIME_DEFAULT;
    const struct mime_entry *e = find_slot(table->slots, table->cap, ext, extlen);
    return e->ext != NULL ? e->type : MIME_DEFAULT;
}
