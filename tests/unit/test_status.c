/* Reason phrases. */
#include "http/status.h"
#include "test.h"

int main(void)
{
    static const struct {
        int code;
        const char *text;
    } known[] = {
        { 100, "Continue" },
        { 101, "Switching Protocols" },
        { 200, "OK" },
        { 201, "Created" },
        { 204, "No Content" },
        { 206, "Partial Content" },
        { 301, "Moved Permanently" },
        { 302, "Found" },
        { 303, "See Other" },
        { 304, "Not Modified" },
        { 307, "Temporary Redirect" },
        { 308, "Permanent Redirect" },
        { 400, "Bad Request" },
        { 401, "Unauthorized" },
        { 403, "Forbidden" },
        { 404, "Not Found" },
        { 405, "Method Not Allowed" },
        { 406, "Not Acceptable" },
        { 408, "Request Timeout" },
        { 411, "Length Required" },
        { 412, "Precondition Failed" },
        { 413, "Content Too Large" },
        { 414, "URI Too Long" },
        { 415, "Unsupported Media Type" },
        { 416, "Range Not Satisfiable" },
        { 417, "Expectation Failed" },
        { 421, "Misdirected Request" },
        { 426, "Upgrade Required" },
        { 429, "Too Many Requests" },
        { 431, "Request Header Fields Too Large" },
        { 500, "Internal Server Error" },
        { 501, "Not Implemented" },
        { 502, "Bad Gateway" },
        { 503, "Service Unavailable" },
        { 504, "Gateway Timeout" },
        { 505, "HTTP Version Not Supported" },
    };

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        CHECK_EQ_STR(http_status_text(known[i].code), known[i].text);
    CHECK_EQ_STR(http_status_text(0), "Unknown");
    CHECK_EQ_STR(http_status_text(99), "Unknown");
    CHECK_EQ_STR(http_status_text(299), "Unknown");
    CHECK_EQ_STR(http_status_text(418), "Unknown");
    CHECK_EQ_STR(http_status_text(600), "Unknown");
    CHECK_EQ_STR(http_status_text(-404), "Unknown");
    return test_report();
}
