#ifndef SWITCHBOARD_CZEROMQ_SHIM_H
#define SWITCHBOARD_CZEROMQ_SHIM_H

/* The one header Swift sees of libzmq. It re-exports zmq.h and wraps the
 * macros Swift's importer cannot evaluate (computed or function-like ones). */
#include <zmq.h>
#include <errno.h>

/* A DRAFT option in libzmq 4.3's header, but honoured by the stable library since 4.2.3. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif
static inline int czmq_shim_zap_enforce_domain(void) { return ZMQ_ZAP_ENFORCE_DOMAIN; }

static inline int czmq_shim_version(void) { return ZMQ_VERSION; }
static inline int czmq_shim_errno_eterm(void) { return ETERM; }
static inline int czmq_shim_errno_efsm(void) { return EFSM; }
static inline int czmq_shim_errno_enocompatproto(void) { return ENOCOMPATPROTO; }
static inline int czmq_shim_errno_emthread(void) { return EMTHREAD; }
static inline int czmq_shim_errno_ehostunreach(void) { return EHOSTUNREACH; }
static inline int czmq_shim_errno_eagain(void) { return EAGAIN; }
static inline int czmq_shim_errno_eintr(void) { return EINTR; }
static inline int czmq_shim_errno(void) { return zmq_errno(); }

#endif
