import {
  MAX_REF_EXPANSIONS,
  fromGeminiSchema,
  sanitizeGeminiSchema,
} from '@/gateway/dialects/gemini/schema';

// Schemas are walked key by key; typing every JSON Schema shape here adds nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** The keywords of Gemini's `Schema` (minus `default`, which the sanitiser drops on purpose). */
const GEMINI_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'items',
  'minimum',
  'maximum',
]);
const GEMINI_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);
const GEMINI_FORMATS: Record<string, string[]> = {
  string: ['enum', 'date-time'],
  number: ['float', 'double'],
  integer: ['int32', 'int64'],
};

/**
 * Throws when `s` (at `path`) is outside what Gemini accepts: unknown keywords, a type that is not
 * one name, non-string enums or enums on non-string types, formats Gemini does not know, arrays
 * without `items`, `required` naming a property that does not exist.
 */
function checkGeminiSubset(s: unknown, path = '$'): void {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) {
    throw new Error(`${path}: not a schema object`);
  }
  const o = s as Obj;
  for (const k of Object.keys(o)) {
    if (!GEMINI_KEYS.has(k)) {
      throw new Error(`${path}: keyword ${k} is not in Gemini's subset`);
    }
  }
  if (o.type !== undefined && !(typeof o.type === 'string' && GEMINI_TYPES.has(o.type))) {
    throw new Error(`${path}.type: ${JSON.stringify(o.type)}`);
  }
  if (o.enum !== undefined) {
    if (o.type !== 'string' || !o.enum.every((v: unknown) => typeof v === 'string')) {
      throw new Error(`${path}.enum: only string enums on string schemas`);
    }
  }
  if (o.format !== undefined && !(GEMINI_FORMATS[o.type as string] ?? []).includes(o.format)) {
    throw new Error(`${path}.format: ${o.format} on ${o.type}`);
  }
  if (o.type === 'array') {
    if (o.items === undefined) {
      throw new Error(`${path}: array without items`);
    }
    checkGeminiSubset(o.items, `${path}.items`);
  }
  if (o.properties !== undefined) {
    for (const [k, v] of Object.entries(o.properties as Obj)) {
      checkGeminiSubset(v, `${path}.properties.${k}`);
    }
  }
  for (const r of (o.required ?? []) as string[]) {
    if (!o.properties || !(r in o.properties)) {
      throw new Error(`${path}.required: ${r} is not a property`);
    }
  }
  (o.anyOf ?? []).forEach((m: unknown, i: number) => checkGeminiSubset(m, `${path}.anyOf[${i}]`));
}

const clean = (schema: unknown): Obj => {
  const out = sanitizeGeminiSchema(schema);
  checkGeminiSubset(out);
  return out;
};

describe('checkGeminiSubset (the test oracle)', () => {
  it.each([
    [{ type: 'object', additionalProperties: false }, /additionalProperties/],
    [{ type: ['string', 'null'] }, /type/],
    [{ type: 'integer', enum: [1, 2] }, /enum/],
    [{ type: 'string', format: 'email' }, /format/],
    [{ type: 'array' }, /without items/],
    [{ type: 'object', properties: {}, required: ['x'] }, /required/],
  ])('rejects %j', (schema, why) => {
    expect(() => checkGeminiSubset(schema)).toThrow(why);
  });
});

describe(sanitizeGeminiSchema.name, () => {
  it('drops $schema, $id, $comment, additionalProperties, default and examples at every level', () => {
    const out = clean({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.com/weather.json',
      $comment: 'generated',
      type: 'object',
      additionalProperties: false,
      properties: {
        city: { type: 'string', default: 'Paris', examples: ['Paris'], $comment: 'x' },
        options: {
          type: 'object',
          additionalProperties: { type: 'string' },
          properties: { verbose: { type: 'boolean', default: false } },
        },
      },
      required: ['city'],
    });
    expect(out).toStrictEqual({
      type: 'object',
      properties: {
        city: { type: 'string' },
        options: { type: 'object', properties: { verbose: { type: 'boolean' } } },
      },
      required: ['city'],
    });
  });

  it('drops other keywords outside the subset and keeps the ones Gemini has', () => {
    const out = clean({
      type: 'object',
      title: 'Search',
      description: 'Search options',
      patternProperties: { '^x-': {} },
      unevaluatedProperties: false,
      'x-internal': true,
      not: { required: ['a'] },
      minProperties: 1,
      properties: {
        q: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[a-z]+$', example: 'cats' },
        n: { type: 'integer', minimum: 1, maximum: 50, exclusiveMaximum: 51, multipleOf: 1 },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true },
      },
    });
    expect(out).toStrictEqual({
      type: 'object',
      title: 'Search',
      description: 'Search options',
      minProperties: 1,
      properties: {
        q: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[a-z]+$', example: 'cats' },
        n: { type: 'integer', minimum: 1, maximum: 50 },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
      },
    });
  });

  it('turns const into a single-value enum', () => {
    expect(clean({ const: 'celsius' })).toStrictEqual({ type: 'string', enum: ['celsius'] });
    expect(clean({ type: 'string', const: 'v1', description: 'Version' })).toStrictEqual({
      type: 'string',
      enum: ['v1'],
      description: 'Version',
    });
  });

  it('keeps string enums, stringifies scalar members, and moves enums of other types to the description', () => {
    expect(clean({ type: 'string', enum: ['a', 1, true] })).toStrictEqual({
      type: 'string',
      enum: ['a', '1', 'true'],
    });
    expect(clean({ enum: ['low', 'high', null] })).toStrictEqual({
      type: 'string',
      enum: ['low', 'high'],
      nullable: true,
    });
    expect(clean({ type: 'integer', enum: [1, 2, 3], description: 'Level.' })).toStrictEqual({
      type: 'integer',
      description: 'Level. Allowed values: 1, 2, 3.',
    });
    expect(clean({ type: 'integer', const: 3 })).toStrictEqual({
      type: 'integer',
      description: 'Allowed values: 3.',
    });
  });

  it.each([
    ['string', 'date-time', true],
    ['string', 'enum', false], // without an enum it says nothing
    ['string', 'email', false],
    ['string', 'uri', false],
    ['string', 'uuid', false],
    ['string', 'int32', false],
    ['number', 'float', true],
    ['number', 'double', true],
    ['integer', 'int64', true],
    ['integer', 'date-time', false],
  ])('on a %s, keeps format %s: %p', (type, format, kept) => {
    const out = clean({ type, format });
    expect(out).toStrictEqual(kept ? { type, format } : { type });
  });

  it('keeps format enum next to an enum', () => {
    expect(clean({ type: 'string', format: 'enum', enum: ['a', 'b'] })).toStrictEqual({
      type: 'string',
      format: 'enum',
      enum: ['a', 'b'],
    });
  });

  it('inlines local $ref into $defs and definitions, nested, with the keywords next to the $ref winning', () => {
    const out = clean({
      type: 'object',
      $defs: {
        Unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'A unit' },
        Place: {
          type: 'object',
          properties: { city: { type: 'string' }, unit: { $ref: '#/$defs/Unit' } },
          required: ['city'],
        },
      },
      definitions: { Day: { type: 'string', format: 'date-time' } },
      properties: {
        place: { $ref: '#/$defs/Place', description: 'Where' },
        when: { $ref: '#/definitions/Day' },
        unit: { $ref: '#/$defs/Place/properties/unit' },
      },
    });
    expect(out).toStrictEqual({
      type: 'object',
      properties: {
        place: {
          type: 'object',
          description: 'Where',
          properties: {
            city: { type: 'string' },
            unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'A unit' },
          },
          required: ['city'],
        },
        when: { type: 'string', format: 'date-time' },
        // A pointer into a definition reaches the raw `$ref` there, then its target.
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'A unit' },
      },
    });
  });

  it('resolves JSON-pointer escapes and chains of references', () => {
    const out = clean({
      $defs: { 'a/b': { $ref: '#/$defs/c~0d' }, 'c~d': { type: 'number' } },
      type: 'object',
      properties: { x: { $ref: '#/$defs/a~1b' } },
    });
    expect(out.properties.x).toStrictEqual({ type: 'number' });
  });

  it('cuts a recursive reference on its own path into a free-form value, and terminates', () => {
    const out = clean({
      type: 'object',
      $defs: {
        Node: {
          type: 'object',
          description: 'A tree node',
          properties: {
            name: { type: 'string' },
            children: { type: 'array', items: { $ref: '#/$defs/Node' } },
            parent: { $ref: '#/$defs/Node', description: 'The parent' },
          },
          required: ['name'],
        },
      },
      properties: { root: { $ref: '#/$defs/Node' } },
    });
    expect(out.properties.root).toStrictEqual({
      type: 'object',
      description: 'A tree node',
      properties: {
        name: { type: 'string' },
        children: { type: 'array', items: { type: 'object', description: 'A tree node' } },
        parent: { type: 'object', description: 'The parent' },
      },
      required: ['name'],
    });
  });

  it('a root that refers to itself is expanded once', () => {
    const out = clean({
      type: 'object',
      properties: { next: { $ref: '#' }, value: { type: 'integer' } },
    });
    expect(out).toStrictEqual({
      type: 'object',
      properties: {
        next: {
          type: 'object',
          properties: { next: { type: 'object' }, value: { type: 'integer' } },
        },
        value: { type: 'integer' },
      },
    });
  });

  it('bounds the work on mutually recursive definitions with a wide fan-out', () => {
    const names = ['A', 'B', 'C', 'D', 'E', 'F', 'G'];
    const $defs: Obj = {};
    for (const n of names) {
      $defs[n] = {
        type: 'object',
        properties: Object.fromEntries(
          names.map((m) => [m.toLowerCase(), { $ref: `#/$defs/${m}` }]),
        ),
      };
    }
    const out = clean({ $defs, $ref: '#/$defs/A' });
    const refsExpanded = JSON.stringify(out).split('"properties"').length - 1;
    expect(refsExpanded).toBeLessThanOrEqual(MAX_REF_EXPANSIONS + 1);
    expect(out.type).toBe('object');
  });

  it('replaces remote or broken references with a free-form object', () => {
    expect(
      clean({
        type: 'object',
        properties: {
          a: { $ref: 'https://example.com/schema.json', description: 'Remote' },
          b: { $ref: '#/$defs/Missing' },
        },
      }),
    ).toStrictEqual({
      type: 'object',
      properties: { a: { type: 'object', description: 'Remote' }, b: { type: 'object' } },
    });
  });

  it("turns type ['string', 'null'] into type 'string' with nullable", () => {
    expect(clean({ type: ['string', 'null'] })).toStrictEqual({ type: 'string', nullable: true });
    expect(clean({ type: ['null', 'integer'], minimum: 0 })).toStrictEqual({
      type: 'integer',
      minimum: 0,
      nullable: true,
    });
    expect(clean({ type: ['string'] })).toStrictEqual({ type: 'string' });
  });

  it('turns several types into an anyOf of each', () => {
    expect(clean({ type: ['string', 'integer', 'null'], description: 'Id' })).toStrictEqual({
      anyOf: [{ type: 'string' }, { type: 'integer' }],
      description: 'Id',
      nullable: true,
    });
  });

  it('flattens anyOf / oneOf with a single non-null member, marking it nullable', () => {
    expect(clean({ anyOf: [{ type: 'string' }, { type: 'null' }] })).toStrictEqual({
      type: 'string',
      nullable: true,
    });
    expect(clean({ oneOf: [{ type: 'number', minimum: 0 }] })).toStrictEqual({
      type: 'number',
      minimum: 0,
    });
    // pydantic's Optional[Model] with a default
    expect(
      clean({
        $defs: { Point: { type: 'object', properties: { x: { type: 'number' } } } },
        type: 'object',
        properties: {
          point: {
            anyOf: [{ $ref: '#/$defs/Point' }, { type: 'null' }],
            default: null,
            title: 'Point',
            description: 'Where',
          },
        },
      }).properties.point,
    ).toStrictEqual({
      type: 'object',
      properties: { x: { type: 'number' } },
      title: 'Point',
      description: 'Where',
      nullable: true,
    });
  });

  it('keeps several alternatives as anyOf, oneOf included', () => {
    expect(
      clean({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }),
    ).toStrictEqual({ anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] });
  });

  it('keeps the outer structure when alternatives only add constraints to it', () => {
    expect(
      clean({
        type: 'object',
        properties: { a: { type: 'string' }, b: { type: 'string' } },
        anyOf: [{ required: ['a'] }, { required: ['b'] }],
      }),
    ).toStrictEqual({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'string' } },
    });
  });

  it('merges allOf members', () => {
    expect(
      clean({
        $defs: {
          Base: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        },
        allOf: [
          { $ref: '#/$defs/Base' },
          { properties: { name: { type: 'string' } }, required: ['name', 'ghost'] },
        ],
        description: 'Both',
      }),
    ).toStrictEqual({
      type: 'object',
      description: 'Both',
      properties: { id: { type: 'string' }, name: { type: 'string' } },
      required: ['id', 'name'],
    });
  });

  it('keeps required only for properties that exist', () => {
    expect(
      clean({
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city', 'country', 'city', 7],
      }),
    ).toStrictEqual({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    });
    expect(clean({ type: 'object', required: ['a'] })).toStrictEqual({ type: 'object' });
  });

  it('gives arrays without items a free-form item schema, and reads tuple forms as a union', () => {
    expect(clean({ type: 'array' })).toStrictEqual({ type: 'array', items: {} });
    expect(
      clean({ type: 'array', prefixItems: [{ type: 'number' }, { type: 'string' }] }),
    ).toStrictEqual({
      type: 'array',
      items: { anyOf: [{ type: 'number' }, { type: 'string' }] },
    });
    expect(clean({ type: 'array', items: [{ type: 'number' }] })).toStrictEqual({
      type: 'array',
      items: { type: 'number' },
    });
  });

  it('infers a missing type from properties, items or an enum, and lower-cases type names', () => {
    expect(clean({ properties: { a: { type: 'STRING' } } })).toStrictEqual({
      type: 'object',
      properties: { a: { type: 'string' } },
    });
    expect(clean({ items: { type: 'Integer' } })).toStrictEqual({
      type: 'array',
      items: { type: 'integer' },
    });
  });

  it('answers anything that is not a schema object with a free-form schema, never throwing', () => {
    for (const junk of [undefined, null, true, false, 3, 'x', [], [{}]]) {
      expect(sanitizeGeminiSchema(junk)).toStrictEqual({});
    }
    expect(clean({ type: 'object', properties: { a: true, b: false, c: null } })).toStrictEqual({
      type: 'object',
      properties: { a: {}, b: {}, c: {} },
    });
  });

  it('does not modify its input', () => {
    const input = {
      $defs: { U: { type: 'string', const: 'x' } },
      type: 'object',
      additionalProperties: false,
      properties: { u: { $ref: '#/$defs/U' }, n: { type: ['number', 'null'] } },
      required: ['u', 'zz'],
    };
    const copy = structuredClone(input);
    clean(input);
    expect(input).toStrictEqual(copy);
  });

  it('cleans a realistic MCP tool schema (zod-to-json-schema output) into the subset', () => {
    const out = clean({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      additionalProperties: false,
      properties: {
        path: { type: 'string', description: 'File path', minLength: 1 },
        encoding: { type: 'string', enum: ['utf8', 'base64'], default: 'utf8' },
        range: {
          anyOf: [
            {
              type: 'object',
              properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer' } },
              required: ['start'],
              additionalProperties: false,
            },
            { type: 'null' },
          ],
        },
        edits: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              oldText: { type: 'string' },
              newText: { type: 'string' },
              at: { type: 'string', format: 'date-time' },
              by: { type: 'string', format: 'email' },
            },
            required: ['oldText', 'newText'],
            additionalProperties: false,
          },
        },
        mode: { const: 'overwrite' },
        meta: { type: 'object', additionalProperties: true },
      },
      required: ['path', 'edits'],
    });
    expect(out.properties.range).toStrictEqual({
      type: 'object',
      properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer' } },
      required: ['start'],
      nullable: true,
    });
    expect(out.properties.edits.items.properties.by).toStrictEqual({ type: 'string' });
    expect(out.properties.edits.items.properties.at).toStrictEqual({
      type: 'string',
      format: 'date-time',
    });
    expect(out.properties.mode).toStrictEqual({ type: 'string', enum: ['overwrite'] });
    expect(out.properties.meta).toStrictEqual({ type: 'object' });
    expect(out.required).toStrictEqual(['path', 'edits']);
  });
});

describe(fromGeminiSchema.name, () => {
  const gemini = {
    type: 'OBJECT',
    properties: {
      city: { type: 'STRING', description: 'City name' },
      unit: { type: 'STRING', format: 'enum', enum: ['celsius', 'fahrenheit'] },
      note: { type: 'STRING', nullable: true },
      days: { type: 'ARRAY', items: { type: 'INTEGER', format: 'int32' }, maxItems: 7 },
      either: { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }], nullable: true },
    },
    required: ['city'],
    propertyOrdering: ['city', 'unit'],
  };

  it("reads Gemini's OpenAPI subset as JSON Schema", () => {
    expect(fromGeminiSchema(gemini)).toStrictEqual({
      type: 'object',
      properties: {
        city: { type: 'string', description: 'City name' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        note: { type: ['string', 'null'] },
        days: { type: 'array', items: { type: 'integer', format: 'int32' }, maxItems: 7 },
        either: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] },
      },
      required: ['city'],
      propertyOrdering: ['city', 'unit'],
    });
  });

  it('comes back to the same Gemini schema through the sanitiser, type case aside', () => {
    const back = clean(fromGeminiSchema(gemini));
    const upper = (s: unknown): unknown =>
      JSON.parse(
        JSON.stringify(s, (k, v: unknown) =>
          k === 'type' && typeof v === 'string' ? v.toUpperCase() : v,
        ),
      );
    // `format: enum` is implied by the enum and not written back.
    const { unit, ...rest } = gemini.properties;
    expect(upper(back)).toStrictEqual({
      ...gemini,
      properties: { ...rest, unit: { type: 'STRING', enum: unit.enum } },
    });
  });

  it('answers a non-object with an empty schema', () => {
    expect(fromGeminiSchema('OBJECT')).toStrictEqual({});
  });
});
