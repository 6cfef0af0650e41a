import { addressToBytes, addressToHex } from '../overlay/address.js';
import { blake2b } from '../overlay/crypto.js';
import type { Logger } from '../overlay/log.js';
import { createCryptoRandom } from '../overlay/real/crypto-random.js';
import { createSystemClock } from '../overlay/real/system-clock.js';
import { parseEndpoint } from '../overlay/transport.js';
import type { NodeStatus } from '../node-host/status-snapshot.js';
import { NodeHost } from '../node-host/node-host.js';
import { AddressClaim } from './address-claim.js';
import { InterfaceAddresses } from './interface-address.js';
import { fileLeaseStore } from './lease-file.js';
import { formatIpv4, localUnicastMac, parseIpv4 } from './packets/addresses.js';
import { formatSubnet, subnetContains } from './subnet.js';
import { NativeDataPath } from './native-data-path.js';
import { MAX_HOST_FRAME_BYTES, TapBridge } from './tap-bridge.js';
import { TapDevice } from './tap-device.js';
import type { VpnSettings } from './vpn-config.js';
import { TUNNEL_MTU } from './vpn-mtu.js';
import { removePidFile, writePidFile } from './vpn-pid-file.js';

/** Frames per TAP read batch: one event-loop wake-up hands the bridge up to this many. */
const TAP_BATCH = 64;

/**
 * `ringvpn up` in one object: the overlay node (NodeHost: identity, UDP, control socket), the TAP
 * device (created here, MTU set, brought up), the address claim and the interface address that
 * follows it, and the bridge between them. `stop` undoes everything in reverse order: the bridge
 * stops, the address is removed, the TAP device closed (it was not persistent, so it disappears),
 * the node leaves the ring. The claim's DHT record is left to run out, so a restart within the
 * lease gets the same address.
 */
export class VpnHost {
  private stopping: Promise<void> | null = null;
  /** The bulk packets in C (native-data-path.ts); null when unavailable or turned off (RINGVPN_NATIVE_DATA_PATH=0). */
  private nativePath: NativeDataPath | null = null;

  private constructor(
    readonly host: NodeHost,
    readonly tap: TapDevice,
    readonly bridge: TapBridge,
    readonly claim: AddressClaim,
    private readonly addresses: InterfaceAddresses,
    private readonly settings: VpnSettings,
    private readonly log: Logger,
  ) {}

  static async start(settings: VpnSettings, log: Logger): Promise<VpnHost> {
    // Tests only: key updates every RINGVPN_TEST_KEY_UPDATE_MS (default 2 minutes), to exercise the hand-over with the native path.
    const keyUpdateMs = Number(process.env.RINGVPN_TEST_KEY_UPDATE_MS ?? '');
    const host = await NodeHost.start({
      ...(Number.isInteger(keyUpdateMs) && keyUpdateMs >= 100 ? { overlay: { link: { rekeyAfterMs: keyUpdateMs } } } : {}),
      stateDir: settings.stateDir,
      port: settings.port,
      listenHost: settings.listen,
      bootstraps: [...settings.bootstraps],
      networkName: settings.network,
      log,
      // The TAP's own addresses are never advertised: the overlay would try to run through itself.
      excludeEndpoint: (e) => {
        const ip = parseIpv4(parseEndpoint(e)?.host ?? '');
        return ip !== undefined && subnetContains(settings.subnet, ip);
      },
    });
    let tap: TapDevice | undefined;
    try {
      tap = TapDevice.open(settings.tap);
      tap.setMtu(TUNNEL_MTU);
      tap.up();
    } catch (error) {
      tap?.close();
      await host.stop();
      throw error;
    }
    const node = host.node;
    const clock = createSystemClock();
    // The node's own network id: a lab network's (from its name) or a group's (its id), so that
    // the address records of one network never mix with another's.
    const networkIdHex = Buffer.from(node.networkId).toString('hex');
    const gatewayMac = localUnicastMac(blake2b(5, addressToBytes(node.address)));
    const vpnLog = log.child('vpn');
    const random = createCryptoRandom();
    const bridge = new TapBridge(
      { networkIdHex, subnet: settings.subnet, gatewayMac, hostMac: tap.mac(), tunnelMtu: TUNNEL_MTU },
      { node, tap, clock, random, log: vpnLog },
    );
    const claim = new AddressClaim(
      { networkIdHex, subnet: settings.subnet, ...(settings.vip !== undefined ? { preferred: settings.vip } : {}) },
      { dht: node.dht, self: node.address, clock, random, leases: fileLeaseStore(settings.stateDir), log: vpnLog },
    );
    const addresses = new InterfaceAddresses(tap.name, settings.subnet.prefixLength);
    const vpn = new VpnHost(host, tap, bridge, claim, addresses, settings, vpnLog);
    claim.onChange((ip) => vpn.addressChanged(ip));
    tap.onFrames(
      (frames) => bridge.onFrames(frames),
      (error) => vpnLog.error('TAP device error', { reason: error.message }),
      { maxBatch: TAP_BATCH, maxFrameBytes: MAX_HOST_FRAME_BYTES + 4 },
    );
    if (process.env.RINGVPN_NATIVE_DATA_PATH !== '0') {
      vpn.nativePath = NativeDataPath.start({
        addon: tap.native.addon,
        tap: tap.native.handle,
        transport: host.transport,
        links: node.links,
        bridge,
        gatewayMac,
        tunnelMtu: TUNNEL_MTU,
        clock,
        log: vpnLog,
      });
    }
    host.extendStatus((s) => vpn.extendStatus(s));
    claim.start();
    writePidFile(settings.stateDir);
    vpnLog.info('virtual LAN up', { tap: tap.name, subnet: formatSubnet(settings.subnet), mtu: TUNNEL_MTU, peer: addressToHex(node.address) });
    return vpn;
  }

  /** The status snapshot with this node's virtual IP and each peer's (when known). */
  extendStatus(s: NodeStatus): NodeStatus {
    const vip = this.claim.address;
    const resolver = this.bridge.resolver;
    return {
      ...s,
      vip: vip === undefined ? null : formatIpv4(vip),
      peers: s.peers.map((p) => {
        const peerVip = resolver.vipOf(BigInt(`0x${p.address}`));
        return { ...p, vip: peerVip === undefined ? null : formatIpv4(peerVip) };
      }),
      vpn: {
        tap: this.tap.name,
        subnet: formatSubnet(this.settings.subnet),
        mtu: TUNNEL_MTU,
        bridge: { ...this.bridge.stats, drops: { ...this.bridge.stats.drops }, filterDrops: { ...this.bridge.filter.drops }, toHost: { ...this.bridge.hostStats } },
        resolver: { ...resolver.stats },
        claim: { ...this.claim.stats },
        dhcp: this.bridge.dhcpCounters === undefined ? null : { ...this.bridge.dhcpCounters },
        tapDevice: this.tap.isClosed ? null : this.tap.stats(),
        nativePath: this.nativePath?.stats() ?? null,
      },
    } as NodeStatus;
  }

  private addressChanged(ip: number | undefined): void {
    this.bridge.setAddress(ip);
    this.nativePath?.requestSync();
    if (this.stopping !== null) return;
    this.addresses.set(ip).then(
      () => this.log.info(ip === undefined ? 'virtual address removed from the TAP device' : 'virtual address set on the TAP device', { vip: ip === undefined ? null : formatIpv4(ip), tap: this.tap.name }),
      (error: unknown) => this.log.error('could not set the virtual address on the TAP device', { reason: (error as Error).message }),
    );
  }

  /** Stops everything this host set up, in reverse order. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.claim.stop();
      this.nativePath?.stop();
      this.bridge.stop();
      this.tap.stopReading();
      await this.addresses.removeAll();
      this.tap.close();
      await this.host.stop();
      removePidFile(this.settings.stateDir);
      this.log.info('virtual LAN down', { tap: this.tap.name });
    })();
    return this.stopping;
  }
}
