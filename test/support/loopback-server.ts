/**
 * The HTTP server of the test upstreams (fixture and media mocks): keep-alive on 127.0.0.1 at a
 * free port, a 400 for unparsable requests, and a close() that also ends idle and hung sockets.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LoopbackServer {
  server: Server;
  url: string;
  port: number;
  /** True once close() was called (a request cut by it is not an abort). */
  readonly closing: boolean;
  /** Idempotent: stops listening and destroys every open socket. */
  close(): Promise<void>;
}

export async function listenLoopback(onRequest: RequestListener): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  let closing = false;
  let closePromise: Promise<void> | null = null;
  const server = createServer({ keepAlive: true, noDelay: true }, onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (closing) {
      socket.destroy();
    }
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable && !socket.destroyed) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    port,
    get closing() {
      return closing;
    },
    close() {
      if (!closePromise) {
        closing = true;
        closePromise = new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) {
            s.destroy();
          }
          sockets.clear();
        });
      }
      return closePromise;
    },
  };
}
