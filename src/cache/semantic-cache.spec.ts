import { conversationText, quantize, similarity } from './semantic-cache.service';

describe('semantic cache helpers', () => {
  it('quantize + similarity approximate cosine similarity', () => {
    const a = [1, 2, 3, 4];
    const b = [2, 4, 6, 8]; // same direction
    const c = [-1, -2, -3, -4]; // opposite
    const d = [4, -3, 2, -1];
    expect(similarity(quantize(a), quantize(b))).toBeCloseTo(1, 2);
    expect(similarity(quantize(a), quantize(c))).toBeCloseTo(-1, 2);
    const cos = (x: number[], y: number[]): number =>
      x.reduce((s, v, i) => s + v * y[i], 0) / (Math.hypot(...x) * Math.hypot(...y));
    expect(similarity(quantize(a), quantize(d))).toBeCloseTo(cos(a, d), 1);
    expect(similarity(quantize([1, 2]), quantize([1, 2, 3]))).toBe(0);
    expect(Array.from(quantize([0, 0]))).toEqual([0, 0]);
  });

  it('reads the conversation of each dialect, roles marked, ids and signatures left out', () => {
    expect(
      conversationText('openai-chat', {
        model: 'x',
        temperature: 0,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: [{ type: 'text', text: 'Hi there' }] },
          { role: 'tool', tool_call_id: 'call_1', content: '42' },
        ],
      }),
    ).toBe('[system]\nBe brief.\n[user]\nHi there\n[tool]\n42');
    expect(
      conversationText('anthropic', {
        system: 'S',
        messages: [
          { role: 'user', content: [{ type: 'thinking', thinking: 'T', signature: 'sig' }] },
        ],
        max_tokens: 10,
      }),
    ).toBe('S\n[user]\nT');
    expect(conversationText('responses', { instructions: 'I', input: 'Q' })).toBe('I\nQ');
    expect(
      conversationText('gemini', {
        systemInstruction: { parts: [{ text: 'G' }] },
        contents: [{ role: 'user', parts: [{ text: 'Q' }] }],
      }),
    ).toBe('G\n[user]\nQ');
    expect(conversationText('unknown', { messages: ['x'] })).toBe('');
  });
});
