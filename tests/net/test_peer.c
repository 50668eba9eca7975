/* test_peer — peers that vanish: a server keeps working, leaks no descriptor (counted in
 * /proc/self/fd) and leaves no connection in CLOSE_WAIT (read from /proc/net/tcp, which is
 * what `ss -tan` shows) when clients reset connections (SO_LINGER 0), reset them while
 * the server is blocked writing, half-close them, or just close them.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc/net.h"
#include "goc/sync.h"
#include "goc_test.h"
#include "net_util.h"

#define ROUNDS 50             /* connections per scenario */
#define TCP_CLOSE_WAIT 0x08   /* include/net/tcp_states.h */
#define REPLY_BYTES (8 << 20) /* more than the socket buffers hold: the server blocks */

static _Atomic int handlers_live;
static _Atomic int errors_seen;

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the DIR's own descriptor */
}

/* Connections on `port` (either end) in state `st`, from /proc/net/tcp and tcp6. */
static int count_state(int port, int st) {
    const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int n = 0;
    for (int f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "r");
        if (!fp) continue;
        char line[512];
        CHECK(fgets(line, sizeof line, fp) != NULL); /* header */
        while (fgets(line, sizeof line, fp)) {
            char local[128], remote[128];
            unsigned state;
            if (sscanf(line, "%*d: %127s %127s %x", local, remote, &state) != 3) continue;
            unsigned lp = (unsigned)strtoul(strrchr(local, ':') + 1, NULL, 16);
            unsigned rp = (unsigned)strtoul(strrchr(remote, ':') + 1, NULL, 16);
            if ((lp == (unsigned)port || rp == (unsigned)port) && (int)state == st) n++;
        }
        fclose(fp);
    }
    return n;
}

/* The server: read a request ("R" asks for a big reply, anything else is echoed), until
 * EOF or an error; then close. Every error must reach it as a value. */
static void handler(goc_conn *c, void *arg) {
    (void)arg;
    char buf[512];
    for (;;) {
        ssize_t n = goc_conn_read(c, buf, sizeof buf);
        if (n == GOC_EEOF) break;
        if (n < 0) {
            CHECK_EQ(n, GOC_ESYS); /* ECONNRESET */
            atomic_fetch_add(&errors_seen, 1);
            break;
        }
        if (buf[0] == 'R') {
            static char big[REPLY_BYTES];
            ssize_t w = goc_conn_write(c, big, sizeof big);
            if (w < 0) {
                CHECK_EQ(w, GOC_ESYS); /* EPIPE or ECONNRESET */
                CHECK(errno == EPIPE || errno == ECONNRESET);
                atomic_fetch_add(&errors_seen, 1);
                break;
            }
        } else if (goc_conn_write(c, buf, (size_t)n) < 0) {
            atomic_fetch_add(&errors_seen, 1);
            break;
        }
    }
    CHECK_EQ(goc_conn_close(c), 0);
    atomic_fetch_sub(&handlers_live, 1);
}

static const char *addr;

static goc_conn *dial(void) {
    goc_conn *c;
    CHECK_EQ(goc_dial(&c, "tcp", addr), 0);
    atomic_fetch_add(&handlers_live, 1);
    return c;
}

static void reset(goc_conn *c) {
    CHECK_EQ(goc_conn_set_linger(c, 0), 0); /* close sends RST */
    CHECK_EQ(goc_conn_close(c), 0);
}

static void wait_handlers(void) {
    int64_t end = goc_now() + 10 * GOC_SECOND;
    while (atomic_load(&handlers_live) > 0 && goc_now() < end)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&handlers_live), 0);
}

static void test_main(void *arg) {
    (void)arg;
    net_server s;
    net_server_start(&s, "tcp", "127.0.0.1:0", handler, NULL);
    addr = s.addr;
    int port = s.port;
    goc_sleep(10 * GOC_MILLISECOND);
    int fds0 = count_fds();
    char buf[64];

    /* 1. reset right after a request: the server's read sees ECONNRESET (or the data and
     *    then the reset) */
    for (int i = 0; i < ROUNDS; i++) {
        goc_conn *c = dial();
        CHECK_EQ(goc_conn_write(c, "hello", 5), 5);
        reset(c);
    }
    wait_handlers();

    /* 2. reset while the server is blocked writing a reply bigger than the buffers */
    for (int i = 0; i < ROUNDS; i++) {
        goc_conn *c = dial();
        CHECK_EQ(goc_conn_write(c, "R", 1), 1);
        CHECK(goc_conn_read(c, buf, sizeof buf) > 0); /* the reply has started */
        reset(c);
    }
    wait_handlers();
    CHECK(atomic_load(&errors_seen) >= ROUNDS); /* at least every blocked writer saw it */

    /* 3. half-close: the request, then EOF; the server answers and closes, we read the
     *    answer and EOF */
    for (int i = 0; i < ROUNDS; i++) {
        goc_conn *c = dial();
        CHECK_EQ(goc_conn_write(c, "half", 4), 4);
        CHECK_EQ(goc_conn_close_write(c), 0);
        CHECK_EQ(goc_conn_read_full(c, buf, 4, goc_now() + 5 * GOC_SECOND, NULL), 4);
        CHECK(memcmp(buf, "half", 4) == 0);
        CHECK_EQ(goc_conn_read_until(c, buf, sizeof buf, goc_now() + 5 * GOC_SECOND), GOC_EEOF);
        CHECK_EQ(goc_conn_close(c), 0);
    }
    wait_handlers();

    /* 4. plain close with nothing said, and a close while the server waits to read */
    for (int i = 0; i < ROUNDS; i++) {
        goc_conn *c = dial();
        if (i % 2) goc_sleep(GOC_MILLISECOND);
        CHECK_EQ(goc_conn_close(c), 0);
    }
    wait_handlers();

    /* nothing leaked: every server-side socket was closed, none is left in CLOSE_WAIT */
    CHECK_EQ(count_fds(), fds0);
    CHECK_EQ(count_state(port, TCP_CLOSE_WAIT), 0);
    printf("peer: %d resets/errors seen, %d fds, no CLOSE_WAIT\n", atomic_load(&errors_seen), fds0);

    net_server_stop(&s);
    goc_test_done("net/peer");
}

int main(void) {
    goc_main(test_main, NULL);
}
