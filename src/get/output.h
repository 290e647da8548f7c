/* Where a response body goes: stdout, or a file opened only once the body
 * starts (so a refused request leaves no empty file behind), appended to
 * when resuming; and the progress bar drawn on a terminal's stderr. */
#ifndef DUCT_GET_OUTPUT_H
#define DUCT_GET_OUTPUT_H

#include <stdint.h>
#include <time.h>

struct get_sink {
    const char *path;     /* NULL: stdout */
    int fd;               /* -1 until opened */
    uint64_t resume_from; /* bytes already in the file, for -C - */
    int append;           /* the server resumed: write after those bytes */
    uint64_t written;
    uint64_t expected;    /* body length when known, else 0 */
    int progress;         /* draw the bar */
    struct timespec last_draw;
};

/* path NULL is stdout. With resume, resume_from is the file's size (0 when
 * it does not exist). 0, or GET_WRITE after saying why. */
int get_sink_init(struct get_sink *s, const char *path, int resume);

/* Starts a body of expected bytes (0: unknown); a bar is drawn when stderr
 * is a terminal, quiet is 0 and the body is large or of unknown length. */
void get_sink_begin(struct get_sink *s, uint64_t expected, int quiet);

/* 0, or GET_WRITE after saying why. */
int get_sink_write(struct get_sink *s, const char *p, size_t n);

/* Creates the file if the body was empty, closes it, ends the bar. 0, or GET_WRITE. */
int get_sink_finish(struct get_sink *s, int body_done);

#endif
