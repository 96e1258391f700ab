/* Administrative endpoints of the HTTP front end, apart from inference: Triton's
 * statistics extension (/v2/models[/{m}[/versions/{v}]]/stats), its logging extension
 * (/v2/logging), and /debug/requests. Called from inferd_v2_handle's dispatch. */
#ifndef INFERD_SERVER_HTTP_V2_ADMIN_H
#define INFERD_SERVER_HTTP_V2_ADMIN_H

#include "server/http/http_int.h"

/* GET .../stats: sets a {"model_stats":[...]} response, or 404/503 when the route's model
 * or version is unknown or not ready. Thread: I/O. */
void inferd_v2_handle_stats(inferd_http_exchange_t *ex);

/* GET /v2/logging returns the settings; POST applies the keys present (null leaves a key
 * unchanged) and returns the settings, or 400 with nothing changed. Thread: I/O. */
void inferd_v2_handle_logging(inferd_http_exchange_t *ex);

/* GET /debug/requests: the in-flight request table (loopback peers only, else 403).
 * Thread: I/O. */
void inferd_v2_handle_debug_requests(inferd_http_exchange_t *ex);

#endif
