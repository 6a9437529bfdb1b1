import type { EventEmitter } from 'node:events';
import type { RoutableConnection } from '@/providers/routing-table';
import type { MediaUnits } from '@/pricing/pricing.types';
import type { Capability } from '@/providers/registry';

/** The non-chat client surfaces (each routed, metered and logged like chat). */
export type MediaSurface = 'embeddings' | 'images' | 'transcription';

/** What one served media request used, in the units it is billed by (the pricing's shape). */
export type MediaUsage = MediaUnits & { inputTokens: number; outputTokens: number };

/** A served answer, already in the client's (OpenAI) shape. */
export interface MediaAnswer {
  body: Buffer | string;
  contentType: string;
  usage: MediaUsage;
}

/** What an operation's upstream exchange gets for one account. */
export interface OperationCall {
  conn: RoutableConnection;
  upstreamModel: string;
  /** Client gone or total timeout: abort the upstream exchange. */
  signal: EventEmitter & { aborted: boolean };
  headersTimeout: number;
  bodyTimeout: number;
  /** `performance.now()` after which the request gives up (long polls stop there). */
  deadline: number;
}

/**
 * A non-chat request (embeddings, images, transcription) run through the chat pipeline's routing:
 * the same keys, policies, combos, account rotation, cooldowns, breakers, usage and metrics; only
 * the upstream exchange differs, and that is `execute`.
 */
export interface Operation {
  surface: MediaSurface;
  capability: Capability;
  /** As the client named it (`provider/model`, alias or combo). */
  model: string;
  /** For the key's TPM/budget admission. */
  estimatedInputTokens: number;
  /** USD the request may cost (images: n × price), reserved against the key's budget. */
  estimatedUsd?: (provider: string, upstreamModel: string) => number | undefined;
  /** The call log's excerpt of the request. */
  summary: string | null;
  /** Identifies a cacheable request (embeddings); undefined = never cached. */
  cacheBody?: Record<string, unknown>;
  /** One upstream exchange; throws UpstreamStatusError for an HTTP failure. */
  execute(call: OperationCall): Promise<MediaAnswer>;
}

/** An upstream HTTP failure, classified and reported like a chat upstream's. */
export class UpstreamStatusError extends Error {
  constructor(
    readonly status: number,
    readonly text: string,
    readonly headers: Record<string, string | string[] | undefined> = {},
  ) {
    super(`upstream status ${status}`);
  }
}
