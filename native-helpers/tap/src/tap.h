/* Shared declarations of the TAP addon: error helpers and interface ioctls. */
#ifndef RINGVPN_TAP_H
#define RINGVPN_TAP_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* What was being done when a system call failed: picks the advice in the error message. */
typedef enum {
  TAP_OP_OPEN_TUN,   /* open("/dev/net/tun") */
  TAP_OP_ATTACH,     /* TUNSETIFF: create or attach */
  TAP_OP_PERSIST,    /* TUNSETPERSIST / TUNSETOWNER / TUNSETGROUP */
  TAP_OP_NONBLOCK,   /* fcntl O_NONBLOCK */
  TAP_OP_READ,
  TAP_OP_WRITE,
  TAP_OP_POLL,       /* uv_poll_init / uv_poll_start (pass the positive errno: -uv_error) */
  TAP_OP_SOCKET,     /* socket() for interface ioctls */
  TAP_OP_SET_MTU,
  TAP_OP_GET_MTU,
  TAP_OP_SET_FLAGS,
  TAP_OP_GET_FLAGS,
  TAP_OP_GET_MAC
} tap_op;

/* Throws a JS Error with a stable `code`, a plain-words message that says what to do, `errno` and `syscall`-like `op`. */
void tap_throw_errno(napi_env env, int err, tap_op op, const char *ifname);
/* Throws a JS Error with the given code and message (for bad arguments and misuse). */
void tap_throw(napi_env env, const char *code, const char *message);

/* Interface ioctls on a datagram socket of the calling thread's network namespace. */
napi_value tap_set_mtu(napi_env env, napi_callback_info info);
napi_value tap_get_mtu(napi_env env, napi_callback_info info);
napi_value tap_set_up(napi_env env, napi_callback_info info);
napi_value tap_get_mac(napi_env env, napi_callback_info info);

/* Reads an interface name argument (1..IFNAMSIZ-1 bytes) into buf; throws and returns 0 on failure. */
int tap_get_ifname(napi_env env, napi_value value, char *buf);

/* virtio_net_hdr handling (vnet.c): every TAP read and write carries one (IFF_VNET_HDR). */
#define TAP_VNET_HDR_BYTES 10
typedef void (*vnet_emit)(const uint8_t *frame, size_t length, void *ctx);
/* One read (header + frame) -> plain frames with complete checksums (TSO frames cut into segments). */
int vnet_split(uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_size, vnet_emit emit, void *ctx);
uint32_t vnet_sum(const uint8_t *p, size_t len, uint32_t sum);

/* The native data path (fastpath.c). */
/* A frame read from the TAP device tap_fd: 1 if the native data path sent it, 0 if JavaScript must see it. */
int fp_outbound(int tap_fd, const uint8_t *frame, size_t len);
/* Sends what fp_outbound queued. */
void fp_flush(void);
/* Frames of a read batch that went to JavaScript (a counter). */
void fp_count_to_js(uint32_t frames);
void fp_register(napi_env env, napi_value exports);
void vnet_register(napi_env env, napi_value exports);
/* The descriptor of an open device handle, or -1 (and a JS exception). */
int tap_fd_of(napi_env env, napi_value handle);

#endif
