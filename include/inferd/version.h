/* inferd's version, reported by GET /v2 and --version. */
#ifndef INFERD_VERSION_H
#define INFERD_VERSION_H

#define INFERD_VERSION_STRING "0.1.0"
#define INFERD_SERVER_NAME "inferd"

#endif
