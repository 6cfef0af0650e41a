/*
 * RingVPN's native data path for established sessions (issue 5): TAP frame -> DATA packet ->
 * sendmmsg, and recvmmsg -> DATA packet -> TAP frame, with no JavaScript per packet.
 *
 * Only the bulk case is handled here; everything else goes to JavaScript unchanged:
 * - outbound: an IPv4 unicast frame from the host's MAC and virtual IP, to the gateway MAC, not a
 *   fragment, not a TCP SYN (JS clamps the MSS), with a valid header checksum, to the virtual IP of
 *   a peer whose current session JavaScript installed in a slot, while the slot's counter is under
 *   its limit and its send deadline has not passed (key updates and rekeys happen in JS, which then
 *   installs the new keys);
 * - inbound: a DATA packet for a slot's local session index, from the slot's endpoint, in the slot's
 *   current receive epoch, new to the replay window, that authenticates, whose content is a PAYLOAD
 *   holding an overlay DATAGRAM message holding a well-formed IPv4 packet from the peer's virtual IP
 *   to ours (not a TCP SYN). Anything else (and every non-DATA datagram) is handed to JavaScript,
 *   which checks it again from the start (the replay window is committed here only for packets
 *   delivered here).
 *
 * The wire format is the one of src/overlay/links (session.ts, packet-codec.ts): a 14-byte header
 * (version 1, type DATA, receiver index u32, epoch u8, counter u56), then ChaCha20-Poly1305-IETF
 * (key 32, nonce = 4 zero bytes || counter u64 big-endian, AAD = the header) of
 * [0x04 PAYLOAD][0x01 overlay wire version][0x18 DATAGRAM][IPv4 packet], then the 16-byte tag.
 * The AEAD is OpenSSL's (the node binary exports it; headers from Node's include directory).
 *
 * A slot's send counter, limits, receive counters and replay window live in a JS ArrayBuffer that
 * the Session shares (same thread: libuv callbacks and JS never run at the same time), so both
 * paths use one counter sequence and one replay window:
 *   f64[0] send counter, f64[1] send limit (exclusive), f64[2] send deadline (Date.now() ms),
 *   f64[3] packets received here, f64[4] packets sent here, f64[5] last receive (Date.now() ms),
 *   f64[6] replay window highest counter (-1: none), u32[16..80] the 65 replay bitmap words.
 */
#define _GNU_SOURCE
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/ioctl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define FP_SLOTS 64
#define FP_BATCH 64
#define FP_BUF 2048
/* Datagrams per recvmmsg; each buffer holds the largest datagram, or a coalesced run of them (UDP_GRO). */
#define FP_RBATCH 16
#define FP_RBUF 65536
/* UDP GSO: at most this many datagrams per send (the kernel's UDP_MAX_SEGMENTS is 64) and bytes in all. */
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000
#define DATA_HEADER 14
#define TAG 16
#define INNER_PREFIX 3 /* content type PAYLOAD, overlay wire version, DATAGRAM */
#define REPLAY_WORDS 65
#define REPLAY_SIZE ((REPLAY_WORDS - 1) * 32)
#define SHARED_BYTES (16 * 4 + REPLAY_WORDS * 4)
#define MAX_SAFE_HI 0x1fffff /* hi 24 bits of the counter so that hi * 2^32 + lo < 2^53 */

typedef struct {
  int active;
  uint32_t local_index, remote_index;
  struct sockaddr_in peer;
  uint32_t peer_vip;
  uint8_t send_key[32], recv_key[32];
  uint8_t send_epoch, recv_epoch;
  double *shared;
  uint32_t *replay;
  napi_ref shared_ref;
} fp_slot;

typedef struct {
  int started;
  napi_env env;
  int tap_fd;
  int udp_fd; /* a dup of the node's IPv4 UDP socket */
  uv_poll_t poll;
  int poll_initialized;
  napi_ref callback;
  napi_async_context async;
  uint32_t our_vip, mtu;
  uint8_t gw_mac[6], host_mac[6];
  int configured;
  int paused; /* an opener's TTL is set on the socket: send nothing natively */
  int offload; /* TUNSETOFFLOAD succeeded */
  EVP_CIPHER_CTX *enc, *dec;
  fp_slot slots[FP_SLOTS];
  /* outbound batch */
  struct mmsghdr out_msgs[FP_BATCH];
  struct iovec out_iov[FP_BATCH];
  struct sockaddr_in out_addr[FP_BATCH];
  uint8_t out_buf[FP_BATCH][FP_BUF];
  unsigned out_count;
  /* outbound as UDP GSO sends: runs of same-size datagrams to one endpoint, one sendmsg each */
  int udp_gso;
  struct mmsghdr gso_msgs[FP_BATCH];
  struct iovec gso_iov[FP_BATCH];
  uint8_t gso_cmsg[FP_BATCH][CMSG_SPACE(sizeof(uint16_t))];
  /* inbound batch (UDP_GRO on the socket: a buffer may hold a run of datagrams of one size) */
  int udp_gro;
  struct mmsghdr in_msgs[FP_RBATCH];
  struct iovec in_iov[FP_RBATCH];
  struct sockaddr_in in_addr[FP_RBATCH];
  uint8_t in_cmsg[FP_RBATCH][CMSG_SPACE(sizeof(int))];
  uint8_t in_buf[FP_RBATCH][FP_RBUF];
  uint8_t js_data[FP_RBATCH * FP_RBUF];
  uint32_t js_len[FP_RBATCH * GSO_MAX_SEGS], js_addr[FP_RBATCH * GSO_MAX_SEGS * 2];
  uint8_t frame[FP_BUF + 64]; /* virtio_net_hdr, Ethernet header, IPv4 packet */
  /* receive offload (GRO): consecutive TCP segments of one flow from one recvmmsg batch become one write */
  uint8_t gro[TAP_VNET_HDR_BYTES + 14 + 65536];
  unsigned gro_len; /* bytes of the IPv4 packet held (0: none) */
  unsigned gro_segs, gro_mss, gro_thl;
  uint32_t gro_next_seq;
  int gro_closed;
  double gro_writes, gro_segments;
  /* counters */
  double out_fast, out_to_js, in_fast, in_to_js, send_errors, send_batches, recv_batches, tap_write_drops, auth_failed;
} fastpath;

static fastpath *fp = NULL;

static inline uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

static int ipv4_checksum_ok(const uint8_t *ip, unsigned ihl) {
  uint32_t sum = 0;
  for (unsigned i = 0; i < ihl; i += 2) sum += rd16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

/* ----- AEAD (also exported to JS for the interoperability tests) ----- */

static void make_nonce(uint8_t nonce[12], double counter) {
  uint64_t c = (uint64_t)counter;
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(c >> (56 - 8 * i));
}

/* Seals header(14, already written at out) + prefix + body into out; returns the packet length or -1. */
static int seal_into(EVP_CIPHER_CTX *ctx, const uint8_t key[32], double counter, uint8_t *out, const uint8_t *prefix,
                     int prefix_len, const uint8_t *body, int body_len) {
  uint8_t nonce[12];
  int n = 0, total = DATA_HEADER;
  make_nonce(nonce, counter);
  if (EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1) return -1;
  if (EVP_EncryptUpdate(ctx, NULL, &n, out, DATA_HEADER) != 1) return -1;
  if (prefix_len > 0) {
    if (EVP_EncryptUpdate(ctx, out + total, &n, prefix, prefix_len) != 1) return -1;
    total += n;
  }
  if (EVP_EncryptUpdate(ctx, out + total, &n, body, body_len) != 1) return -1;
  total += n;
  if (EVP_EncryptFinal_ex(ctx, out + total, &n) != 1) return -1;
  total += n;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, out + total) != 1) return -1;
  return total + TAG;
}

/* Opens packet (header + ciphertext + tag) into out; returns the plaintext length or -1 if it does not authenticate. */
static int open_into(EVP_CIPHER_CTX *ctx, const uint8_t key[32], double counter, const uint8_t *packet, int len, uint8_t *out) {
  uint8_t nonce[12];
  int n = 0, total = 0, ct_len = len - DATA_HEADER - TAG;
  if (ct_len < 0) return -1;
  make_nonce(nonce, counter);
  if (EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1) return -1;
  if (EVP_DecryptUpdate(ctx, NULL, &n, packet, DATA_HEADER) != 1) return -1;
  if (EVP_DecryptUpdate(ctx, out, &n, packet + DATA_HEADER, ct_len) != 1) return -1;
  total = n;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, (void *)(packet + len - TAG)) != 1) return -1;
  if (EVP_DecryptFinal_ex(ctx, out + total, &n) != 1) return -1;
  return total + n;
}

static void write_header(uint8_t *out, uint32_t receiver, uint8_t epoch, double counter) {
  uint64_t c = (uint64_t)counter;
  out[0] = 1; /* PROTOCOL_VERSION */
  out[1] = 3; /* PacketType.DATA */
  wr32(out + 2, receiver);
  out[6] = epoch;
  out[7] = (uint8_t)(c >> 48);
  out[8] = (uint8_t)(c >> 40);
  out[9] = (uint8_t)(c >> 32);
  wr32(out + 10, (uint32_t)c);
}

static double read_counter(const uint8_t *p) {
  uint32_t hi = ((uint32_t)p[7] << 16) | ((uint32_t)p[8] << 8) | p[9];
  if (hi > MAX_SAFE_HI) return -1;
  return (double)hi * 4294967296.0 + (double)rd32(p + 10);
}

/* ----- the replay window of replay-window.ts, on the shared memory ----- */

static int replay_check(const fp_slot *s, double counter) {
  double highest = s->shared[6];
  if (counter > highest) return 1;
  if (counter + REPLAY_SIZE <= highest) return 0;
  uint64_t c = (uint64_t)counter;
  return (s->replay[(c / 32) % REPLAY_WORDS] & (1u << (c % 32))) == 0;
}

static int replay_commit(fp_slot *s, double counter) {
  double highest = s->shared[6];
  uint64_t c = (uint64_t)counter;
  if (counter > highest) {
    int64_t current = highest < 0 ? -1 : (int64_t)((uint64_t)highest / 32);
    int64_t target = (int64_t)(c / 32);
    int64_t steps = target - current < REPLAY_WORDS ? target - current : REPLAY_WORDS;
    for (int64_t i = 1; i <= steps; i++) s->replay[(current + i) % REPLAY_WORDS] = 0;
    s->shared[6] = counter;
  } else if (counter + REPLAY_SIZE <= highest) {
    return 0;
  }
  uint32_t *word = &s->replay[(c / 32) % REPLAY_WORDS];
  uint32_t mask = 1u << (c % 32);
  if (*word & mask) return 0;
  *word |= mask;
  return 1;
}

/* ----- outbound ----- */

/* Sends msgs[0..count) with sendmmsg; a message the kernel refuses is dropped (counted) and the rest go on. */
static int send_all(struct mmsghdr *msgs, unsigned count) {
  unsigned sent = 0;
  int refused_gso = 0;
  while (sent < count) {
    int n = sendmmsg(fp->udp_fd, msgs + sent, count - sent, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (fp->udp_gso && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP) && msgs[sent].msg_hdr.msg_controllen > 0) refused_gso = 1;
      /* EAGAIN (socket buffer full) or an ICMP error of an earlier send: drop this one, go on. */
      fp->send_errors++;
      sent++;
      continue;
    }
    sent += (unsigned)n;
  }
  return refused_gso;
}

static void flush_out(void) {
  if (fp == NULL || fp->out_count == 0) return;
  unsigned count = fp->out_count;
  fp->out_count = 0;
  fp->send_batches++;
  if (!fp->udp_gso) {
    send_all(fp->out_msgs, count);
    return;
  }
  /* Runs of datagrams to one endpoint, all of the first one's size but the last (which may be shorter). */
  unsigned groups = 0;
  for (unsigned i = 0; i < count;) {
    size_t size = fp->out_iov[i].iov_len;
    unsigned j = i + 1;
    size_t bytes = size;
    while (j < count && j - i < GSO_MAX_SEGS && fp->out_iov[j].iov_len <= size && bytes + fp->out_iov[j].iov_len <= GSO_MAX_BYTES &&
           fp->out_addr[j].sin_addr.s_addr == fp->out_addr[i].sin_addr.s_addr && fp->out_addr[j].sin_port == fp->out_addr[i].sin_port) {
      bytes += fp->out_iov[j].iov_len;
      j++;
      if (fp->out_iov[j - 1].iov_len < size) break;
    }
    struct msghdr *m = &fp->gso_msgs[groups].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &fp->out_addr[i];
    m->msg_namelen = sizeof(struct sockaddr_in);
    m->msg_iov = &fp->out_iov[i];
    m->msg_iovlen = j - i;
    if (j - i > 1) {
      m->msg_control = fp->gso_cmsg[groups];
      m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      struct cmsghdr *c = CMSG_FIRSTHDR(m);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)size;
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    groups++;
    i = j;
  }
  if (send_all(fp->gso_msgs, groups)) fp->udp_gso = 0; /* this kernel or path refuses UDP GSO: plain sends from now on */
}

void fp_flush(void) { flush_out(); }

static fp_slot *slot_for_vip(uint32_t vip) {
  for (int i = 0; i < FP_SLOTS; i++) {
    fp_slot *s = &fp->slots[i];
    if (s->active && s->peer_vip == vip) return s;
  }
  return NULL;
}

static fp_slot *slot_for_index(uint32_t index) {
  for (int i = 0; i < FP_SLOTS; i++) {
    fp_slot *s = &fp->slots[i];
    if (s->active && s->local_index == index) return s;
  }
  return NULL;
}

static const uint8_t INNER[INNER_PREFIX] = {0x04, 0x01, 0x18};

/* A frame the host wrote into the TAP device: 1 if it was sent here, 0 if JavaScript must handle it. */
int fp_outbound(int tap_fd, const uint8_t *frame, size_t len) {
  if (fp == NULL || !fp->started || !fp->configured || fp->paused || tap_fd != fp->tap_fd || len < 14 + 20) return 0;
  if (memcmp(frame, fp->gw_mac, 6) != 0 || memcmp(frame + 6, fp->host_mac, 6) != 0) return 0;
  if (frame[12] != 0x08 || frame[13] != 0x00) return 0;
  const uint8_t *ip = frame + 14;
  if ((ip[0] >> 4) != 4) return 0;
  unsigned ihl = (ip[0] & 0x0f) * 4u;
  unsigned total = rd16(ip + 2);
  if (ihl < 20 || total < ihl || total > len - 14 || total > fp->mtu) return 0;
  if ((rd16(ip + 6) & 0x3fff) != 0) return 0; /* a fragment */
  if (rd32(ip + 12) != fp->our_vip) return 0;
  if (ip[9] == 6 && (total < ihl + 14 || (ip[ihl + 13] & 0x02) != 0)) return 0; /* TCP SYN: the MSS clamp is in JS */
  if (!ipv4_checksum_ok(ip, ihl)) return 0;
  fp_slot *s = slot_for_vip(rd32(ip + 16));
  if (s == NULL) return 0;
  double counter = s->shared[0];
  if (counter >= s->shared[1] || now_ms() >= s->shared[2]) return 0;
  if (DATA_HEADER + INNER_PREFIX + total + TAG > FP_BUF) return 0;
  unsigned k = fp->out_count;
  uint8_t *out = fp->out_buf[k];
  write_header(out, s->remote_index, s->send_epoch, counter);
  /* The plaintext in place (one contiguous AEAD call: OpenSSL's wide ChaCha20 path for all of it). */
  memcpy(out + DATA_HEADER, INNER, INNER_PREFIX);
  memcpy(out + DATA_HEADER + INNER_PREFIX, ip, total);
  int n = seal_into(fp->enc, s->send_key, counter, out, NULL, 0, out + DATA_HEADER, (int)(INNER_PREFIX + total));
  if (n < 0) return 0;
  s->shared[0] = counter + 1;
  s->shared[4] += 1;
  fp->out_iov[k].iov_base = out;
  fp->out_iov[k].iov_len = (size_t)n;
  fp->out_addr[k] = s->peer;
  memset(&fp->out_msgs[k].msg_hdr, 0, sizeof(struct msghdr));
  fp->out_msgs[k].msg_hdr.msg_name = &fp->out_addr[k];
  fp->out_msgs[k].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
  fp->out_msgs[k].msg_hdr.msg_iov = &fp->out_iov[k];
  fp->out_msgs[k].msg_hdr.msg_iovlen = 1;
  fp->out_count = k + 1;
  fp->out_fast++;
  if (fp->out_count == FP_BATCH) flush_out();
  return 1;
}

void fp_count_to_js(uint32_t frames) {
  if (fp != NULL) fp->out_to_js += frames;
}

/* ----- inbound ----- */

/* Writes one IPv4 packet that sits right after a virtio_net_hdr and an Ethernet header at buf. */
static void tap_write_packet(uint8_t *buf, unsigned ip_len, const struct virtio_net_hdr *h) {
  memcpy(buf, h, sizeof *h);
  uint8_t *frame = buf + TAP_VNET_HDR_BYTES;
  memcpy(frame, fp->host_mac, 6);
  memcpy(frame + 6, fp->gw_mac, 6);
  frame[12] = 0x08;
  frame[13] = 0x00;
  size_t wlen = TAP_VNET_HDR_BYTES + 14 + ip_len;
  for (;;) {
    ssize_t w = write(fp->tap_fd, buf, wlen);
    if (w < 0 && errno == EINTR) continue;
    if (w != (ssize_t)wlen) fp->tap_write_drops++;
    break;
  }
}

/* Authenticated end to end by the AEAD, so the kernel need not verify the TCP/UDP checksum again. */
static void write_single(uint8_t *buf, unsigned ip_len) {
  struct virtio_net_hdr h;
  memset(&h, 0, sizeof h);
  h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  tap_write_packet(buf, ip_len, &h);
}

static void gro_flush(void) {
  if (fp->gro_len == 0) return;
  uint8_t *ip = fp->gro + TAP_VNET_HDR_BYTES + 14;
  if (fp->gro_segs > 1) {
    /* One TCPv4 GSO packet: total length and header checksum fixed, TCP checksum left partial (the
       pseudo-header sum), as a NIC with receive offload would hand it to the stack. */
    unsigned tcp_len = fp->gro_len - 20;
    ip[2] = (uint8_t)(fp->gro_len >> 8);
    ip[3] = (uint8_t)fp->gro_len;
    ip[10] = ip[11] = 0;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += rd16(ip + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
    uint32_t ps = 0;
    for (int i = 12; i < 20; i += 2) ps += rd16(ip + i);
    ps += 6 + tcp_len;
    while (ps >> 16) ps = (ps & 0xffff) + (ps >> 16);
    ip[20 + 16] = (uint8_t)(ps >> 8);
    ip[20 + 17] = (uint8_t)ps;
    struct virtio_net_hdr h;
    memset(&h, 0, sizeof h);
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.hdr_len = (uint16_t)(14 + 20 + fp->gro_thl);
    h.gso_size = (uint16_t)fp->gro_mss;
    h.csum_start = 14 + 20;
    h.csum_offset = 16;
    tap_write_packet(fp->gro, fp->gro_len, &h);
    fp->gro_writes++;
    fp->gro_segments += fp->gro_segs;
  } else {
    write_single(fp->gro, fp->gro_len);
  }
  fp->gro_len = 0;
}

/* A TCP segment that may start or join a coalesced packet: no IP options, not a fragment, ACK or ACK|PSH with data. */
static int gro_candidate(const uint8_t *ip, unsigned total, unsigned *thl, unsigned *payload) {
  if (ip[9] != 6 || (ip[0] & 0x0f) != 5 || (rd16(ip + 6) & 0x3fff) != 0 || total < 40) return 0;
  const uint8_t *tcp = ip + 20;
  unsigned t = (unsigned)(tcp[12] >> 4) * 4;
  if (t < 20 || 20 + t >= total) return 0;
  if (tcp[13] != 0x10 && tcp[13] != 0x18) return 0;
  *thl = t;
  *payload = total - 20 - t;
  return 1;
}

/* Delivers one authenticated IPv4 packet (at ip, total bytes) to the host, coalescing TCP segments. */
static void deliver(uint8_t *buf, const uint8_t *ip, unsigned total) {
  unsigned thl, payload;
  int cand = gro_candidate(ip, total, &thl, &payload);
  if (cand && fp->gro_len > 0 && !fp->gro_closed) {
    const uint8_t *held = fp->gro + TAP_VNET_HDR_BYTES + 14;
    const uint8_t *tcp = ip + 20, *htcp = held + 20;
    if (thl == fp->gro_thl && payload <= fp->gro_mss && fp->gro_len + payload <= 65535 &&
        ip[1] == held[1] && memcmp(ip + 6, held + 6, 3) == 0 && memcmp(ip + 12, held + 12, 8) == 0 && /* tos, DF, ttl, addresses */
        memcmp(tcp, htcp, 4) == 0 && rd32(tcp + 4) == fp->gro_next_seq && memcmp(tcp + 8, htcp + 8, 4) == 0 && /* ports, seq, ack */
        memcmp(tcp + 14, htcp + 14, 2) == 0 && memcmp(tcp + 20, htcp + 20, thl - 20) == 0) { /* window, options */
      memcpy(fp->gro + TAP_VNET_HDR_BYTES + 14 + fp->gro_len, ip + 20 + thl, payload);
      fp->gro_len += payload;
      fp->gro_segs++;
      fp->gro_next_seq += payload;
      if (tcp[13] & 0x08) {
        fp->gro[TAP_VNET_HDR_BYTES + 14 + 20 + 13] |= 0x08;
        fp->gro_closed = 1;
      }
      if (payload < fp->gro_mss) fp->gro_closed = 1;
      return;
    }
  }
  gro_flush();
  if (cand) {
    memcpy(fp->gro + TAP_VNET_HDR_BYTES + 14, ip, total);
    fp->gro_len = total;
    fp->gro_segs = 1;
    fp->gro_mss = payload;
    fp->gro_thl = thl;
    fp->gro_next_seq = rd32(ip + 24) + payload;
    fp->gro_closed = (ip[33] & 0x08) != 0;
    return;
  }
  write_single(buf, total);
}

static int inbound(const uint8_t *pkt, int len, const struct sockaddr_in *from) {
  if (!fp->configured || len < DATA_HEADER + INNER_PREFIX + 20 + TAG || pkt[0] != 1 || pkt[1] != 3) return 0;
  fp_slot *s = slot_for_index(rd32(pkt + 2));
  if (s == NULL) return 0;
  if (from->sin_addr.s_addr != s->peer.sin_addr.s_addr || from->sin_port != s->peer.sin_port) return 0; /* roaming: JS */
  if (pkt[6] != s->recv_epoch) return 0;
  double counter = read_counter(pkt);
  if (counter < 0 || !replay_check(s, counter)) return 0;
  /* Plaintext placed so that the IPv4 packet starts right after the virtio_net_hdr and Ethernet header. */
  uint8_t *plain = fp->frame + TAP_VNET_HDR_BYTES + 14 - INNER_PREFIX;
  int n = open_into(fp->dec, s->recv_key, counter, pkt, len, plain);
  if (n < 0) {
    fp->auth_failed++;
    return 0;
  }
  if (n < INNER_PREFIX + 20 || memcmp(plain, INNER, INNER_PREFIX) != 0) return 0;
  const uint8_t *ip = plain + INNER_PREFIX;
  unsigned ip_len = (unsigned)n - INNER_PREFIX;
  if ((ip[0] >> 4) != 4) return 0;
  unsigned ihl = (ip[0] & 0x0f) * 4u;
  unsigned total = rd16(ip + 2);
  if (ihl < 20 || total < ihl || total > ip_len) return 0;
  if (rd32(ip + 16) != fp->our_vip || rd32(ip + 12) != s->peer_vip) return 0;
  if (ip[9] == 6 && (total < ihl + 14 || (ip[ihl + 13] & 0x02) != 0)) return 0; /* TCP SYN: JS clamps */
  if (!replay_commit(s, counter)) return 0;
  s->shared[3] += 1;
  s->shared[5] = now_ms();
  deliver(fp->frame, ip, total);
  fp->in_fast++;
  return 1;
}

static void call_js(uint8_t *data, size_t used, uint32_t *lengths, uint32_t *addrs, uint32_t count) {
  napi_env env = fp->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, buffer, lab, lengths_v, aab, addrs_v, result;
  void *lp = NULL, *ap = NULL;
  napi_get_global(env, &global);
  if (napi_get_reference_value(env, fp->callback, &callback) == napi_ok && callback != NULL &&
      napi_create_buffer_copy(env, used, data, NULL, &buffer) == napi_ok &&
      napi_create_arraybuffer(env, count * 4, &lp, &lab) == napi_ok &&
      napi_create_arraybuffer(env, count * 8, &ap, &aab) == napi_ok) {
    memcpy(lp, lengths, count * 4);
    memcpy(ap, addrs, count * 8);
    napi_create_typedarray(env, napi_uint32_array, count, lab, 0, &lengths_v);
    napi_create_typedarray(env, napi_uint32_array, count * 2, aab, 0, &addrs_v);
    napi_value args[3] = {buffer, lengths_v, addrs_v};
    if (napi_make_callback(env, fp->async, global, callback, 3, args, &result) == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_udp_readable(uv_poll_t *handle, int status, int events) {
  if (fp == NULL || !fp->started) return;
  for (int round = 0; round < 8; round++) {
    for (int i = 0; i < FP_RBATCH; i++) {
      fp->in_iov[i].iov_base = fp->in_buf[i];
      fp->in_iov[i].iov_len = FP_RBUF;
      memset(&fp->in_msgs[i].msg_hdr, 0, sizeof(struct msghdr));
      fp->in_msgs[i].msg_hdr.msg_name = &fp->in_addr[i];
      fp->in_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
      fp->in_msgs[i].msg_hdr.msg_iov = &fp->in_iov[i];
      fp->in_msgs[i].msg_hdr.msg_iovlen = 1;
      fp->in_msgs[i].msg_hdr.msg_control = fp->in_cmsg[i];
      fp->in_msgs[i].msg_hdr.msg_controllen = sizeof fp->in_cmsg[i];
    }
    int n = recvmmsg(fp->udp_fd, fp->in_msgs, FP_RBATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    fp->recv_batches++;
    /* The datagrams JS must see, copied together for one call. */
    size_t used = 0;
    uint32_t count = 0;
    for (int i = 0; i < n; i++) {
      struct msghdr *m = &fp->in_msgs[i].msg_hdr;
      size_t len = fp->in_msgs[i].msg_len;
      const struct sockaddr_in *from = &fp->in_addr[i];
      if ((m->msg_flags & MSG_TRUNC) != 0) continue; /* larger than any UDP datagram: cannot happen */
      size_t seg = len;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int v;
          memcpy(&v, CMSG_DATA(c), sizeof v);
          if (v > 0) seg = (size_t)v;
        }
      }
      for (size_t off = 0; off < len; off += seg) {
        size_t dlen = len - off < seg ? len - off : seg;
        uint8_t *d = fp->in_buf[i] + off;
        if (from->sin_family == AF_INET && dlen <= FP_BUF && inbound(d, (int)dlen, from)) continue;
        if (count >= FP_RBATCH * GSO_MAX_SEGS) break;
        memcpy(fp->js_data + used, d, dlen);
        used += dlen;
        fp->js_len[count] = (uint32_t)dlen;
        fp->js_addr[2 * count] = ntohl(from->sin_addr.s_addr);
        fp->js_addr[2 * count + 1] = ntohs(from->sin_port);
        count++;
      }
    }
    gro_flush();
    fp->in_to_js += count;
    if (count > 0) call_js(fp->js_data, used, fp->js_len, fp->js_addr, count);
    if (fp == NULL || !fp->started) return;
    flush_out(); /* JS may have answered: keep the order */
    if (n < FP_RBATCH) return;
  }
}

/* ----- JS API ----- */

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static int arg_u32(napi_env env, napi_value v, uint32_t *out) { return napi_get_value_uint32(env, v, out) == napi_ok; }

static int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, (void **)data, &ab, &offset) != napi_ok) return 0;
  return type == napi_uint8_array;
}

static void release_slot(napi_env env, fp_slot *s) {
  if (s->shared_ref != NULL) napi_delete_reference(env, s->shared_ref);
  OPENSSL_cleanse(s->send_key, 32);
  OPENSSL_cleanse(s->recv_key, 32);
  memset(s, 0, sizeof *s);
}

/* fpStart(tapFd?, udpFd, callback(data, lengths, addrs)) -- tapFd via the device handle (tap.c gives it). */
extern int tap_fd_of(napi_env env, napi_value handle);

static napi_value js_fp_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "fpStart() needs a TAP handle, a UDP descriptor and a callback.");
    return NULL;
  }
  if (fp != NULL && fp->started) {
    tap_throw(env, "ERR_TAP_STATE", "The native data path is already running.");
    return NULL;
  }
  int tap_fd = tap_fd_of(env, argv[0]);
  if (tap_fd < 0) return NULL;
  uint32_t udp_fd;
  if (!arg_u32(env, argv[1], &udp_fd)) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "The UDP descriptor must be a number.");
    return NULL;
  }
  if (fp == NULL) {
    fp = calloc(1, sizeof *fp);
    if (fp == NULL) {
      tap_throw(env, "ERR_TAP_RESOURCES", "Out of memory for the native data path.");
      return NULL;
    }
  }
  if (fp->enc == NULL) {
    fp->enc = EVP_CIPHER_CTX_new();
    fp->dec = EVP_CIPHER_CTX_new();
    if (fp->enc == NULL || fp->dec == NULL || EVP_EncryptInit_ex(fp->enc, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex(fp->dec, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1) {
      tap_throw(env, "ERR_TAP_RESOURCES", "OpenSSL's ChaCha20-Poly1305 is not available.");
      return NULL;
    }
  }
  int dup_fd = fcntl(udp_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    tap_throw_errno(env, errno, TAP_OP_POLL, "udp");
    return NULL;
  }
  fp->env = env;
  fp->tap_fd = tap_fd;
  fp->udp_fd = dup_fd;
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &fp->poll, dup_fd);
  if (rc < 0) {
    close(dup_fd);
    tap_throw_errno(env, -rc, TAP_OP_POLL, "udp");
    return NULL;
  }
  fp->poll.data = fp;
  fp->poll_initialized = 1;
  napi_value resource_name;
  napi_create_string_utf8(env, "RingVPN.FastPath", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_reference(env, argv[2], 1, &fp->callback);
  napi_async_init(env, NULL, resource_name, &fp->async);
  uv_poll_start(&fp->poll, UV_READABLE, on_udp_readable);
  uv_unref((uv_handle_t *)&fp->poll); /* the node's own socket keeps the process alive */
  fp->started = 1;
  /* UDP segmentation and receive offload on the node's socket (kernel 4.18 / 5.0); without them, one datagram per call. */
  int one = 1;
  fp->udp_gro = setsockopt(dup_fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  fp->udp_gso = 1; /* turned off at the first refusal */
  if (getenv("RINGVPN_NO_UDP_OFFLOAD") != NULL) {
    int zero = 0;
    setsockopt(dup_fd, SOL_UDP, UDP_GRO, &zero, sizeof zero);
    fp->udp_gro = fp->udp_gso = 0;
  }
  /* TCP segmentation offload: the host hands over 64 KiB bursts, cut here (vnet.c). Without it, plain frames. */
  fp->offload = ioctl(tap_fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) == 0;
  return undefined_value(env);
}

static void on_fp_poll_closed(uv_handle_t *h) {
  fastpath *old = (fastpath *)h->data;
  if (old->enc) EVP_CIPHER_CTX_free(old->enc);
  if (old->dec) EVP_CIPHER_CTX_free(old->dec);
  free(old);
}

static napi_value js_fp_stop(napi_env env, napi_callback_info info) {
  if (fp == NULL) return undefined_value(env);
  if (fp->started) flush_out();
  for (int i = 0; i < FP_SLOTS; i++) release_slot(env, &fp->slots[i]);
  if (fp->callback) napi_delete_reference(env, fp->callback);
  if (fp->async) napi_async_destroy(env, fp->async);
  if (fp->offload) ioctl(fp->tap_fd, TUNSETOFFLOAD, 0UL);
  if (fp->udp_gro) {
    int zero = 0; /* node:dgram reads the socket again: one datagram per read */
    setsockopt(fp->udp_fd, SOL_UDP, UDP_GRO, &zero, sizeof zero);
  }
  fastpath *old = fp;
  fp = NULL;
  old->started = 0;
  if (old->udp_fd > 0) close(old->udp_fd);
  if (old->poll_initialized) {
    uv_poll_stop(&old->poll);
    uv_close((uv_handle_t *)&old->poll, on_fp_poll_closed);
  } else {
    on_fp_poll_closed((uv_handle_t *)&old->poll);
  }
  return undefined_value(env);
}

/* fpConfigure(ourVip, gatewayMac, hostMac, mtu) */
static napi_value js_fp_configure(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || fp == NULL || argc < 4) return NULL;
  uint32_t vip, mtu;
  uint8_t *gw, *host;
  size_t gl, hl;
  if (!arg_u32(env, argv[0], &vip) || !arg_bytes(env, argv[1], &gw, &gl) || !arg_bytes(env, argv[2], &host, &hl) ||
      !arg_u32(env, argv[3], &mtu) || gl != 6 || hl != 6) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "fpConfigure(vip, gatewayMac, hostMac, mtu)");
    return NULL;
  }
  fp->our_vip = vip;
  memcpy(fp->gw_mac, gw, 6);
  memcpy(fp->host_mac, host, 6);
  fp->mtu = mtu;
  fp->configured = vip != 0;
  return undefined_value(env);
}

/* fpPause(bool): while true nothing is sent natively (an opener's TTL is set on the socket). */
static napi_value js_fp_pause(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool paused = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || fp == NULL || argc < 1) return NULL;
  napi_get_value_bool(env, argv[0], &paused);
  if (paused) flush_out();
  fp->paused = paused;
  return undefined_value(env);
}

/*
 * fpSetSlot(i, localIndex, remoteIndex, ip, port, peerVip, sendKey, sendEpoch, recvKey, recvEpoch, shared)
 * shared: a Uint8Array of at least SHARED_BYTES over an 8-byte-aligned ArrayBuffer offset.
 */
static napi_value js_fp_set_slot(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || fp == NULL) return NULL;
  uint32_t i, li, ri, ip, port, vip, se, re;
  uint8_t *sk, *rk, *shared;
  size_t skl, rkl, shl;
  if (argc < 11 || !arg_u32(env, argv[0], &i) || i >= FP_SLOTS || !arg_u32(env, argv[1], &li) || !arg_u32(env, argv[2], &ri) ||
      !arg_u32(env, argv[3], &ip) || !arg_u32(env, argv[4], &port) || port > 65535 || !arg_u32(env, argv[5], &vip) ||
      !arg_bytes(env, argv[6], &sk, &skl) || skl != 32 || !arg_u32(env, argv[7], &se) || !arg_bytes(env, argv[8], &rk, &rkl) ||
      rkl != 32 || !arg_u32(env, argv[9], &re) || !arg_bytes(env, argv[10], &shared, &shl) || shl < SHARED_BYTES ||
      ((uintptr_t)shared & 7) != 0) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "fpSetSlot(i, localIndex, remoteIndex, ip, port, peerVip, sendKey, sendEpoch, recvKey, recvEpoch, shared)");
    return NULL;
  }
  fp_slot *s = &fp->slots[i];
  napi_ref ref = NULL;
  if (napi_create_reference(env, argv[10], 1, &ref) != napi_ok) return NULL;
  release_slot(env, s);
  s->local_index = li;
  s->remote_index = ri;
  s->peer.sin_family = AF_INET;
  s->peer.sin_addr.s_addr = htonl(ip);
  s->peer.sin_port = htons((uint16_t)port);
  s->peer_vip = vip;
  memcpy(s->send_key, sk, 32);
  memcpy(s->recv_key, rk, 32);
  s->send_epoch = (uint8_t)se;
  s->recv_epoch = (uint8_t)re;
  s->shared = (double *)shared;
  s->replay = (uint32_t *)(shared + 64);
  s->shared_ref = ref;
  s->active = 1;
  return undefined_value(env);
}

static napi_value js_fp_clear_slot(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t i;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || fp == NULL || argc < 1 || !arg_u32(env, argv[0], &i) ||
      i >= FP_SLOTS)
    return NULL;
  flush_out(); /* packets sealed with this slot's keys leave before the keys go */
  release_slot(env, &fp->slots[i]);
  return undefined_value(env);
}

static void set_num(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value js_fp_stats(napi_env env, napi_callback_info info) {
  napi_value obj;
  if (fp == NULL) {
    napi_get_null(env, &obj);
    return obj;
  }
  napi_create_object(env, &obj);
  set_num(env, obj, "outFast", fp->out_fast);
  set_num(env, obj, "outToJs", fp->out_to_js);
  set_num(env, obj, "inFast", fp->in_fast);
  set_num(env, obj, "inToJs", fp->in_to_js);
  set_num(env, obj, "sendErrors", fp->send_errors);
  set_num(env, obj, "sendBatches", fp->send_batches);
  set_num(env, obj, "recvBatches", fp->recv_batches);
  set_num(env, obj, "tapWriteDrops", fp->tap_write_drops);
  set_num(env, obj, "authFailed", fp->auth_failed);
  set_num(env, obj, "tso", fp->offload);
  set_num(env, obj, "udpGso", fp->udp_gso);
  set_num(env, obj, "udpGro", fp->udp_gro);
  set_num(env, obj, "groWrites", fp->gro_writes);
  set_num(env, obj, "groSegments", fp->gro_segments);
  return obj;
}

/* ----- the AEAD alone, for tests: sealData(key, receiverIndex, epoch, counter, plaintext), openData(key, packet) ----- */

static EVP_CIPHER_CTX *test_ctx(int enc) {
  static EVP_CIPHER_CTX *e = NULL, *d = NULL;
  EVP_CIPHER_CTX **c = enc ? &e : &d;
  if (*c == NULL) {
    *c = EVP_CIPHER_CTX_new();
    if (*c == NULL) return NULL;
    if ((enc ? EVP_EncryptInit_ex(*c, EVP_chacha20_poly1305(), NULL, NULL, NULL)
             : EVP_DecryptInit_ex(*c, EVP_chacha20_poly1305(), NULL, NULL, NULL)) != 1)
      return NULL;
  }
  return *c;
}

static napi_value js_seal_data(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  uint8_t *key, *plain, *out;
  size_t kl, pl;
  uint32_t ri, epoch;
  double counter;
  if (argc < 5 || !arg_bytes(env, argv[0], &key, &kl) || kl != 32 || !arg_u32(env, argv[1], &ri) || !arg_u32(env, argv[2], &epoch) ||
      napi_get_value_double(env, argv[3], &counter) != napi_ok || counter < 0 || counter > 9007199254740991.0 ||
      !arg_bytes(env, argv[4], &plain, &pl) || pl > 65507) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "sealData(key, receiverIndex, epoch, counter, plaintext)");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = test_ctx(1);
  if (napi_create_buffer(env, DATA_HEADER + pl + TAG, (void **)&out, &result) != napi_ok || ctx == NULL) return NULL;
  write_header(out, ri, (uint8_t)epoch, counter);
  if (seal_into(ctx, key, counter, out, NULL, 0, plain, (int)pl) < 0) {
    tap_throw(env, "ERR_TAP_IO", "sealing failed");
    return NULL;
  }
  return result;
}

static napi_value js_open_data(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  uint8_t *key, *packet;
  size_t kl, len;
  if (argc < 2 || !arg_bytes(env, argv[0], &key, &kl) || kl != 32 || !arg_bytes(env, argv[1], &packet, &len)) {
    tap_throw(env, "ERR_TAP_ARGUMENT", "openData(key, packet)");
    return NULL;
  }
  if (len < DATA_HEADER + TAG || len > 65507 || read_counter(packet) < 0) {
    napi_get_null(env, &result);
    return result;
  }
  uint8_t *tmp = malloc(len);
  EVP_CIPHER_CTX *ctx = test_ctx(0);
  int n = tmp == NULL || ctx == NULL ? -1 : open_into(ctx, key, read_counter(packet), packet, (int)len, tmp);
  if (n < 0 || napi_create_buffer_copy(env, (size_t)n, tmp, NULL, &result) != napi_ok) napi_get_null(env, &result);
  free(tmp);
  return result;
}

void fp_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"fpStart", NULL, js_fp_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fpStop", NULL, js_fp_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fpConfigure", NULL, js_fp_configure, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fpPause", NULL, js_fp_pause, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fpSetSlot", NULL, js_fp_set_slot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fpClearSlot", NULL, js_fp_clear_slot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fpStats", NULL, js_fp_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealData", NULL, js_seal_data, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openData", NULL, js_open_data, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
