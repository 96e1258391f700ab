/* The HTTP/1.1 front end on libmicrohttpd: a small fixed pool of I/O threads that parse,
 * validate and serialize; inference requests suspend their connection while queued, so
 * no thread waits for a model. */
#ifndef INFERD_SERVER_HTTP_HTTP_H
#define INFERD_SERVER_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

/* Starts listening on address:port with threads I/O threads. metrics_only serves just
 * GET /metrics (the --metrics-port listener). */
inferd_status_t inferd_http_start(inferd_server_t *srv, const char *address, int port, int threads,
                                  bool metrics_only, inferd_http_t **out, inferd_err_t *err);

/* Stops accepting new connections; existing ones finish. */
void inferd_http_quiesce(inferd_http_t *h);

/* Number of exchanges started and not yet completed. */
size_t inferd_http_active(inferd_http_t *h);

/* Cancels every in-flight inference (used when the exit timeout expires). */
void inferd_http_cancel_all(inferd_http_t *h);

/* False when every open client connection of the inference listeners has a request in
 * flight, so no new request can arrive without a new connection (the scheduler's arrival
 * probe). Thread: any; lock-free. */
bool inferd_http_clients_may_send(void);

/* Stops the daemon, closing every connection, joining its threads, and frees h. */
void inferd_http_stop(inferd_http_t *h);

#endif
