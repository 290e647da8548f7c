/* Directory listings for `duct serve --list-dirs`: the HTML page of a
 * directory without index.html. Building one reads the whole directory, so
 * it is done once per version of the directory, away from the event loops,
 * and shared by every response that sends it (serve/listing_cache.h). */
#ifndef DUCT_SERVE_LISTING_H
#define DUCT_SERVE_LISTING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LISTING_SIZE_UNKNOWN UINT64_MAX

struct listing_entry {
    const char *name;
    size_t name_len;
    uint64_t size; /* LISTING_SIZE_UNKNOWN for a symbolic link */
    time_t mtime;
    int is_dir;
};

/* Writes src HTML-escaped (& < > " ') into out, which has room for 6 * len
 * bytes. Returns the length written. */
size_t listing_escape_html(const char *src, size_t len, char *out);

/* Directories first, then files, each in byte order of their names. */
void listing_sort(struct listing_entry *entries, size_t n);

/* Writes the page for the directory at URL path (decoded, ending in '/') to
 * fd: entries in their order, a link to the parent unless path is "/", and,
 * when omitted > 0, a closing note that that many more entries are not
 * listed. Names are escaped in the text and percent-encoded in the links.
 * Returns the page's length, or -1 with errno (a failed write, ENOMEM). */
int64_t listing_render(int fd, const char *path, size_t path_len, const struct listing_entry *entries, size_t n,
                       size_t omitted);

/* Reads the directory dir_fd (taken over and closed) and writes its page to
 * out_fd. Every name is read (dot files, FIFOs, devices and sockets left
 * out) and sorted; then the first list_max that still exist are described
 * (sizes and dates by fstatat, symbolic links not followed) and the rest are
 * counted in the note. So a page cut at list_max is still the first list_max
 * entries of the sorted directory, the same page every time; the cost of
 * reading and sorting all the names remains, the fstatat of the others is
 * saved. Returns 200 with the page's length in *len, 503 (out of memory, or
 * the page could not be written) or 500 (the directory cannot be read). */
int listing_build(int dir_fd, const char *path, size_t path_len, size_t list_max, int out_fd, uint64_t *len);

#endif
