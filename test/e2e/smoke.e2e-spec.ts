import OpenAI from 'openai';
import { startTestApp, type TestApp } from '../support/app';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';

describe('smoke', () => {
  let gw: TestApp;
  let mock: MockUpstream;
  beforeAll(async () => {
    mock = await startMockUpstream();
    gw = await startTestApp();
  });
  afterAll(async () => {
    await gw?.close();
    await mock?.close();
  });

  it('serves a chat completion through a node', async () => {
    const h = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    const n = await fetch(`${gw.url}/api/provider-nodes`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ name: 'mock', prefix: 'mock', baseUrl: mock.baseUrl }),
    });
    const node = (await n.json()) as { node: { id: string } };
    expect(n.status).toBe(201);
    const c = await fetch(`${gw.url}/api/providers`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ provider: node.node.id, name: 'a', apiKey: 'sk-up' }),
    });
    expect(c.status).toBe(201);
    const client = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const r = await client.chat.completions.create({
      model: 'mock/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0].message.content).toBe(mock.reply);
    const s = await client.chat.completions.create({
      model: 'mock/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    for await (const ch of s) {
      text += ch.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe(mock.reply);
  });
});
