/* Unit tests for the pure part of directory listings (src/serve/listing.c):
 * HTML escaping, the order of entries, and the page itself. */
#include "serve/listing.h"
#include "test.h"

#include <stdlib.h>

static void test_escape(void)
{
    char out[64];
    size_t n = listing_escape_html("<a&\"b>'.txt", 11, out);
    CHECK_EQ_MEM(out, n, "&lt;a&amp;&quot;b&gt;&#39;.txt", 30);
    n = listing_escape_html("plain name", 10, out);
    CHECK_EQ_MEM(out, n, "plain name", 10);
    n = listing_escape_html("", 0, out);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(listing_escape_html("\"\"\"\"", 4, out), 24); /* the worst case is 6 per byte */
}

static struct listing_entry entry(const char *name, int is_dir)
{
    return (struct listing_entry){name, strlen(name), 10, 1600000000, is_dir};
}

static void test_sort(void)
{
    struct listing_entry e[] = {entry("b", 0), entry("z", 1), entry("a", 0), entry("ab", 0), entry("B", 0),
                                entry("c", 1)};
    listing_sort(e, 6);
    const char *want[] = {"c", "z", "B", "a", "ab", "b"}; /* directories first, then bytes */
    for (int i = 0; i < 6; i++)
        CHECK_EQ_STR(e[i].name, want[i]);
}

static int contains(const char *page, size_t len, const char *needle)
{
    return memmem(page, len, needle, strlen(needle)) != NULL;
}

static void test_render(void)
{
    struct listing_entry e[] = {entry("sub dir", 1), entry("<a&\"b>.txt", 0), entry("a b%#?.txt", 0)};
    e[2].size = LISTING_SIZE_UNKNOWN;
    size_t len = 0;
    char *page = listing_render("/x&y/", 5, e, 3, &len);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(contains(page, len, "<title>Index of /x&amp;y/</title>"));
    CHECK(contains(page, len, "<a href=\"../\">../</a>"));
    CHECK(contains(page, len, "<a href=\"sub%20dir/\">sub dir/</a>"));
    CHECK(contains(page, len, "<a href=\"%3Ca%26%22b%3E.txt\">&lt;a&amp;&quot;b&gt;.txt</a></td><td>10</td>"));
    CHECK(contains(page, len, "<a href=\"a%20b%25%23%3F.txt\">a b%#?.txt</a></td><td>-</td>"));
    CHECK(contains(page, len, "Sun, 13 Sep 2020 12:26:40 GMT"));
    CHECK(!contains(page, len, "<a&"));
    CHECK(memchr(page, '\0', len) == NULL);
    free(page);

    page = listing_render("/", 1, e, 0, &len);
    CHECK(page != NULL && !contains(page, len, "../")); /* no parent above the root */
    free(page);
}

int main(void)
{
    test_escape();
    test_sort();
    test_render();
    return test_report();
}
