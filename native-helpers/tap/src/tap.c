/*
 * RingVPN's TAP binding: open a TAP device (create it, or attach to a persistent one owned by the
 * current user), read Ethernet frames without blocking, driven by libuv's poll on the device's file
 * descriptor, and hand them to JavaScript in batches (one call per wake-up, up to maxBatch frames);
 * write frames one at a time or in batches; make devices persistent for the privileged helper.
 *
 * A device handle is a JS object wrapping a tap_device. While it is reading, a strong reference
 * keeps the object (and its callback) alive; close() stops reading, closes the descriptor, and the
 * memory is freed once libuv has closed the poll handle.
 */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define DEFAULT_MAX_BATCH 64
#define MAX_BATCH_LIMIT 1024
/* Largest frame a TAP device with the largest MTU can hand us: MTU 65535 + Ethernet header + VLAN tag. */
#define DEFAULT_MAX_FRAME (65535 + 14 + 4)
/* Room per frame planned for ordinary (MTU 1500) frames. */
#define TYPICAL_FRAME_ROOM 2048
/* The arena keeps this much free before each read: one read of up to 64 KiB may become many segments (vnet.c). */
#define READ_RESERVE (65536 + 24576)
/* One read: the virtio_net_hdr and the largest frame (a 64 KiB TSO frame with its headers). */
#define RAW_SIZE (TAP_VNET_HDR_BYTES + 65535 + 14 + 4 + 128)
/* One segment being built (vnet.c). */
#define SCRATCH_SIZE (16384)
/* Frames one batch may hold beyond maxBatch (the segments of its last read). */
#define EXTRA_FRAMES 256

typedef struct {
  int fd;
  char name[IFNAMSIZ];
  napi_env env;
  uv_poll_t poll;
  int poll_initialized;
  int poll_closed;      /* libuv has finished closing the poll handle */
  int finalized;        /* the JS object was garbage-collected */
  int reading;
  int closed;
  napi_ref self;        /* strong while reading */
  napi_ref callback;    /* the batch handler */
  napi_async_context async;
  uint32_t max_batch;
  uint32_t max_frame;
  uint8_t *arena;
  size_t arena_size;
  uint32_t *lengths;
  uint8_t *raw;
  uint8_t *scratch;
  /* while reading: where the current batch stands (vnet_split's emit callback fills it) */
  size_t used;
  uint32_t count;
  /* counters */
  double frames_read, batches_read, read_errors, frames_written, write_drops;
  int last_write_errno;
} tap_device;

static void free_device(tap_device *t) {
  free(t->arena);
  free(t->lengths);
  free(t->raw);
  free(t->scratch);
  free(t);
}

/* The memory is freed once both the JS object is gone and libuv no longer uses the poll handle. */
static void on_poll_closed(uv_handle_t *handle) {
  tap_device *t = (tap_device *)handle->data;
  t->poll_closed = 1;
  if (t->finalized) free_device(t);
}

/* Stops reading and drops the references that kept the JS side alive; safe to call twice. */
static void stop_reading(tap_device *t) {
  if (!t->reading) return;
  t->reading = 0;
  uv_poll_stop(&t->poll);
  if (t->callback) {
    napi_delete_reference(t->env, t->callback);
    t->callback = NULL;
  }
  if (t->async) {
    napi_async_destroy(t->env, t->async);
    t->async = NULL;
  }
  if (t->self) {
    napi_delete_reference(t->env, t->self);
    t->self = NULL;
  }
}

static void close_device(tap_device *t) {
  if (t->closed) return;
  stop_reading(t);
  t->closed = 1;
  if (t->poll_initialized) uv_close((uv_handle_t *)&t->poll, on_poll_closed);
  close(t->fd);
  t->fd = -1;
}

/* Runs when the JS object is garbage-collected: closes what close() did not, then frees. */
static void finalize_device(napi_env env, void *data, void *hint) {
  tap_device *t = (tap_device *)data;
  t->finalized = 1;
  if (!t->closed) close_device(t); /* not reading (a reading device is strongly referenced) */
  if (!t->poll_initialized || t->poll_closed) free_device(t);
}

static tap_device *unwrap(napi_env env, napi_value obj, int must_be_open) {
  void *data = NULL;
  if (napi_unwrap(env, obj, &data) != napi_ok || data == NULL) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "Expected a TAP device handle returned by open().");
    return NULL;
  }
  tap_device *t = (tap_device *)data;
  if (must_be_open && t->closed) {
    tap_throw(env, "ERR_TAP_CLOSED", "The TAP device is closed.");
    return NULL;
  }
  return t;
}

/* Opens /dev/net/tun and binds it to a TAP device named `name` (created or attached). Returns the fd or -1. */
static int open_tap(napi_env env, char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    tap_throw_errno(env, errno, TAP_OP_OPEN_TUN, name);
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    tap_throw_errno(env, err, TAP_OP_ATTACH, name);
    return -1;
  }
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = '\0';
  return fd;
}

/* open(name) -> handle object with a `name` property (the kernel's name when the name held %d). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "open() needs the device name.");
    return NULL;
  }
  char name[IFNAMSIZ] = {0};
  if (!tap_get_ifname(env, argv[0], name)) return NULL;
  int fd = open_tap(env, name);
  if (fd < 0) return NULL;
  tap_device *t = calloc(1, sizeof *t);
  if (t == NULL) {
    close(fd);
    tap_throw(env, "ERR_TAP_RESOURCES", "Out of memory while opening the TAP device.");
    return NULL;
  }
  t->fd = fd;
  t->env = env;
  memcpy(t->name, name, IFNAMSIZ);
  napi_value obj, js_name;
  if (napi_create_object(env, &obj) != napi_ok || napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &js_name) != napi_ok ||
      napi_set_named_property(env, obj, "name", js_name) != napi_ok ||
      napi_wrap(env, obj, t, finalize_device, NULL, NULL) != napi_ok) {
    close(fd);
    free(t);
    return NULL;
  }
  return obj;
}

static void report_error(tap_device *t, int err) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, self, undefined;
  napi_get_undefined(env, &undefined);
  if (napi_get_reference_value(env, t->callback, &callback) == napi_ok &&
      napi_get_reference_value(env, t->self, &self) == napi_ok) {
    /* Build the error by throwing it and catching it again: one code path for every error. */
    tap_throw_errno(env, err, TAP_OP_READ, t->name);
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    stop_reading(t);
    napi_value args[1] = {error};
    napi_value result;
    if (napi_make_callback(env, NULL, self, callback, 1, args, &result) == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* A frame of a read (after vnet.c): sent by the native data path, or kept in the batch for JS. */
static void on_frame(const uint8_t *frame, size_t len, void *ctx) {
  tap_device *t = (tap_device *)ctx;
  if (fp_outbound(t->fd, frame, len)) return;
  if (t->count >= t->max_batch + EXTRA_FRAMES || t->arena_size - t->used < len) {
    t->read_errors++; /* cannot happen with the reserve; counted rather than overflowing */
    return;
  }
  memcpy(t->arena + t->used, frame, len);
  t->lengths[t->count++] = (uint32_t)len;
  t->used += len;
}

/* libuv says the descriptor is readable: read frames until EAGAIN or the batch is full, then call JS once. */
static void on_readable(uv_poll_t *handle, int status, int events) {
  tap_device *t = (tap_device *)handle->data;
  if (!t->reading) return;
  if (status < 0) {
    /* libuv reports POLLERR as UV_EBADF; a read tells the real reason (EBADFD: the device is gone). */
    int err = -status;
    if (t->arena != NULL && read(t->fd, t->arena, t->arena_size) < 0 && errno != EAGAIN && errno != EINTR) err = errno;
    t->read_errors++;
    report_error(t, err);
    return;
  }
  t->used = 0;
  t->count = 0;
  int fatal = 0;
  uint32_t reads = 0;
  while (reads < t->max_batch && t->count < t->max_batch && t->arena_size - t->used >= READ_RESERVE) {
    ssize_t n = read(t->fd, t->raw, RAW_SIZE);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        t->read_errors++;
        fatal = errno;
      }
      break;
    }
    if (n == 0) break;
    reads++;
    vnet_split(t->raw, (size_t)n, t->scratch, SCRATCH_SIZE, on_frame, t);
  }
  fp_flush();
  fp_count_to_js(t->count);
  size_t used = t->used;
  uint32_t count = t->count;
  if (count > 0) {
    t->frames_read += count;
    t->batches_read++;
    napi_env env = t->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_value callback, self, data, lengths_buffer, lengths, null_value, result;
      void *lengths_data = NULL;
      napi_get_null(env, &null_value);
      if (napi_get_reference_value(env, t->callback, &callback) == napi_ok &&
          napi_get_reference_value(env, t->self, &self) == napi_ok &&
          napi_create_buffer_copy(env, used, t->arena, NULL, &data) == napi_ok &&
          napi_create_arraybuffer(env, count * sizeof(uint32_t), &lengths_data, &lengths_buffer) == napi_ok) {
        memcpy(lengths_data, t->lengths, count * sizeof(uint32_t));
        napi_create_typedarray(env, napi_uint32_array, count, lengths_buffer, 0, &lengths);
        napi_value args[3] = {null_value, data, lengths};
        if (napi_make_callback(env, t->async, self, callback, 3, args, &result) == napi_pending_exception) {
          napi_value exception;
          napi_get_and_clear_last_exception(env, &exception);
          napi_fatal_exception(env, exception);
        }
      }
      napi_close_handle_scope(env, scope);
    }
  }
  /* The callback may have closed the device; t stays allocated until the poll handle's close completes. */
  if (fatal && t->reading && !t->closed) report_error(t, fatal);
}

/* startReading(handle, callback(err, data, lengths), maxBatch?, maxFrameBytes?) */
static napi_value js_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "startReading() needs a device handle and a callback.");
    return NULL;
  }
  tap_device *t = unwrap(env, argv[0], 1);
  if (t == NULL) return NULL;
  napi_valuetype type;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The frame handler must be a function.");
    return NULL;
  }
  if (t->reading) {
    tap_throw(env, "ERR_TAP_STATE", "The TAP device is already being read: stop reading first.");
    return NULL;
  }
  uint32_t max_batch = DEFAULT_MAX_BATCH, max_frame = DEFAULT_MAX_FRAME;
  if (argc > 2 && napi_typeof(env, argv[2], &type) == napi_ok && type == napi_number) {
    napi_get_value_uint32(env, argv[2], &max_batch);
  }
  if (argc > 3 && napi_typeof(env, argv[3], &type) == napi_ok && type == napi_number) {
    napi_get_value_uint32(env, argv[3], &max_frame);
  }
  if (max_batch < 1 || max_batch > MAX_BATCH_LIMIT) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The batch size must be from 1 to 1024 frames.");
    return NULL;
  }
  if (max_frame < 60 || max_frame > DEFAULT_MAX_FRAME) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The largest frame size must be from 60 to 65553 bytes.");
    return NULL;
  }
  size_t arena_size = (size_t)max_batch * TYPICAL_FRAME_ROOM + READ_RESERVE + max_frame;
  if (t->raw == NULL) t->raw = malloc(RAW_SIZE);
  if (t->scratch == NULL) t->scratch = malloc(SCRATCH_SIZE);
  if (t->arena_size != arena_size || t->max_batch != max_batch) {
    uint8_t *arena = malloc(arena_size);
    uint32_t *lengths = malloc((max_batch + EXTRA_FRAMES) * sizeof(uint32_t));
    if (arena == NULL || lengths == NULL || t->raw == NULL || t->scratch == NULL) {
      free(arena);
      free(lengths);
      tap_throw(env, "ERR_TAP_RESOURCES", "Out of memory for the TAP read buffer.");
      return NULL;
    }
    free(t->arena);
    free(t->lengths);
    t->arena = arena;
    t->lengths = lengths;
    t->arena_size = arena_size;
  }
  t->max_batch = max_batch;
  t->max_frame = max_frame;
  if (!t->poll_initialized) {
    uv_loop_t *loop = NULL;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
    int rc = uv_poll_init(loop, &t->poll, t->fd);
    if (rc < 0) {
      tap_throw_errno(env, -rc, TAP_OP_POLL, t->name);
      return NULL;
    }
    t->poll.data = t;
    t->poll_initialized = 1;
  }
  napi_value resource_name;
  napi_create_string_utf8(env, "RingVPN.TapRead", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_reference(env, argv[1], 1, &t->callback) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &t->self) != napi_ok ||
      napi_async_init(env, argv[0], resource_name, &t->async) != napi_ok) {
    t->reading = 1;
    stop_reading(t);
    return NULL;
  }
  int rc = uv_poll_start(&t->poll, UV_READABLE, on_readable);
  t->reading = 1;
  if (rc < 0) {
    stop_reading(t);
    tap_throw_errno(env, -rc, TAP_OP_POLL, t->name);
  }
  return NULL;
}

int tap_fd_of(napi_env env, napi_value handle) {
  tap_device *t = unwrap(env, handle, 1);
  return t == NULL ? -1 : t->fd;
}

static napi_value one_handle_call(napi_env env, napi_callback_info info, int must_be_open, tap_device **out) {
  size_t argc = 1;
  napi_value argv[1];
  *out = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "Missing the device handle.");
    return NULL;
  }
  *out = unwrap(env, argv[0], must_be_open);
  return NULL;
}

static napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  tap_device *t;
  one_handle_call(env, info, 0, &t);
  if (t != NULL) stop_reading(t);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  tap_device *t;
  one_handle_call(env, info, 0, &t);
  if (t != NULL) close_device(t);
  return NULL;
}

/* Whether a pending read keeps the process alive (like a socket's ref/unref). */
static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return NULL;
  tap_device *t = unwrap(env, argv[0], 1);
  bool ref = true;
  if (t == NULL || napi_get_value_bool(env, argv[1], &ref) != napi_ok || !t->poll_initialized) return NULL;
  if (ref) uv_ref((uv_handle_t *)&t->poll);
  else uv_unref((uv_handle_t *)&t->poll);
  return NULL;
}

/* Writes one frame; true if the kernel took it, false if it was dropped (the reason is in stats().lastWriteError). */
static int write_frame(tap_device *t, const uint8_t *data, size_t len) {
  static const uint8_t no_offload[TAP_VNET_HDR_BYTES] = {0};
  struct iovec iov[2] = {{(void *)no_offload, TAP_VNET_HDR_BYTES}, {(void *)data, len}};
  for (;;) {
    ssize_t n = writev(t->fd, iov, 2);
    if (n == (ssize_t)(len + TAP_VNET_HDR_BYTES)) {
      t->frames_written++;
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    t->write_drops++;
    t->last_write_errno = n < 0 ? errno : EMSGSIZE;
    return 0;
  }
}

static int get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value arraybuffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  if (napi_get_typedarray_info(env, value, &type, len, (void **)data, &arraybuffer, &offset) != napi_ok) return 0;
  return type == napi_uint8_array;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "write() needs a device handle and a frame.");
    return NULL;
  }
  tap_device *t = unwrap(env, argv[0], 1);
  if (t == NULL) return NULL;
  uint8_t *data;
  size_t len;
  if (!get_bytes(env, argv[1], &data, &len)) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "A frame must be a Uint8Array or a Buffer.");
    return NULL;
  }
  napi_get_boolean(env, write_frame(t, data, len), &result);
  return result;
}

/* writeBatch(handle, frames[]) -> how many frames the kernel took (the others are counted as drops). */
static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "writeBatch() needs a device handle and an array of frames.");
    return NULL;
  }
  tap_device *t = unwrap(env, argv[0], 1);
  if (t == NULL) return NULL;
  bool is_array = false;
  uint32_t count = 0, written = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "writeBatch() needs an array of frames.");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint8_t *data;
    size_t len;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok) return NULL;
    if (!get_bytes(env, element, &data, &len)) {
      tap_throw(env, "ERR_TAP_ARGUMENT", "Every frame must be a Uint8Array or a Buffer.");
      return NULL;
    }
    written += (uint32_t)write_frame(t, data, len);
  }
  napi_create_uint32(env, written, &result);
  return result;
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  tap_device *t;
  one_handle_call(env, info, 0, &t);
  if (t == NULL) return NULL;
  napi_value obj, last;
  napi_create_object(env, &obj);
  set_number(env, obj, "framesRead", t->frames_read);
  set_number(env, obj, "batchesRead", t->batches_read);
  set_number(env, obj, "readErrors", t->read_errors);
  set_number(env, obj, "framesWritten", t->frames_written);
  set_number(env, obj, "writeDrops", t->write_drops);
  if (t->last_write_errno) napi_create_string_utf8(env, strerror(t->last_write_errno), NAPI_AUTO_LENGTH, &last);
  else napi_get_null(env, &last);
  napi_set_named_property(env, obj, "lastWriteError", last);
  return obj;
}

/* Privileged: creates (or takes over) a TAP device that outlives this process, owned by uid/gid (-1: anyone). */
static napi_value js_create_persistent(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "createPersistent() needs a name, an owner uid and a group gid.");
    return NULL;
  }
  char name[IFNAMSIZ] = {0};
  if (!tap_get_ifname(env, argv[0], name)) return NULL;
  int64_t uid = -1, gid = -1;
  if (napi_get_value_int64(env, argv[1], &uid) != napi_ok || napi_get_value_int64(env, argv[2], &gid) != napi_ok ||
      uid < -1 || uid > 0xfffffffeLL || gid < -1 || gid > 0xfffffffeLL) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The owner uid and gid must be whole numbers (-1 for none).");
    return NULL;
  }
  int fd = open_tap(env, name);
  if (fd < 0) return NULL;
  int failed = 0;
  if ((uid >= 0 && ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0) ||
      (gid >= 0 && ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0) || ioctl(fd, TUNSETPERSIST, 1L) < 0) {
    failed = errno;
  }
  close(fd);
  if (failed) {
    tap_throw_errno(env, failed, TAP_OP_PERSIST, name);
    return NULL;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* Privileged: removes a persistent TAP device (it disappears once no process holds it open). */
static napi_value js_delete_persistent(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "deletePersistent() needs the device name.");
    return NULL;
  }
  char name[IFNAMSIZ] = {0};
  if (!tap_get_ifname(env, argv[0], name)) return NULL;
  int fd = open_tap(env, name);
  if (fd < 0) return NULL;
  int failed = ioctl(fd, TUNSETPERSIST, 0L) < 0 ? errno : 0;
  close(fd);
  if (failed) tap_throw_errno(env, failed, TAP_OP_PERSIST, name);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startReading", NULL, js_start_reading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stopReading", NULL, js_stop_reading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRef", NULL, js_set_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"createPersistent", NULL, js_create_persistent, NULL, NULL, NULL, napi_enumerable, NULL},
      {"deletePersistent", NULL, js_delete_persistent, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMtu", NULL, tap_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMtu", NULL, tap_get_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setUp", NULL, tap_set_up, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMac", NULL, tap_get_mac, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  fp_register(env, exports);
  vnet_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
