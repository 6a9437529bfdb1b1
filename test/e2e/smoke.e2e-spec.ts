import OpenAI from 'openai';
import { useGateway } from '../support/fixtures';
import { addMockNode } from '../support/gateway-client';

describe('smoke', () => {
  const { gw, mock } = useGateway();

  it('serves a chat completion through a node', async () => {
    await addMockNode(gw, 'mock', mock.baseUrl);
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
