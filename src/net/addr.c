/* addr.c — network names, "host:port" parsing, name resolution and address formatting
 * (Go's net/ipsock.go SplitHostPort and internetAddrList, and the cgo resolver).
 *
 * Literal IPs and numeric ports never touch the resolver. Anything else goes to
 * getaddrinfo(), which may read files and wait on DNS for seconds, so it runs inside
 * goc_blocking(): the calling goroutine keeps its thread, the processor moves on to other
 * goroutines (sysmon hands it off), as Go's cgo resolver does through entersyscall.
 * getaddrinfo's EAI_ codes become errno values (see goc/net.h) because errors.h has no
 * resolver codes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "net/netfd.h"

#define HOST_MAX 256   /* DNS names are at most 253 bytes; IPv6 literals with a zone fit */
#define SERVICE_MAX 64 /* service names from /etc/services are short */
#define PORT_MAX 65535

int goc__net_parse_network(const char *network, net_spec *out) {
    static const struct {
        const char *name;
        net_spec spec;
    } table[] = {
        {"tcp", {NET_TCP, AF_UNSPEC}}, {"tcp4", {NET_TCP, AF_INET}}, {"tcp6", {NET_TCP, AF_INET6}},
        {"udp", {NET_UDP, AF_UNSPEC}}, {"udp4", {NET_UDP, AF_INET}}, {"udp6", {NET_UDP, AF_INET6}},
        {"unix", {NET_UNIX, AF_UNIX}},
    };
    if (!network) return GOC_EINVAL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(network, table[i].name) == 0) {
            *out = table[i].spec;
            return 0;
        }
    }
    return GOC_EINVAL;
}

/* Go's SplitHostPort: "host:port", "[v6]:port"; the port must be present. */
static int split_host_port(const char *address, char *host, char *port) {
    const char *colon;
    const char *h, *hend;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (!close || close[1] != ':') return GOC_EINVAL;
        h = address + 1;
        hend = close;
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon) return GOC_EINVAL;                                          /* missing port */
        if (memchr(address, ':', (size_t)(colon - address))) return GOC_EINVAL; /* too many */
        h = address;
        hend = colon;
    }
    size_t hl = (size_t)(hend - h), pl = strlen(colon + 1);
    if (hl >= HOST_MAX || pl == 0 || pl >= SERVICE_MAX) return GOC_EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    memcpy(port, colon + 1, pl + 1);
    return 0;
}

/* A decimal port, or -1 if port is not all digits (a service name). */
static int numeric_port(const char *port) {
    long v = 0;
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > PORT_MAX) return -2;
    }
    return (int)v;
}

static void set_in4(goc_addr *a, const struct in_addr *ip, int port) {
    struct sockaddr_in *s = (struct sockaddr_in *)&a->sa;
    memset(a, 0, sizeof *a);
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    s->sin_addr = *ip;
    a->len = sizeof *s;
}

static void set_in6(goc_addr *a, const struct in6_addr *ip, int port) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->sa;
    memset(a, 0, sizeof *a);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    s->sin6_addr = *ip;
    a->len = sizeof *s;
}

static int unix_addr(const char *path, goc_addr *out) {
    struct sockaddr_un *s = (struct sockaddr_un *)&out->sa;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof s->sun_path) return GOC_EINVAL;
    memset(out, 0, sizeof *out);
    s->sun_family = AF_UNIX;
    memcpy(s->sun_path, path, n);
    if (path[0] == '@') { /* Linux abstract namespace, as Go: no NUL terminator counted */
        s->sun_path[0] = 0;
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

/* ---- getaddrinfo on the blocking pool ---- */

typedef struct {
    const char *host, *service;
    struct addrinfo hints;
    struct addrinfo *res;
    int rc;
    int err; /* errno after an EAI_SYSTEM failure */
} gai_call;

static void *gai_run(void *arg) {
    gai_call *c = arg;
    c->rc = getaddrinfo(c->host, c->service, &c->hints, &c->res);
    c->err = errno;
    return NULL;
}

static int gai_to_goc(int rc, int err) {
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        errno = ENOENT; /* Go's "no such host" */
        return GOC_ESYS;
    case EAI_AGAIN:
        errno = EAGAIN;
        return GOC_ESYS;
    case EAI_MEMORY:
        return GOC_ENOMEM;
    case EAI_SERVICE:
        return GOC_EINVAL; /* unknown port name */
    case EAI_FAMILY:
        errno = EAFNOSUPPORT;
        return GOC_ESYS;
    case EAI_SYSTEM:
        errno = err;
        return GOC_ESYS;
    default:
        errno = EIO;
        return GOC_ESYS;
    }
}

static int lookup(const net_spec *ns, const char *host, const char *port, bool passive,
                  goc_addr *out, int max) {
    gai_call c = {.host = host[0] ? host : NULL, .service = port};
    c.hints.ai_family = ns->family;
    c.hints.ai_socktype = ns->proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
    c.hints.ai_flags = passive ? AI_PASSIVE : 0;
    if (numeric_port(port) >= 0) c.hints.ai_flags |= AI_NUMERICSERV;
    goc_blocking(gai_run, &c);
    if (c.rc != 0) return gai_to_goc(c.rc, c.err);
    int n = 0;
    /* Listening takes the first address: prefer IPv4 then, as Go's favoriteAddrFamily does
     * for a name; dialling keeps the resolver's (RFC 6724) order. */
    for (int pass = passive ? 0 : 1; pass < 2 && n < max; pass++) {
        for (struct addrinfo *ai = c.res; ai && n < max; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
            if (pass == 0 && ai->ai_family != AF_INET) continue;
            if (ai->ai_addrlen > sizeof out[n].sa) continue;
            bool dup = false;
            for (int k = 0; k < n; k++)
                dup |= out[k].len == ai->ai_addrlen &&
                       !memcmp(&out[k].sa, ai->ai_addr, ai->ai_addrlen);
            if (dup) continue;
            memset(&out[n], 0, sizeof out[n]);
            memcpy(&out[n].sa, ai->ai_addr, ai->ai_addrlen);
            out[n].len = ai->ai_addrlen;
            n++;
        }
    }
    freeaddrinfo(c.res);
    if (n == 0) {
        errno = ENOENT;
        return GOC_ESYS;
    }
    return n;
}

int goc__net_resolve(const net_spec *ns, const char *address, bool passive, goc_addr *out,
                     int max) {
    if (!address || max < 1) return GOC_EINVAL;
    if (ns->proto == NET_UNIX) {
        int r = unix_addr(address, out);
        return r ? r : 1;
    }
    char host[HOST_MAX], port[SERVICE_MAX];
    int r = split_host_port(address, host, port);
    if (r) return r;
    int pn = numeric_port(port);
    if (pn == -2) return GOC_EINVAL;
    if (pn >= 0) {
        struct in_addr a4;
        struct in6_addr a6;
        if (host[0] == 0) {
            /* Listening: every address (dual stack for "tcp"/"udp"); dialling: this host. */
            if (ns->family == AF_INET || (!passive && ns->family == AF_UNSPEC)) {
                a4.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
                set_in4(out, &a4, pn);
            } else {
                set_in6(out, passive ? &in6addr_any : &in6addr_loopback, pn);
            }
            return 1;
        }
        if (inet_pton(AF_INET, host, &a4) == 1) {
            if (ns->family == AF_INET6) {
                errno = EAFNOSUPPORT; /* Go: "no suitable address found" */
                return GOC_ESYS;
            }
            set_in4(out, &a4, pn);
            return 1;
        }
        if (inet_pton(AF_INET6, host, &a6) == 1) {
            if (ns->family == AF_INET) {
                errno = EAFNOSUPPORT;
                return GOC_ESYS;
            }
            set_in6(out, &a6, pn);
            return 1;
        }
    }
    return lookup(ns, host, port, passive, out, max);
}

int goc_resolve(const char *network, const char *address, goc_addr *out, int max) {
    net_spec ns;
    int r = goc__net_parse_network(network, &ns);
    if (r) return r;
    return goc__net_resolve(&ns, address, false, out, max);
}

int goc_addr_port(const goc_addr *a) {
    if (a->len >= sizeof(struct sockaddr_in) && a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->len >= sizeof(struct sockaddr_in6) && a->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return -1;
}

int goc_addr_string(const goc_addr *a, char *buf, size_t size) {
    char ip[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    int n;
    if (a->len == 0) {
        n = snprintf(buf, size, "%s", "");
    } else if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
        n = snprintf(buf, size, "%s:%d", ip, ntohs(s->sin_port));
    } else if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, INET6_ADDRSTRLEN);
        if (s->sin6_scope_id) {
            char ifn[IF_NAMESIZE];
            size_t l = strlen(ip);
            if (if_indextoname(s->sin6_scope_id, ifn))
                snprintf(ip + l, sizeof ip - l, "%%%s", ifn);
            else
                snprintf(ip + l, sizeof ip - l, "%%%u", (unsigned)s->sin6_scope_id);
        }
        n = snprintf(buf, size, "[%s]:%d", ip, ntohs(s->sin6_port));
    } else if (a->sa.ss_family == AF_UNIX) {
        const struct sockaddr_un *s = (const struct sockaddr_un *)&a->sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t pl = a->len > off ? a->len - off : 0;
        if (pl > 0 && s->sun_path[0] == 0) { /* abstract: "@name" */
            n = snprintf(buf, size, "@%.*s", (int)(pl - 1), s->sun_path + 1);
        } else {
            n = snprintf(buf, size, "%.*s", (int)strnlen(s->sun_path, pl), s->sun_path);
        }
    } else {
        return GOC_EINVAL;
    }
    if (n < 0 || (size_t)n >= size) return GOC_EINVAL;
    return n;
}
