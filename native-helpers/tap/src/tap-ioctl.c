/*
 * Interface settings by name: MTU, up/down, MAC. They act on the network namespace of the calling
 * thread (a device moved to another namespace is not found here: call them from a process in that
 * namespace, as the privileged helper does).
 */
#include "tap.h"

#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int tap_get_ifname(napi_env env, napi_value value, char *buf) {
  size_t len = 0;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The device name must be a string.");
    return 0;
  }
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return 0;
  if (len == 0 || len >= IFNAMSIZ) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The device name must be 1 to 15 bytes long.");
    return 0;
  }
  if (napi_get_value_string_utf8(env, value, buf, IFNAMSIZ, &len) != napi_ok) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c <= ' ' || c == '/' || c == ':' || c >= 0x7f) {
      tap_throw(env, "ERR_TAP_ARGUMENT",
                "The device name may not contain spaces, '/', ':' or non-ASCII characters.");
      return 0;
    }
  }
  return 1;
}

/* Parses (name[, extra]) and opens an AF_INET datagram socket; returns the socket or -1 (with a JS error thrown). */
static int begin(napi_env env, napi_callback_info info, size_t want, napi_value *argv, struct ifreq *ifr) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "Missing argument.");
    return -1;
  }
  memset(ifr, 0, sizeof *ifr);
  if (!tap_get_ifname(env, argv[0], ifr->ifr_name)) return -1;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) tap_throw_errno(env, errno, TAP_OP_SOCKET, ifr->ifr_name);
  return sock;
}

napi_value tap_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  int sock = begin(env, info, 2, argv, &ifr);
  if (sock < 0) return NULL;
  int64_t mtu = 0;
  if (napi_get_value_int64(env, argv[1], &mtu) != napi_ok || mtu < 68 || mtu > 65535) {
    close(sock);
    tap_throw(env, "ERR_TAP_ARGUMENT", "The MTU must be a whole number from 68 to 65535.");
    return NULL;
  }
  ifr.ifr_mtu = (int)mtu;
  if (ioctl(sock, SIOCSIFMTU, &ifr) < 0) tap_throw_errno(env, errno, TAP_OP_SET_MTU, ifr.ifr_name);
  close(sock);
  return NULL;
}

napi_value tap_get_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  struct ifreq ifr;
  int sock = begin(env, info, 1, argv, &ifr);
  if (sock < 0) return NULL;
  if (ioctl(sock, SIOCGIFMTU, &ifr) < 0) tap_throw_errno(env, errno, TAP_OP_GET_MTU, ifr.ifr_name);
  else napi_create_int32(env, ifr.ifr_mtu, &result);
  close(sock);
  return result;
}

napi_value tap_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  int sock = begin(env, info, 2, argv, &ifr);
  if (sock < 0) return NULL;
  bool up = false;
  if (napi_get_value_bool(env, argv[1], &up) != napi_ok) {
    close(sock);
    tap_throw(env, "ERR_TAP_ARGUMENT", "The second argument must be true (up) or false (down).");
    return NULL;
  }
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    tap_throw_errno(env, errno, TAP_OP_GET_FLAGS, ifr.ifr_name);
  } else {
    if (up) ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    else ifr.ifr_flags &= ~IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) tap_throw_errno(env, errno, TAP_OP_SET_FLAGS, ifr.ifr_name);
  }
  close(sock);
  return NULL;
}

napi_value tap_get_mac(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  struct ifreq ifr;
  int sock = begin(env, info, 1, argv, &ifr);
  if (sock < 0) return NULL;
  if (ioctl(sock, SIOCGIFHWADDR, &ifr) < 0) {
    tap_throw_errno(env, errno, TAP_OP_GET_MAC, ifr.ifr_name);
  } else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    tap_throw(env, "ERR_TAP_INVALID", "The interface is not an Ethernet (TAP) device, so it has no MAC address.");
  } else {
    napi_create_buffer_copy(env, 6, ifr.ifr_hwaddr.sa_data, NULL, &result);
  }
  close(sock);
  return result;
}
