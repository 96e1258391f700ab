/* Which client addresses may read /debug: loopback always, plus the networks listed in
 * --debug-address ("10.0.0.0/8,192.168.1.7,fd00::/8"). The list is parsed once at
 * start-up; matching is a few integer compares per request and never allocates. */
#ifndef INFERD_SERVER_HTTP_PEER_ACL_H
#define INFERD_SERVER_HTTP_PEER_ACL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "inferd/status.h"

#define INFERD_PEER_ACL_MAX 16

typedef struct inferd_peer_net {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network address, host bits cleared (4 bytes used for AF_INET) */
    int prefix;       /* bits that must match */
} inferd_peer_net_t;

typedef struct inferd_peer_acl {
    int n;
    inferd_peer_net_t nets[INFERD_PEER_ACL_MAX];
} inferd_peer_acl_t;

/* Parses a comma-separated list of addresses or CIDR networks (IPv4 or IPv6; spaces
 * around entries allowed; NULL or "" is an empty list). Fails with INVALID_ARG naming
 * the bad entry, or when there are more than INFERD_PEER_ACL_MAX entries. */
inferd_status_t inferd_peer_acl_parse(const char *list, inferd_peer_acl_t *acl, inferd_err_t *err);

/* True if sa (AF_INET or AF_INET6) is a loopback address. IPv4-mapped IPv6 addresses
 * count as their IPv4 address. */
bool inferd_peer_is_loopback(const struct sockaddr *sa);

/* True if sa is in one of acl's networks (IPv4-mapped IPv6 peers match IPv4 networks). */
bool inferd_peer_acl_match(const inferd_peer_acl_t *acl, const struct sockaddr *sa);

#endif
