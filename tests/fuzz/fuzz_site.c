/* libFuzzer target for the readers of client bytes in src/http/site.c: the
 * Host of --vhosts and a preflight's Access-Control-Request-Headers; and for
 * the start-up check of --header values.
 *
 * Whatever the input: a host that is accepted names one folder (no '/', no
 * "..", no leading '.', lower case, no CR/LF) and reading it again gives
 * itself; an echoed header list is lower-case tokens joined by ", ", within
 * its cap, and reads back unchanged; a header line that is accepted holds no
 * CR, LF or NUL. Inputs are exact-size heap copies, so ASan catches any
 * over-read. */
#include "http/site.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static void check_host(const char *in, size_t n)
{
    char out[HTTP_SITE_HOST_MAX], again[HTTP_SITE_HOST_MAX];
    size_t len = http_site_host(in, n, out);
    if (len == 0)
        return;
    require(len < HTTP_SITE_HOST_MAX && strlen(out) == len);
    require(out[0] != '.' && !strstr(out, "..") && !strchr(out, '/') && !strchr(out, '\\'));
    for (size_t i = 0; i < len; i++)
        require(!(out[i] >= 'A' && out[i] <= 'Z') && out[i] > 0x20 && out[i] < 0x7f);
    require(http_site_host(out, len, again) == len && memcmp(out, again, len) == 0);
}

static void check_acrh(const char *in, size_t n)
{
    char out[64], again[64];
    size_t len = http_site_request_headers(in, n, out, sizeof out);
    require(len <= sizeof out);
    for (size_t i = 0; i < len; i++)
        require(out[i] > 0x20 ? out[i] < 0x7f && !(out[i] >= 'A' && out[i] <= 'Z') : out[i] == ' ');
    if (len)
        require(http_site_request_headers(out, len, again, sizeof again) == len && memcmp(out, again, len) == 0);
}

static void check_header(const char *in, size_t n)
{
    static struct http_site site;
    char err[256];
    char *text = malloc(n + 1);
    require(text != NULL);
    memcpy(text, in, n);
    text[n] = '\0';
    memset(&site, 0, sizeof site);
    if (http_site_add_header(&site, text, 1, err, sizeof err) == 0) {
        require(site.file_fields_len >= 4 && site.file_fields_len <= HTTP_SITE_FIELDS_MAX);
        require(memcmp(site.file_fields + site.file_fields_len - 2, "\r\n", 2) == 0);
        require(memchr(site.file_fields, '\n', site.file_fields_len - 1) == NULL);
        require(memchr(site.file_fields, '\r', site.file_fields_len - 2) == NULL);
        require(memchr(site.file_fields, '\0', site.file_fields_len) == NULL);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    require(in != NULL);
    memcpy(in, data, size);
    check_host(in, size);
    check_acrh(in, size);
    check_header(in, size);
    free(in);
    return 0;
}
