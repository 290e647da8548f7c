#include "serve/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/date.h"
#include "http/head.h"
#include "http/path.h"

/* A growing page; after a failed allocation every append is a no-op. */
struct page {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct page *pg, const char *bytes, size_t len)
{
    if (pg->oom)
        return;
    if (len > pg->cap - pg->len) {
        size_t cap = pg->cap ? pg->cap : 4096;
        while (cap - pg->len < len)
            cap *= 2;
        char *p = realloc(pg->p, cap);
        if (!p) {
            pg->oom = 1;
            return;
        }
        pg->p = p;
        pg->cap = cap;
    }
    memcpy(pg->p + pg->len, bytes, len);
    pg->len += len;
}

static void put_str(struct page *pg, const char *s)
{
    put(pg, s, strlen(s));
}

size_t listing_escape_html(const char *src, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (src[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: out[n++] = src[i]; continue;
        }
        size_t r = strlen(rep);
        memcpy(out + n, rep, r);
        n += r;
    }
    return n;
}

static void put_escaped(struct page *pg, const char *s, size_t len)
{
    char buf[6 * 256];
    while (len > 0) {
        size_t chunk = len < 256 ? len : 256;
        put(pg, buf, listing_escape_html(s, chunk, buf));
        s += chunk;
        len -= chunk;
    }
}

static int compare_entries(const void *a, const void *b)
{
    const struct listing_entry *x = a, *y = b;
    if (x->is_dir != y->is_dir)
        return y->is_dir - x->is_dir;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

void listing_sort(struct listing_entry *entries, size_t n)
{
    if (n > 1)
        qsort(entries, n, sizeof *entries, compare_entries);
}

/* One row: the name linked (percent-encoded; a name holds no '/'), its size
 * and its modification date. */
static void put_row(struct page *pg, const struct listing_entry *e)
{
    char href[3 * 256 + 1], date[HTTP_DATE_LEN + 1];
    long n = e->name_len < 256 ? http_path_encode(e->name, e->name_len, href, sizeof href) : -1;
    if (n < 0)
        return; /* longer than any name a Linux file system holds */
    put_str(pg, "<tr><td><a href=\"");
    put(pg, href, (size_t)n);
    put_str(pg, e->is_dir ? "/\">" : "\">");
    put_escaped(pg, e->name, e->name_len);
    put_str(pg, e->is_dir ? "/</a></td><td>" : "</a></td><td>");
    if (e->is_dir || e->size == LISTING_SIZE_UNKNOWN) {
        put_str(pg, "-");
    } else {
        char num[24];
        put(pg, num, http_u64_to_dec(e->size, num));
    }
    http_date_format(e->mtime, date);
    put_str(pg, "</td><td>");
    put(pg, date, HTTP_DATE_LEN);
    put_str(pg, "</td></tr>\n");
}

char *listing_render(const char *path, size_t path_len, const struct listing_entry *entries, size_t n,
                     size_t *len)
{
    struct page pg = {0};
    put_str(&pg, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    put_escaped(&pg, path, path_len);
    put_str(&pg, "</title></head>\n<body><h1>Index of ");
    put_escaped(&pg, path, path_len);
    put_str(&pg, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n");
    if (path_len > 1)
        put_str(&pg, "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n");
    for (size_t i = 0; i < n; i++)
        put_row(&pg, &entries[i]);
    put_str(&pg, "</table>\n</body></html>\n");
    if (pg.oom) {
        free(pg.p);
        return NULL;
    }
    *len = pg.len;
    return pg.p;
}

struct collected {
    struct listing_entry *entries;
    size_t n, cap;
    char *names; /* every name, NUL-separated; entries hold offsets until the end */
    size_t names_len, names_cap;
};

static int grow(void **p, size_t *cap, size_t need, size_t unit)
{
    if (need <= *cap)
        return 0;
    size_t bigger = *cap ? *cap * 2 : 256;
    while (bigger < need)
        bigger *= 2;
    void *q = realloc(*p, bigger * unit);
    if (!q)
        return -1;
    *p = q;
    *cap = bigger;
    return 0;
}

/* Keeps one entry; symbolic links are described, not followed, so nothing
 * outside the root is looked at. Returns -1 when out of memory. */
static int collect(struct collected *c, int dir_fd, const char *name)
{
    struct stat st;
    if (name[0] == '.' || fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        return 0; /* FIFOs, devices and sockets are never served */
    size_t len = strlen(name);
    if (grow((void **)&c->entries, &c->cap, c->n + 1, sizeof *c->entries) != 0 ||
        grow((void **)&c->names, &c->names_cap, c->names_len + len + 1, 1) != 0)
        return -1;
    memcpy(c->names + c->names_len, name, len + 1);
    c->entries[c->n++] = (struct listing_entry){
        .name = (const char *)(uintptr_t)c->names_len,
        .name_len = len,
        .size = S_ISLNK(st.st_mode) ? LISTING_SIZE_UNKNOWN : (uint64_t)st.st_size,
        .mtime = st.st_mtime,
        .is_dir = S_ISDIR(st.st_mode),
    };
    c->names_len += len + 1;
    return 0;
}

/* Reads the whole directory. Returns 0, or the status to answer. */
static int read_dir(int dir_fd, struct collected *c)
{
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        close(dir_fd);
        return errno == ENOMEM ? 503 : 500;
    }
    int status = 0;
    for (;;) {
        errno = 0;
        const struct dirent *de = readdir(d);
        if (!de) {
            status = errno ? 500 : 0;
            break;
        }
        if (collect(c, dirfd(d), de->d_name) != 0) {
            status = 503;
            break;
        }
    }
    closedir(d);
    for (size_t i = 0; status == 0 && i < c->n; i++)
        c->entries[i].name = c->names + (uintptr_t)c->entries[i].name;
    return status;
}

void listing_resolve(int dir_fd, const char *path, size_t path_len, struct http_resource *res)
{
    struct collected c = {0};
    size_t len = 0;
    char *page = NULL;
    int status = read_dir(dir_fd, &c);
    if (status == 0) {
        listing_sort(c.entries, c.n);
        page = listing_render(path, path_len, c.entries, c.n, &len);
        status = page ? 200 : 503;
    }
    free(c.entries);
    free(c.names);
    res->status = status;
    if (!page)
        return;
    res->data = page;
    res->size = len;
    res->content_type = "text/html; charset=utf-8";
    res->flags |= HTTP_RES_GENERATED;
}
