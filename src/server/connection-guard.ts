// Bounds what connections cost before their client has shown a credential. Every TCP
// connection counts as unauthenticated from accept until a request on it passes
// authentication with a credential (public endpoints do not count). Such connections are
// limited per source address (the newest beyond the limit is closed at once) and in total
// (the oldest connection of the address holding the most is closed to make room), so a flood
// of connections that never send a ClientHello or a request holds a bounded number of
// descriptors, and a real client still gets through: its address has room, and it holds
// fewer pending connections than any flooding address. (A flood from more addresses than the
// total limit, each with a single connection, competes with it on age alone.) The TLS handshake time itself is bounded by the server's
// handshakeTimeout; an idle connection after it by headersTimeout and keepAliveTimeout.
import type { Socket } from "node:net";
import type { Counter, Gauge } from "prom-client";

export interface ConnectionLimits {
  /** Unauthenticated connections in total. */
  maxUnauthenticated: number;
  /** Unauthenticated connections from one source address. */
  maxUnauthenticatedPerAddress: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxUnauthenticated: 1024,
  maxUnauthenticatedPerAddress: 64,
};

export interface ConnectionMetrics {
  refused: Counter<"reason">;
  unauthenticated: Gauge;
}

/** An IPv4 client on a dual-stack socket is the same address as over IPv4. */
function sourceAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? "unknown";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

function connectionKey(socket: Socket): string {
  return `${sourceAddress(socket)}|${socket.remotePort ?? 0}`;
}

export class ConnectionGuard {
  /** Unauthenticated connections by key (address and port), to find them from a TLS socket. */
  private readonly pending = new Map<string, Socket>();
  /** The same, by source address, each oldest first (a Set keeps insertion order). */
  private readonly byAddress = new Map<string, Set<Socket>>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly metrics?: ConnectionMetrics,
  ) {}

  /** For the server's "connection" event (the TCP socket, before any TLS). */
  admit(socket: Socket): void {
    const address = sourceAddress(socket);
    let mine = this.byAddress.get(address);
    if ((mine?.size ?? 0) >= this.limits.maxUnauthenticatedPerAddress) {
      this.metrics?.refused.inc({ reason: "per-address" });
      socket.destroy();
      return;
    }
    if (this.pending.size >= this.limits.maxUnauthenticated) this.evict();
    if (mine === undefined) this.byAddress.set(address, (mine = new Set()));
    mine.add(socket);
    this.pending.set(connectionKey(socket), socket);
    this.metrics?.unauthenticated.set(this.pending.size);
    socket.once("close", () => this.forget(socket));
  }

  /** A request on this connection (the TLS socket or the TCP one) passed authentication. */
  trust(socket: Socket): void {
    const admitted = this.pending.get(connectionKey(socket));
    if (admitted !== undefined) this.forget(admitted);
  }

  /** Number of unauthenticated connections held now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Makes room by closing the oldest connection of the address holding the most: a flood
   * pays for itself, and a client with one connection in its handshake is the last to go.
   */
  private evict(): void {
    let heaviest: Set<Socket> | undefined;
    for (const sockets of this.byAddress.values()) {
      if (heaviest === undefined || sockets.size > heaviest.size) heaviest = sockets;
    }
    const oldest = heaviest?.values().next().value;
    if (oldest === undefined) return;
    this.metrics?.refused.inc({ reason: "total" });
    this.forget(oldest);
    oldest.destroy();
  }

  private forget(socket: Socket): void {
    const key = connectionKey(socket);
    if (this.pending.get(key) !== socket) return;
    this.pending.delete(key);
    const address = sourceAddress(socket);
    const mine = this.byAddress.get(address);
    mine?.delete(socket);
    if (mine?.size === 0) this.byAddress.delete(address);
    this.metrics?.unauthenticated.set(this.pending.size);
  }
}
