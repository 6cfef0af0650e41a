/* Turns errno values into JS errors with a stable code and advice in plain words. */
#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *op_name(tap_op op) {
  switch (op) {
    case TAP_OP_OPEN_TUN: return "open /dev/net/tun";
    case TAP_OP_ATTACH: return "create or attach the TAP device";
    case TAP_OP_PERSIST: return "change the TAP device's persistence or owner";
    case TAP_OP_NONBLOCK: return "make the TAP device non-blocking";
    case TAP_OP_READ: return "read from the TAP device";
    case TAP_OP_WRITE: return "write to the TAP device";
    case TAP_OP_POLL: return "watch the TAP device for frames";
    case TAP_OP_SOCKET: return "open a socket for interface settings";
    case TAP_OP_SET_MTU: return "set the MTU";
    case TAP_OP_GET_MTU: return "read the MTU";
    case TAP_OP_SET_FLAGS: return "bring the interface up or down";
    case TAP_OP_GET_FLAGS: return "read the interface flags";
    case TAP_OP_GET_MAC: return "read the MAC address";
  }
  return "use the TAP device";
}

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EBADFD: return "EBADFD";
    case EIO: return "EIO";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOTTY: return "ENOTTY";
    default: return "EUNKNOWN";
  }
}

/* Picks the error code and the advice for (operation, errno). */
static void classify(int err, tap_op op, const char *ifname, const char **code, char *advice, size_t size) {
  const char *name = ifname != NULL ? ifname : "";
  uid_t uid = getuid();
  *code = "ERR_TAP_IO";
  advice[0] = '\0';
  if (op == TAP_OP_OPEN_TUN) {
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      *code = "ERR_TAP_NO_TUN";
      snprintf(advice, size,
               "/dev/net/tun is missing: load the tun kernel module (sudo modprobe tun); "
               "inside a container, pass the device in (for example docker run --device /dev/net/tun --cap-add NET_ADMIN)");
    } else if (err == EACCES || err == EPERM) {
      *code = "ERR_TAP_PERMISSION";
      snprintf(advice, size,
               "permission denied on /dev/net/tun: it should be readable and writable by everyone (mode 0666); "
               "ask an administrator to fix its mode, or run as root");
    } else if (err == EMFILE || err == ENFILE) {
      *code = "ERR_TAP_RESOURCES";
      snprintf(advice, size, "too many open files: close other programs or raise the open-file limit (ulimit -n)");
    }
    return;
  }
  if (op == TAP_OP_ATTACH || op == TAP_OP_PERSIST) {
    if (err == EPERM || err == EACCES) {
      *code = "ERR_TAP_PERMISSION";
      snprintf(advice, size,
               "permission denied for TAP device \"%s\": creating a TAP device needs root (CAP_NET_ADMIN); "
               "without it, a process can only attach to a persistent device owned by its user (uid %u), "
               "which the RingVPN helper creates: start the helper, or run as root",
               name, (unsigned)uid);
    } else if (err == EBUSY) {
      *code = "ERR_TAP_BUSY";
      snprintf(advice, size,
               "TAP device \"%s\" is already in use by another process: stop the other RingVPN instance "
               "or choose another device name",
               name);
    } else if (err == EINVAL) {
      *code = "ERR_TAP_INVALID";
      snprintf(advice, size,
               "\"%s\" exists but is not a TAP device (perhaps a TUN device or a physical interface), "
               "or the name is not valid: choose another device name",
               name);
    } else if (err == ENOMEM || err == ENOBUFS) {
      *code = "ERR_TAP_RESOURCES";
      snprintf(advice, size, "the kernel is out of memory for a new device");
    }
    return;
  }
  if (op == TAP_OP_SET_MTU || op == TAP_OP_SET_FLAGS || op == TAP_OP_GET_MTU || op == TAP_OP_GET_FLAGS ||
      op == TAP_OP_GET_MAC) {
    if (err == ENODEV || err == ENXIO) {
      *code = "ERR_TAP_NO_INTERFACE";
      snprintf(advice, size,
               "there is no interface \"%s\" in this network namespace: was the device closed, deleted or moved?",
               name);
    } else if (err == EPERM || err == EACCES) {
      *code = "ERR_TAP_PERMISSION";
      snprintf(advice, size,
               "changing interface \"%s\" needs root (CAP_NET_ADMIN): ask the RingVPN helper to do it, or run as root",
               name);
    } else if (err == EINVAL && op == TAP_OP_SET_MTU) {
      *code = "ERR_TAP_INVALID";
      snprintf(advice, size, "the MTU is out of the range interface \"%s\" accepts (68 to 65535 for a TAP device)", name);
    }
    return;
  }
  if (op == TAP_OP_READ || op == TAP_OP_WRITE) {
    if (err == EBADF) {
      *code = "ERR_TAP_CLOSED";
      snprintf(advice, size, "the TAP device \"%s\" is closed", name);
    } else if (err == EBADFD) {
      *code = "ERR_TAP_GONE";
      snprintf(advice, size, "the TAP device \"%s\" was deleted (or its network namespace was): open it again", name);
    } else if (err == EIO) {
      snprintf(advice, size, "the TAP device \"%s\" is down or was deleted", name);
    }
  }
}

void tap_throw(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
}

void tap_throw_errno(napi_env env, int err, tap_op op, const char *ifname) {
  const char *code;
  char advice[512];
  char message[1024];
  classify(err, op, ifname, &code, advice, sizeof advice);
  const char *reason = strerror(err);
  if (advice[0] != '\0') {
    snprintf(message, sizeof message, "Could not %s: %s (%s).", op_name(op), advice, errno_name(err));
  } else {
    snprintf(message, sizeof message, "Could not %s%s%s%s: %s (%s).", op_name(op), ifname ? " \"" : "",
             ifname ? ifname : "", ifname ? "\"" : "", reason, errno_name(err));
  }
  napi_value js_code, js_message, error, js_errno;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok) return;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message) != napi_ok) return;
  if (napi_create_error(env, js_code, js_message, &error) != napi_ok) return;
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &js_errno) == napi_ok) {
    napi_set_named_property(env, error, "errno", js_errno);
  }
  napi_throw(env, error);
}
