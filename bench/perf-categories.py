#!/usr/bin/env python3
"""Where a daemon's CPU time goes, by category, from `perf script -F comm,pid,tid,ip,sym,dso` output
of a `perf record -a -g` run: AEAD, kernel UDP send/receive, TAP read/write, the addon's C code,
V8. Used by bench/ringvpn-pair --perf. Usage: perf-categories.py PERF_SCRIPT_OUTPUT PID...
"""
import sys, re, collections
# --seconds S --hz H: also print each daemon's share of one core over the S sampled seconds.
args = sys.argv[2:]
seconds = hz = None
if '--seconds' in args:
    i = args.index('--seconds'); seconds = float(args[i + 1]); del args[i:i + 2]
if '--hz' in args:
    i = args.index('--hz'); hz = float(args[i + 1]); del args[i:i + 2]
pids = set(args)
cats = {p: collections.Counter() for p in pids}
tot = collections.Counter()
def classify(frames):
    leaf = frames[0] if frames else ''
    if re.search(r'ChaCha20|chacha|poly1305|Poly1305|EVP_|ossl_|CRYPTO_|OPENSSL_', leaf): return 'AEAD (OpenSSL ChaCha20-Poly1305)'
    stack = ' '.join(frames)
    kern = '[kernel' in leaf
    if kern:
        if re.search(r'__sys_sendmmsg|__sys_sendmsg|udp_sendmsg', stack): return 'kernel: UDP send (sendmmsg, incl. veth + far side softirq)'
        if re.search(r'do_recvmmsg|__sys_recvmmsg|udp_recvmsg', stack): return 'kernel: UDP receive (recvmmsg)'
        if re.search(r'tun_chr_read_iter|tun_do_read', stack): return 'kernel: TAP read'
        if re.search(r'tun_get_user|tun_chr_write_iter', stack): return 'kernel: TAP write (incl. host TCP receive)'
        if re.search(r'do_epoll_wait|ep_poll', stack): return 'kernel: epoll wait / wake-up'
        if re.search(r'schedule|finish_task_switch', stack): return 'kernel: scheduling'
        return 'kernel: other (softirq, timers, page faults)'
    if 'tap.node' in leaf:
        if 'vnet_sum' in leaf: return 'C: checksums of TSO segments'
        return 'C: addon code (parsing, batching, GRO/TSO)'
    if 'strcmp' in leaf and re.search(r'EVP_|ossl_|OSSL_', stack): return 'AEAD: OpenSSL EVP per-call overhead (parameter lookups)'
    if 'memmove' in leaf or 'memcpy' in leaf: return 'libc memcpy'
    if re.search(r'libc_write|libc_read|\bread\b|\bwrite\b|writev|sendmmsg|recvmmsg|sendmsg|recvmsg|sendto|recvfrom|epoll_wait|epoll_pwait|syscall', leaf) and 'libc' in leaf:
        return 'syscall entry/exit (libc stubs)'
    if re.search(r'malloc|free|_int_', leaf) and 'libc' in leaf: return 'malloc / free'
    if re.search(r'/tmp/perf-\d+\.map', leaf): return 'V8 JIT code (JavaScript, WASM AEAD)'
    if re.search(r'Builtins_|v8::|\(node\)|node::|JS:|\.mjs|LazyCompile|Interpreter', leaf): return 'V8 / JavaScript / GC'
    return 'other user space (' + leaf.split()[-1][:30] + ')'
cur_pid=None; frames=[]
def flush():
    if cur_pid in pids:
        c = classify(frames); cats[cur_pid][c]+=1; tot[cur_pid]+=1
for line in open(sys.argv[1], errors='replace'):
    if line and not line[0].isspace() and line.strip():
        flush(); frames=[]
        m = re.match(r'\S+\s+(\d+)/(\d+)', line) or re.match(r'\S+\s+(\d+)', line)
        cur_pid = m.group(1) if m else None
    elif line.strip():
        parts=line.strip().split(None,1)
        frames.append(parts[1] if len(parts)>1 else parts[0])
flush()
for p in args:
    share = f', {100 * tot[p] / (seconds * hz):.0f} % of one core' if seconds and hz else ''
    print(f'== pid {p}: {tot[p]} samples{share}')
    for c,n in cats[p].most_common(): print(f'  {100*n/tot[p]:5.1f} %  {c}')
