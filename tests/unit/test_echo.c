/* The echo protocol driven by hand, as a driver would: bytes in come back out
 * unchanged, the buffer bounds what is read, end of input and a stop end the
 * connection once the buffered bytes are sent. */
#include <stdlib.h>
#include <string.h>

#include "serve/proto.h"
#include "test.h"

static const struct serve_proto *p = &serve_proto_echo;

static void *new_conn(void)
{
    void *c = malloc(p->conn_size);
    p->init(c, p, NULL, "peer");
    return c;
}

static struct serve_output output_of(const void *c)
{
    struct serve_output o;
    p->output(c, &o);
    return o;
}

static size_t feed(void *c, const char *data, size_t n)
{
    size_t room;
    char *space = p->read_space(c, &room);
    if (n > room)
        n = room;
    memcpy(space, data, n);
    p->received(c, n, 0);
    return n;
}

static void test_round_trip(void)
{
    void *c = new_conn();
    CHECK_EQ_INT(p->want(c), SERVE_WANT_READ);
    CHECK(p->idle(c));
    feed(c, "hello\0world", 11);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_WRITE);
    CHECK(!p->idle(c));
    struct serve_output o_buf;
    const struct serve_output *o = &o_buf;
    p->output(c, &o_buf);
    CHECK_EQ_INT(o->head_len, 0);
    CHECK_EQ_INT(o->file_len, 0);
    CHECK_EQ_MEM(o->data, o->data_len, "hello\0world", 11);
    p->sent(c, 4, 0);
    p->output(c, &o_buf);
    CHECK_EQ_MEM(o->data, o->data_len, "o\0world", 7);
    p->sent(c, 7, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_READ);
    CHECK(p->idle(c));
    p->release(c);
    free(c);
}

/* A peer that sends more than the buffer holds is read no further until
 * its bytes have gone back: memory stays bounded. */
static void test_bounded(void)
{
    void *c = new_conn();
    static char big[1 << 20];
    size_t room;
    memset(big, 'x', sizeof big);
    p->read_space(c, &room);
    CHECK(room > 0 && room < sizeof big);
    size_t taken = feed(c, big, sizeof big);
    CHECK_EQ_INT(taken, room);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_WRITE);
    CHECK_EQ_INT(output_of(c).data_len, room);
    p->sent(c, room, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_READ);
    p->read_space(c, &room);
    CHECK_EQ_INT(room, taken);
    free(c);
}

/* End of input: what is buffered still goes back, then the connection ends. */
static void test_half_close(void)
{
    void *c = new_conn();
    feed(c, "tail", 4);
    p->received(c, 0, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_WRITE);
    p->sent(c, 4, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_CLOSE);
    free(c);

    c = new_conn();
    p->received(c, 0, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_CLOSE);
    free(c);
}

static void test_drain_and_abort(void)
{
    void *c = new_conn();
    p->drain(c, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_CLOSE);
    free(c);

    c = new_conn();
    feed(c, "abc", 3);
    p->drain(c, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_WRITE);
    p->sent(c, 3, 0);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_CLOSE);
    free(c);

    c = new_conn();
    feed(c, "abc", 3);
    p->abort(c);
    CHECK_EQ_INT(p->want(c), SERVE_WANT_CLOSE);
    free(c);
}

int main(void)
{
    test_round_trip();
    test_bounded();
    test_half_close();
    test_drain_and_abort();
    CHECK(p->refusal == NULL);
    CHECK(!p->uses_files);
    CHECK(serve_proto_http.uses_files);
    return test_report();
}
