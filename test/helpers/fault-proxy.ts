import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export interface FaultProxy {
  /** Point a client here instead of at the real server. */
  endpoint: string;
  /** Every chunk, both ways, waits this long (same delay for all, so order is kept). */
  setDelay(ms: number): void;
  /** Drops every open connection and refuses new ones: the server is unreachable. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1 in front of a local server (dynalite, s3rver) that can slow it down or cut
 * it off: the faults a network or a throttled service inflicts, made on demand and on loopback only.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  let delayMs = 0;
  let down = false;
  const open = new Set<Socket>();

  const relay = (from: Socket, to: Socket) =>
    from.on('data', (chunk) => {
      const send = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });

  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setDelay: (ms) => {
      delayMs = ms;
    },
    cut() {
      down = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const socket of open) socket.destroy();
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}
