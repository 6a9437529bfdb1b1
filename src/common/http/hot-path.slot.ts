import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers a request itself and returns true, or returns false to leave it to Fastify. */
export type HotPathHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The hook between the HTTP server (created in `createApp`, before Nest's DI exists) and the
 * gateway's hot-path dispatcher (an injectable provider that fills the slot when it initialises).
 */
export class HotPathSlot {
  handler?: HotPathHandler;
  /** Set at shutdown: new client-API requests get 503 and `Connection: close` while in-flight ones drain. */
  closing = false;

  dispatch(req: IncomingMessage, res: ServerResponse): boolean {
    return this.handler ? this.handler(req, res) : false;
  }
}
