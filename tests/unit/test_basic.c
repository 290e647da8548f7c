/* Unit tests for the Basic credentials reader (src/http/basic.c). */
#include "http/basic.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

static char decoded[64];
static struct http_span user, pass;

static int creds_of(const char *fields)
{
    static char head[2048];
    struct http_request req;
    int status = 0;
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
    CHECK_EQ_INT(http_parse_request(head, (size_t)n, sizeof head, &req, &status), n);
    memset(&user, 0, sizeof user);
    memset(&pass, 0, sizeof pass);
    return http_basic_credentials(&req, decoded, sizeof decoded, &user, &pass);
}

static void check_pair(const char *u, const char *p)
{
    CHECK_EQ_MEM(user.ptr, user.len, u, strlen(u));
    CHECK_EQ_MEM(pass.ptr, pass.len, p, strlen(p));
}

int main(void)
{
    /* RFC 7617 §2's example: Aladdin:open sesame. */
    CHECK_EQ_INT(creds_of("Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), HTTP_BASIC_OK);
    check_pair("Aladdin", "open sesame");
    CHECK_EQ_INT(creds_of("authorization: basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), HTTP_BASIC_OK);
    check_pair("Aladdin", "open sesame");
    /* The user-id ends at the first colon; the password may hold more. */
    CHECK_EQ_INT(creds_of("Authorization: Basic YTpiOmM=\r\n"), HTTP_BASIC_OK); /* a:b:c */
    check_pair("a", "b:c");
    CHECK_EQ_INT(creds_of("Authorization: Basic Ojo=\r\n"), HTTP_BASIC_OK); /* "::" */
    check_pair("", ":");
    /* UTF-8 passes through as bytes. */
    CHECK_EQ_INT(creds_of("Authorization: Basic em/DqzrDvA==\r\n"), HTTP_BASIC_OK); /* zoë:ü */
    check_pair("zo\xc3\xab", "\xc3\xbc");

    CHECK_EQ_INT(creds_of(""), HTTP_BASIC_ABSENT);
    CHECK_EQ_INT(creds_of("Authorization: Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), HTTP_BASIC_MALFORMED);
    CHECK_EQ_INT(creds_of("Authorization: Basic\r\n"), HTTP_BASIC_MALFORMED);
    CHECK_EQ_INT(creds_of("Authorization: BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), HTTP_BASIC_MALFORMED);
    CHECK_EQ_INT(creds_of("Authorization: Basic YWJj\r\n"), HTTP_BASIC_MALFORMED);       /* "abc": no colon */
    CHECK_EQ_INT(creds_of("Authorization: Basic QWxh ZGRp\r\n"), HTTP_BASIC_MALFORMED);  /* a space inside */
    CHECK_EQ_INT(creds_of("Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ\r\n"), HTTP_BASIC_MALFORMED); /* pad */
    CHECK_EQ_INT(creds_of("Authorization: Basic QQ===\r\n"), HTTP_BASIC_MALFORMED);
    CHECK_EQ_INT(creds_of("Authorization: Basic =QWx=\r\n"), HTTP_BASIC_MALFORMED);
    CHECK_EQ_INT(creds_of("Authorization: Basic YToKYg==\r\n"), HTTP_BASIC_MALFORMED);   /* "a:\nb": a CTL */
    CHECK_EQ_INT(creds_of("Authorization: Basic YTpi\r\nAuthorization: Basic YTpi\r\n"), HTTP_BASIC_MALFORMED);
    /* Longer than the caller's buffer (64): refused, never overrun. */
    CHECK_EQ_INT(creds_of("Authorization: Basic "
                          "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTpi\r\n"),
                 HTTP_BASIC_MALFORMED);
    return test_report();
}
