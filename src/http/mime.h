/* Content-Type from a file name's extension: a built-in table, which
 * /etc/mime.types (given as text, since this layer does no I/O) can extend. */
#ifndef DUCT_HTTP_MIME_H
#define DUCT_HTTP_MIME_H

#include <stddef.h>

struct mime_table;

/* A table holding the built-in types. NULL when out of memory. */
struct mime_table *mime_table_new(void);
void mime_table_free(struct mime_table *table);

/* Adds the types of a mime.types text ("type ext ext ..." lines, '#' comments).
 * Built-in entries keep priority (their charset parameters matter for text).
 * Returns the number of extensions added, or -1 when out of memory. */
long mime_table_load(struct mime_table *table, const char *text, size_t len);

/* The type for a path ("/a/b.HTML" -> "text/html; charset=utf-8"), matched on
 * the last extension without regard to case; "application/octet-stream" when
 * unknown. The returned string lives as long as the table. Thread-safe for
 * lookups once loading is done. */
const char *mime_type_for(const struct mime_table *table, const char *path, size_t len);

#endif
