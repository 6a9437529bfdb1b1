/**
 * An OpenAI-compatible embeddings endpoint answering hashed bag-of-words vectors, for the semantic
 * cache tests: the same words in another case or punctuation embed identically, a few changed
 * words stay close, another question is far. Counts its embedding calls.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BowEmbedder {
  /** Base URL for a node (`…/v1`). */
  url: string;
  calls(): number;
  close(): Promise<void>;
}

const DIM = 64;

/** Hashed bag of words: lower-cased words, punctuation dropped. */
function bow(text: string): number[] {
  const v = new Array<number>(DIM).fill(0);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 0;
    for (const c of w) {
      h = (h * 31 + c.charCodeAt(0)) >>> 0;
    }
    v[h % DIM] += 1;
  }
  return v;
}

export async function startBowEmbedder(): Promise<BowEmbedder> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST') {
        // model discovery of the new connection
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'bow', object: 'model' }] }));
        return;
      }
      calls++;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        input: string | string[];
      };
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: inputs.map((t, index) => ({ object: 'embedding', index, embedding: bow(t) })),
          model: 'bow',
          usage: { prompt_tokens: 5, total_tokens: 5 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls: () => calls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
