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

/* The page on its way to a descriptor, through a buffer; after a failed
 * write every append is a no-op. */
struct page {
    int fd;
    int err;        /* errno of the failed write, or 0 */
    uint64_t total; /* bytes written and buffered */
    size_t used;
    char buf[1 << 16];
};

static void flush(struct page *pg)
{
    size_t done = 0;
    while (!pg->err && done < pg->used) {
        ssize_t n = write(pg->fd, pg->buf + done, pg->used - done);
        if (n > 0)
            done += (size_t)n;
        else if (n == 0 || errno != EINTR)
            pg->err = n == 0 ? EIO : errno;
    }
    pg->used = 0;
}

static void put(struct page *pg, const char *bytes, size_t len)
{
    while (len > 0 && !pg->err) {
        size_t room = sizeof pg->buf - pg->used;
        size_t n = len < room ? len : room;
        memcpy(pg->buf + pg->used, bytes, n);
        pg->used += n;
        pg->total += n;
        bytes += n;
        len -= n;
        if (pg->used == sizeof pg->buf)
            flush(pg);
    }
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

/* The closing note of a page cut at --list-max: how many entries it leaves out. */
static void put_omitted(struct page *pg, size_t shown, size_t omitted)
{
    char num[24];
    put_str(pg, "<p>");
    put(pg, num, http_u64_to_dec(omitted, num));
    put_str(pg, omitted == 1 ? " more entry is" : " more entries are");
    put_str(pg, " not listed: this page shows the first ");
    put(pg, num, http_u64_to_dec(shown, num));
    put_str(pg, " (--list-max).</p>\n");
}

int64_t listing_render(int fd, const char *path, size_t path_len, const struct listing_entry *entries, size_t n,
                       size_t omitted)
{
    struct page *pg = malloc(sizeof *pg);
    if (!pg) {
        errno = ENOMEM;
        return -1;
    }
    pg->fd = fd;
    pg->err = 0;
    pg->total = 0;
    pg->used = 0;
    put_str(pg, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    put_escaped(pg, path, path_len);
    put_str(pg, "</title></head>\n<body><h1>Index of ");
    put_escaped(pg, path, path_len);
    put_str(pg, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n");
    if (path_len > 1)
        put_str(pg, "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n");
    for (size_t i = 0; i < n; i++)
        put_row(pg, &entries[i]);
    put_str(pg, "</table>\n");
    if (omitted > 0)
        put_omitted(pg, n, omitted);
    put_str(pg, "</body></html>\n");
    flush(pg);
    int err = pg->err;
    int64_t total = (int64_t)pg->total;
    free(pg);
    if (err) {
        errno = err;
        return -1;
    }
    return total;
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

/* Whether a directory entry is listed at all, and whether it is a directory:
 * 1 a directory, 0 a file or a symbolic link, -1 not listed (a dot file, a
 * FIFO, device or socket, which are never served, or gone). d_type answers
 * without a syscall on the usual file systems. */
static int classify(int dir_fd, const struct dirent *de)
{
    struct stat st;
    if (de->d_name[0] == '.')
        return -1;
    switch (de->d_type) {
    case DT_DIR:
        return 1;
    case DT_REG:
    case DT_LNK:
        return 0;
    case DT_UNKNOWN:
        break;
    default:
        return -1;
    }
    if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    if (S_ISDIR(st.st_mode))
        return 1;
    return S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? 0 : -1;
}

/* Keeps one name. Returns -1 when out of memory. */
static int collect(struct collected *c, const char *name, int is_dir)
{
    size_t len = strlen(name);
    if (grow((void **)&c->entries, &c->cap, c->n + 1, sizeof *c->entries) != 0 ||
        grow((void **)&c->names, &c->names_cap, c->names_len + len + 1, 1) != 0)
        return -1;
    memcpy(c->names + c->names_len, name, len + 1);
    c->entries[c->n++] = (struct listing_entry){
        .name = (const char *)(uintptr_t)c->names_len,
        .name_len = len,
        .is_dir = is_dir,
    };
    c->names_len += len + 1;
    return 0;
}

/* Reads every name of the directory. Returns 0, or the status to answer. */
static int read_names(DIR *d, struct collected *c)
{
    for (;;) {
        errno = 0;
        const struct dirent *de = readdir(d);
        if (!de)
            break;
        int kind = classify(dirfd(d), de);
        if (kind >= 0 && collect(c, de->d_name, kind) != 0)
            return 503;
    }
    if (errno)
        return 500;
    for (size_t i = 0; i < c->n; i++)
        c->entries[i].name = c->names + (uintptr_t)c->entries[i].name;
    return 0;
}

/* Fills in size and date for the first `max` sorted entries that can still
 * be described, moving them to the front; symbolic links are described, not
 * followed, so nothing outside the root is looked at. Returns how many; *next
 * is the index of the first entry not looked at. */
static size_t describe(int dir_fd, struct collected *c, size_t max, size_t *next)
{
    size_t shown = 0, i = 0;
    for (; i < c->n && shown < max; i++) {
        struct listing_entry e = c->entries[i];
        struct stat st;
        if (fstatat(dir_fd, e.name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed since it was read */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
            continue;
        e.size = S_ISLNK(st.st_mode) ? LISTING_SIZE_UNKNOWN : (uint64_t)st.st_size;
        e.mtime = st.st_mtime;
        e.is_dir = S_ISDIR(st.st_mode);
        c->entries[shown++] = e;
    }
    *next = i;
    return shown;
}

int listing_build(int dir_fd, const char *path, size_t path_len, size_t list_max, int out_fd, uint64_t *len)
{
    struct collected c = {0};
    int status;
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        status = errno == ENOMEM ? 503 : 500;
        close(dir_fd);
        return status;
    }
    status = read_names(d, &c);
    if (status == 0) {
        size_t next = 0;
        listing_sort(c.entries, c.n);
        size_t shown = describe(dirfd(d), &c, list_max, &next);
        int64_t n = listing_render(out_fd, path, path_len, c.entries, shown, c.n - next);
        status = n < 0 ? 503 : 200;
        *len = n < 0 ? 0 : (uint64_t)n;
    }
    closedir(d);
    free(c.entries);
    free(c.names);
    return status;
}
