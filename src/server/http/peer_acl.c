#include "server/http/peer_acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static bool parse_entry(const char *s, size_t len, inferd_peer_net_t *net)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    int prefix = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *end;
        const char *p = slash + 1;
        if (*p < '0' || *p > '9')
            return false;
        long v = strtol(p, &end, 10);
        if (*end != '\0' || v < 0 || v > 128)
            return false;
        prefix = (int)v;
    }
    memset(net, 0, sizeof(*net));
    if (inet_pton(AF_INET, buf, net->addr) == 1) {
        net->family = AF_INET;
        if (prefix > 32)
            return false;
        net->prefix = prefix < 0 ? 32 : prefix;
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        net->family = AF_INET6;
        net->prefix = prefix < 0 ? 128 : prefix;
    } else {
        return false;
    }
    /* Clear host bits so "10.1.2.3/8" means 10.0.0.0/8. */
    int bytes = net->family == AF_INET ? 4 : 16;
    for (int i = 0; i < bytes; i++) {
        int keep = net->prefix - i * 8;
        if (keep <= 0)
            net->addr[i] = 0;
        else if (keep < 8)
            net->addr[i] &= (uint8_t)(0xFFu << (8 - keep));
    }
    return true;
}

inferd_status_t inferd_peer_acl_parse(const char *list, inferd_peer_acl_t *acl, inferd_err_t *err)
{
    memset(acl, 0, sizeof(*acl));
    if (!list)
        return INFERD_OK;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        while (len > 0 && start[len - 1] == ' ')
            len--;
        if (acl->n == INFERD_PEER_ACL_MAX)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "--debug-address: more than %d networks", INFERD_PEER_ACL_MAX);
        if (!parse_entry(start, len, &acl->nets[acl->n]))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "--debug-address: '%.*s' is not an address or CIDR network",
                                  (int)(len > 64 ? 64 : len), start);
        acl->n++;
    }
    return INFERD_OK;
}

/* The peer as (family, bytes), with IPv4-mapped IPv6 reduced to IPv4. */
static bool peer_bytes(const struct sockaddr *sa, int *family, uint8_t out[16])
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(out, &in->sin_addr, 4);
        *family = AF_INET;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(out, in6->sin6_addr.s6_addr + 12, 4);
            *family = AF_INET;
        } else {
            memcpy(out, in6->sin6_addr.s6_addr, 16);
            *family = AF_INET6;
        }
        return true;
    }
    return false;
}

bool inferd_peer_is_loopback(const struct sockaddr *sa)
{
    int family;
    uint8_t a[16];
    if (!peer_bytes(sa, &family, a))
        return false;
    if (family == AF_INET)
        return a[0] == 127;
    static const uint8_t v6_loopback[16] = {[15] = 1};
    return memcmp(a, v6_loopback, 16) == 0;
}

bool inferd_peer_acl_match(const inferd_peer_acl_t *acl, const struct sockaddr *sa)
{
    int family;
    uint8_t a[16];
    if (!acl || !peer_bytes(sa, &family, a))
        return false;
    for (int k = 0; k < acl->n; k++) {
        const inferd_peer_net_t *net = &acl->nets[k];
        if (net->family != family)
            continue;
        int full = net->prefix / 8, rest = net->prefix % 8;
        if (memcmp(a, net->addr, (size_t)full) != 0)
            continue;
        if (rest && (a[full] & (uint8_t)(0xFFu << (8 - rest))) != net->addr[full])
            continue;
        return true;
    }
    return false;
}
