import { isIP } from "node:net";

/**
 * Addresses an upstream may not point at unless private targets are allowed:
 * link-local ranges, where cloud metadata services answer (169.254.169.254,
 * fd00:ec2::254) and which a route's stored key must never be sent to. Loopback and
 * LAN addresses stay allowed: a local llama-server is the common upstream.
 */
export function isMetadataOrLinkLocal(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "").toLowerCase();
  const family = isIP(ip);
  if (family === 4) return ip.startsWith("169.254.");
  if (family !== 6) return false;
  const embedded = embeddedIPv4(ip);
  if (embedded) return embedded.startsWith("169.254.");
  const groups = expandIPv6(ip);
  if (!groups) return false;
  if (((groups[0] ?? 0) & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  // AWS's IPv6 metadata address fd00:ec2::254.
  return groups.join(":") === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(":");
}

/** Metadata host names that resolve to a metadata service inside clouds. */
const METADATA_NAMES = new Set(["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"]);

export function isMetadataHostName(hostname: string): boolean {
  return METADATA_NAMES.has(hostname.toLowerCase().replace(/\.$/, ""));
}

/** The eight 16-bit groups of an IPv6 literal (with an optional dotted IPv4 tail). */
function expandIPv6(ip: string): number[] | null {
  let text = ip.split("%")[0] ?? ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const parts = dotted[1].split(".").map(Number);
    const hi = ((parts[0] ?? 0) << 8) | (parts[1] ?? 0);
    const lo = ((parts[2] ?? 0) << 8) | (parts[3] ?? 0);
    text = `${text.slice(0, -dotted[1].length)}${hi.toString(16)}:${lo.toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail !== undefined && tail ? tail.split(":") : [];
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? left.length !== 8 : missing < 0) return null;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  return groups.some((g) => Number.isNaN(g)) ? null : groups;
}

/** An IPv4 address carried inside an IPv6 one: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96). */
function embeddedIPv4(ip: string): string | null {
  const g = expandIPv6(ip);
  if (!g) return null;
  const zeroHead = g.slice(0, 5).every((x) => x === 0);
  const mapped = zeroHead && (g[5] === 0xffff || g[5] === 0);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return null;
  const hi = g[6] ?? 0;
  const lo = g[7] ?? 0;
  if (mapped && g[5] === 0 && hi === 0) return null; // ::, ::1 and friends are not IPv4
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}
