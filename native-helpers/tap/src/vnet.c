/*
 * TAP devices are opened with IFF_VNET_HDR: each read and write carries a virtio_net_hdr before
 * the Ethernet frame. While the native data path runs, the device also takes TCP segmentation
 * offload (TUNSETOFFLOAD: TUN_F_CSUM | TUN_F_TSO4): the host's TCP stack then hands over one
 * frame of up to 64 KiB per burst instead of one per segment, with the TCP/UDP checksum left
 * partial, and this file turns such a read into ordinary frames with complete checksums (the
 * segments the host would have sent), which is what the rest of the addon and JavaScript see.
 */
#include "tap.h"

#include <linux/virtio_net.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Ones' complement sum of len bytes (network order), added to sum, not folded. */
uint32_t vnet_sum(const uint8_t *p, size_t len, uint32_t sum) {
  uint64_t s = sum;
  while (len >= 8) {
    s += ((uint64_t)rd32(p)) + rd32(p + 4);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    s += rd16(p);
    p += 2;
    len -= 2;
  }
  if (len) s += (uint32_t)p[0] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint32_t)s;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

/*
 * One read (header + frame, `len` bytes in buf) -> frames passed to emit(frame, length, ctx), with
 * complete checksums. `scratch` has room for one frame of the largest segment (MTU + headers).
 * Returns how many frames were emitted (0: dropped as malformed or unsupported).
 */
int vnet_split(uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_size, vnet_emit emit, void *ctx) {
  if (len < sizeof(struct virtio_net_hdr)) return 0;
  struct virtio_net_hdr h;
  memcpy(&h, buf, sizeof h);
  uint8_t *frame = buf + sizeof h;
  size_t flen = len - sizeof h;
  uint8_t gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  if (gso == VIRTIO_NET_HDR_GSO_NONE) {
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      size_t start = h.csum_start, at = (size_t)h.csum_start + h.csum_offset;
      if (start >= flen || at + 2 > flen) return 0;
      uint16_t c = (uint16_t)~fold(vnet_sum(frame + start, flen - start, 0));
      if (c == 0 && h.csum_offset == 6) c = 0xffff; /* UDP: 0 means "no checksum" */
      wr16(frame + at, c);
    }
    emit(frame, flen, ctx);
    return 1;
  }
  if (gso != VIRTIO_NET_HDR_GSO_TCPV4) return 0;
  /* Ethernet + IPv4 + TCP, then the payload cut into gso_size pieces. */
  if (flen < 14 + 20 + 20 || frame[12] != 0x08 || frame[13] != 0x00) return 0;
  uint8_t *ip = frame + 14;
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || flen < 14 + ihl + 20) return 0;
  uint8_t *tcp = ip + ihl;
  size_t thl = (size_t)(tcp[12] >> 4) * 4;
  size_t hdrs = 14 + ihl + thl;
  size_t mss = h.gso_size;
  if (thl < 20 || hdrs > flen || mss == 0 || hdrs + mss > scratch_size) return 0;
  size_t payload = flen - hdrs;
  uint16_t id = rd16(ip + 4);
  uint32_t seq = rd32(tcp + 4);
  uint8_t flags = tcp[13];
  uint32_t src_dst = vnet_sum(ip + 12, 8, 0);
  int n = 0;
  for (size_t off = 0; off < payload || (payload == 0 && n == 0); off += mss) {
    size_t seg = payload - off < mss ? payload - off : mss;
    int last = off + seg >= payload;
    uint8_t *f = scratch;
    memcpy(f, frame, hdrs);
    memcpy(f + hdrs, frame + hdrs + off, seg);
    uint8_t *sip = f + 14, *stcp = sip + ihl;
    wr16(sip + 2, (uint16_t)(ihl + thl + seg));
    wr16(sip + 4, (uint16_t)(id + n));
    wr16(sip + 10, 0);
    wr16(sip + 10, (uint16_t)~fold(vnet_sum(sip, ihl, 0)));
    wr32(stcp + 4, seq + (uint32_t)off);
    uint8_t fl = flags;
    if (!last) fl &= (uint8_t)~0x09; /* FIN and PSH only on the last segment */
    if (n > 0) fl &= (uint8_t)~0x80; /* CWR only on the first */
    stcp[13] = fl;
    wr16(stcp + 16, 0);
    uint32_t sum = src_dst + 6 + (uint32_t)(thl + seg);
    sum = vnet_sum(stcp, thl + seg, sum);
    wr16(stcp + 16, (uint16_t)~fold(sum));
    emit(f, hdrs + seg, ctx);
    n++;
    if (payload == 0) break;
  }
  return n;
}

/* ----- for tests: splitRead(read) -> the frames (Buffers) a read with a virtio_net_hdr becomes ----- */

typedef struct {
  napi_env env;
  napi_value array;
  uint32_t n;
} split_ctx;

static void emit_js(const uint8_t *frame, size_t len, void *ctx) {
  split_ctx *c = (split_ctx *)ctx;
  napi_value b;
  if (napi_create_buffer_copy(c->env, len, frame, NULL, &b) == napi_ok) napi_set_element(c->env, c->array, c->n++, b);
}

static napi_value js_split_read(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t len, offset;
  uint8_t *data;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &len, (void **)&data, &ab, &offset) != napi_ok || type != napi_uint8_array ||
      len > 70000) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "splitRead(bytes) takes a Uint8Array of at most 70000 bytes");
    return NULL;
  }
  static uint8_t copy[70000], scratch[16384];
  memcpy(copy, data, len);
  split_ctx c = {env, NULL, 0};
  napi_create_array(env, &c.array);
  vnet_split(copy, len, scratch, sizeof scratch, emit_js, &c);
  return c.array;
}

void vnet_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {{"splitRead", NULL, js_split_read, NULL, NULL, NULL, napi_enumerable, NULL}};
  napi_define_properties(env, exports, 1, props);
}
