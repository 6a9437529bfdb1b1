/**
 * JSON Schema ⇄ Gemini's `Schema` (a subset of OpenAPI 3.0) for tool parameters and response
 * schemas.
 *
 * Gemini rejects a whole request when one keyword of one tool is outside its subset ("Unknown
 * name \"$schema\"", "additionalProperties", non-string enums, arrays without `items`…), and tools
 * written for other providers (MCP servers, pydantic, zod) use all of them. `sanitizeGeminiSchema`
 * keeps only what Gemini takes and rewrites the rest by meaning where it can.
 */
import { isObj, type Obj } from '@/gateway/dialects/gemini/common';

/** `$ref` expansions allowed on one path (long chains of definitions). */
export const MAX_REF_DEPTH = 8;
/** `$ref` expansions allowed in one schema in total, so recursive fan-out cannot blow up. */
export const MAX_REF_EXPANSIONS = 500;
/** Nesting deeper than this is cut (a free-form value). */
export const MAX_NESTING = 48;

/** Scalar keywords of Gemini's `Schema` that carry over unchanged. */
const SCALAR_KEYS = [
  'title',
  'description',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'example',
] as const;

/** `format`s Gemini accepts, by type. */
const FORMATS: Record<string, readonly string[]> = {
  string: ['enum', 'date-time'],
  number: ['float', 'double'],
  integer: ['int32', 'int64'],
};

const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);

interface Ctx {
  root: Obj;
  /** `$ref`s being expanded on the current path. */
  refs: string[];
  expansions: number;
}

/**
 * A JSON Schema → Gemini's OpenAPI-subset `Schema`:
 * - drops `$schema`, `$id`, `$comment`, `additionalProperties`, `default`, `examples` and every
 *   other keyword outside Gemini's subset (`not`, `if`, `patternProperties`, `x-…`, …);
 * - `const` → a one-value `enum`; enums are string lists on string schemas (members stringified),
 *   and on other types are dropped, their values named in the description;
 * - keeps `format` only where Gemini knows it (`enum`/`date-time` on strings, `float`/`double`,
 *   `int32`/`int64` on numbers);
 * - inlines local `$ref`s (`#/$defs/…`, `#/definitions/…`, any JSON pointer into the schema); a
 *   reference to itself on its own path (a cycle), or deeper than `MAX_REF_DEPTH`, becomes a
 *   free-form value of the definition's type;
 * - `type: ['string', 'null']` → `type: 'string', nullable: true`; several types → `anyOf`;
 * - `anyOf`/`oneOf` with a single non-null member is flattened into that member (`nullable` when a
 *   null member was there); `oneOf` otherwise becomes `anyOf`; `allOf` members are merged;
 * - keeps `required` only for properties that exist; gives arrays without `items` a free-form one.
 * Types stay lower-case, which the API accepts as it does its upper-case names.
 */
export function sanitizeGeminiSchema(schema: unknown): Obj {
  const root = isObj(schema) ? schema : {};
  return clean(root, { root, refs: [], expansions: 0 }, 0);
}

function clean(node: unknown, ctx: Ctx, depth: number): Obj {
  if (!isObj(node) || depth > MAX_NESTING) {
    return {}; // `true`, `false` or too deep: any value
  }
  const resolved = resolve(node, ctx);
  try {
    if (resolved.cut) {
      return resolved.schema;
    }
    const s = mergeAllOf(resolved.schema, ctx);
    if (s.anyOf !== undefined || s.oneOf !== undefined) {
      return union(s, ctx, depth);
    }
    return Array.isArray(s.type) ? multiType(s, ctx, depth) : single(s, ctx, depth);
  } finally {
    ctx.refs.length -= resolved.pushed;
  }
}

interface Resolved {
  schema: Obj;
  /** The schema is a placeholder for a reference that must not be expanded. */
  cut: boolean;
  /** References pushed on `ctx.refs`: the caller pops them once the schema is processed. */
  pushed: number;
}

/** Follows `$ref`s (chains included), merging the keywords written next to each one. */
function resolve(node: Obj, ctx: Ctx): Resolved {
  let cur = node;
  let pushed = 0;
  while (typeof cur.$ref === 'string') {
    const ref = cur.$ref;
    const { $ref: _ref, ...siblings } = cur;
    const target = ref.startsWith('#') ? pointer(ctx.root, ref) : undefined;
    if (!isObj(target)) {
      // A remote or broken reference: nothing to inline.
      const schema: Obj = { type: 'object', ...pick(siblings, ['title', 'description']) };
      return { schema, cut: true, pushed };
    }
    if (
      ctx.refs.includes(ref) ||
      ctx.refs.length >= MAX_REF_DEPTH ||
      ctx.expansions >= MAX_REF_EXPANSIONS
    ) {
      return { schema: placeholder(target, siblings), cut: true, pushed };
    }
    ctx.refs.push(ref);
    ctx.expansions++;
    pushed++;
    // Keywords next to `$ref` apply too (2019-09 and later) and win over the target's.
    cur = { ...target, ...siblings };
  }
  return { schema: cur, cut: false, pushed };
}

/** What a reference that is not expanded stands for: a free-form value of the target's type. */
function placeholder(target: Obj, siblings: Obj): Obj {
  const t = typeof target.type === 'string' ? target.type.toLowerCase() : 'object';
  const out: Obj = { type: TYPES.has(t) && t !== 'null' ? t : 'object' };
  const description = siblings.description ?? target.description;
  if (typeof description === 'string') {
    out.description = description;
  }
  if (out.type === 'array') {
    out.items = {};
  }
  return out;
}

/** A local JSON pointer (`#/a/b~1c`) into the root schema. */
function pointer(root: Obj, ref: string): unknown {
  if (ref === '#') {
    return root;
  }
  if (!ref.startsWith('#/')) {
    return undefined;
  }
  let cur: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (Array.isArray(cur) && /^\d+$/.test(key)) {
      cur = cur[Number(key)];
    } else if (isObj(cur) && Object.prototype.hasOwnProperty.call(cur, key)) {
      cur = cur[key];
    } else {
      return undefined;
    }
  }
  return cur;
}

function pick(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) {
    if (o[k] !== undefined) {
      out[k] = o[k];
    }
  }
  return out;
}

/** `allOf` members merged into the schema: properties and `required` joined, first value wins. */
function mergeAllOf(s: Obj, ctx: Ctx): Obj {
  if (!Array.isArray(s.allOf)) {
    return s;
  }
  const { allOf, ...rest } = s;
  let out: Obj = { ...rest };
  for (const member of allOf as unknown[]) {
    if (!isObj(member)) {
      continue;
    }
    const r = resolve(member, ctx);
    let m: Obj;
    try {
      m = r.cut ? r.schema : mergeAllOf(r.schema, ctx);
    } finally {
      ctx.refs.length -= r.pushed;
    }
    const properties =
      isObj(out.properties) || isObj(m.properties)
        ? {
            ...(isObj(m.properties) ? m.properties : {}),
            ...(isObj(out.properties) ? out.properties : {}),
          }
        : undefined;
    const required = [
      ...(Array.isArray(out.required) ? out.required : []),
      ...(Array.isArray(m.required) ? m.required : []),
    ];
    out = { ...m, ...out };
    if (properties) {
      out.properties = properties;
    }
    if (required.length > 0) {
      out.required = [...new Set(required)];
    }
  }
  return out;
}

const isNullSchema = (m: unknown): boolean =>
  isObj(m) &&
  (m.type === 'null' ||
    (Array.isArray(m.type) && m.type.length > 0 && m.type.every((t) => t === 'null')));

/** `anyOf` / `oneOf`: null members become `nullable`, a single member is flattened. */
function union(s: Obj, ctx: Ctx, depth: number): Obj {
  const { anyOf, oneOf, ...rest } = s;
  const members = (Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : []) as unknown[];
  const nullable = members.some(isNullSchema) || rest.nullable === true;
  const others = members.filter((m) => !isNullSchema(m));
  const annotations = pick(rest, ['title', 'description']);
  if (others.length === 0) {
    // Only null (or an empty union): keep what the rest of the schema says.
    const out = Array.isArray(rest.type) ? multiType(rest, ctx, depth) : single(rest, ctx, depth);
    if (nullable) {
      out.nullable = true;
    }
    return out;
  }
  const structured = Object.keys(rest).some(
    (k) => k !== 'title' && k !== 'description' && k !== 'nullable',
  );
  if (others.length === 1) {
    // The member carries the structure; the outer schema's own keywords apply too and win.
    const member = clean(others[0], ctx, depth + 1);
    const outer = structured ? single(rest, ctx, depth) : {};
    const out: Obj = { ...member, ...outer, ...annotations };
    if (nullable) {
      out.nullable = true;
    }
    return out;
  }
  if (isObj(rest.properties) || typeof rest.type === 'string') {
    // Alternatives that only add constraints to an outer structure (`anyOf: [{required: [a]},
    // {required: [b]}]`): Gemini has no way to say that, the structure alone is kept.
    const out = single(rest, ctx, depth);
    if (nullable) {
      out.nullable = true;
    }
    return out;
  }
  const out: Obj = { anyOf: others.map((m) => clean(m, ctx, depth + 1)), ...annotations };
  if (nullable) {
    out.nullable = true;
  }
  return out;
}

/** `type: [...]`: null → `nullable`; one other type is that type; several are an `anyOf`. */
function multiType(s: Obj, ctx: Ctx, depth: number): Obj {
  const types = (s.type as unknown[]).filter((t): t is string => typeof t === 'string');
  const nullable = types.some((t) => t.toLowerCase() === 'null');
  const others = [...new Set(types.map((t) => t.toLowerCase()).filter((t) => t !== 'null'))];
  let out: Obj;
  if (others.length <= 1) {
    out = single({ ...s, type: others[0] ?? 'null' }, ctx, depth);
  } else {
    const { title, description, ...structure } = s;
    out = {
      anyOf: others.map((t) => single({ ...structure, type: t }, ctx, depth + 1)),
      ...pick({ title, description }, ['title', 'description']),
    };
  }
  if (nullable && out.type !== 'null') {
    out.nullable = true;
  }
  return out;
}

/** A schema with at most one type and no union. */
function single(s: Obj, ctx: Ctx, depth: number): Obj {
  const out: Obj = {};
  let type = typeof s.type === 'string' ? s.type.toLowerCase() : undefined;
  if (type !== undefined && !TYPES.has(type)) {
    type = undefined;
  }
  // Infer a missing type from the keywords that only make sense with one.
  if (type === undefined) {
    if (isObj(s.properties)) {
      type = 'object';
    } else if (s.items !== undefined || s.prefixItems !== undefined) {
      type = 'array';
    } else if (Array.isArray(s.enum) || s.const !== undefined) {
      type = 'string';
    }
  }
  if (type !== undefined) {
    out.type = type;
  }
  for (const k of SCALAR_KEYS) {
    if (s[k] !== undefined && s[k] !== null) {
      out[k] = s[k];
    }
  }
  if (s.nullable === true) {
    out.nullable = true;
  }

  const values = Array.isArray(s.enum)
    ? (s.enum as unknown[])
    : s.const !== undefined
      ? [s.const]
      : undefined;
  if (values !== undefined) {
    enumOut(values, type, out);
  }

  if (typeof s.format === 'string' && type !== undefined && FORMATS[type]?.includes(s.format)) {
    if (s.format !== 'enum' || Array.isArray(out.enum)) {
      out.format = s.format;
    }
  }

  if (type === 'object' || type === undefined) {
    if (isObj(s.properties)) {
      const properties: Obj = {};
      for (const [name, sub] of Object.entries(s.properties)) {
        properties[name] = clean(sub, ctx, depth + 1);
      }
      out.properties = properties;
      if (Array.isArray(s.required)) {
        const required = [
          ...new Set(
            s.required.filter((r): r is string => typeof r === 'string' && r in properties),
          ),
        ];
        if (required.length > 0) {
          out.required = required;
        }
      }
      if (Array.isArray(s.propertyOrdering)) {
        const order = s.propertyOrdering.filter(
          (r): r is string => typeof r === 'string' && r in properties,
        );
        if (order.length > 0) {
          out.propertyOrdering = order;
        }
      }
    }
  } else {
    delete out.minProperties;
    delete out.maxProperties;
  }

  if (type === 'array') {
    out.items = itemsOut(s, ctx, depth);
  } else {
    delete out.minItems;
    delete out.maxItems;
  }
  return out;
}

/** `items` (a schema, or a draft-4 tuple) or `prefixItems` → one item schema. */
function itemsOut(s: Obj, ctx: Ctx, depth: number): Obj {
  const tuple = Array.isArray(s.prefixItems)
    ? (s.prefixItems as unknown[])
    : Array.isArray(s.items)
      ? (s.items as unknown[])
      : undefined;
  if (tuple) {
    if (tuple.length === 0) {
      return {};
    }
    return tuple.length === 1
      ? clean(tuple[0], ctx, depth + 1)
      : union({ anyOf: tuple }, ctx, depth + 1);
  }
  return isObj(s.items) ? clean(s.items, ctx, depth + 1) : {};
}

/** Gemini enums are lists of strings, on string schemas only. */
function enumOut(values: unknown[], type: string | undefined, out: Obj): void {
  const nonNull = values.filter((v) => v !== null);
  if (nonNull.length < values.length) {
    out.nullable = true;
  }
  const scalars = nonNull.every((v) => ['string', 'number', 'boolean'].includes(typeof v));
  if (nonNull.length === 0 || !scalars) {
    return;
  }
  if (type === undefined || type === 'string') {
    out.type = 'string';
    out.enum = [...new Set(nonNull.map(String))];
    return;
  }
  // A number/integer/boolean enum: Gemini refuses it; the allowed values go in the description.
  const hint = `Allowed values: ${nonNull.map((v) => JSON.stringify(v)).join(', ')}.`;
  out.description = typeof out.description === 'string' ? `${out.description} ${hint}` : hint;
}

// ------------------------------------------------------------------------------------------------

/**
 * Gemini's `Schema` → JSON Schema, for the canonical form (read side): upper-case `type` names are
 * lower-cased, `nullable: true` becomes a `null` type, `format: 'enum'` is dropped (the `enum`
 * says it). Everything else is already JSON Schema and is kept.
 */
export function fromGeminiSchema(schema: unknown): Obj {
  return isObj(schema) ? toJson(schema, 0) : {};
}

function toJson(s: Obj, depth: number): Obj {
  if (depth > MAX_NESTING) {
    return {};
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    switch (k) {
      case 'type':
        out.type = typeof v === 'string' ? v.toLowerCase() : v;
        break;
      case 'nullable':
        break;
      case 'format':
        if (v !== 'enum') {
          out.format = v;
        }
        break;
      case 'properties':
        if (isObj(v)) {
          const properties: Obj = {};
          for (const [name, sub] of Object.entries(v)) {
            properties[name] = isObj(sub) ? toJson(sub, depth + 1) : sub;
          }
          out.properties = properties;
        } else {
          out.properties = v;
        }
        break;
      case 'items':
        out.items = isObj(v) ? toJson(v, depth + 1) : v;
        break;
      case 'anyOf':
        out.anyOf = Array.isArray(v) ? v.map((m) => (isObj(m) ? toJson(m, depth + 1) : m)) : v;
        break;
      default:
        out[k] = v;
    }
  }
  if (s.nullable === true) {
    if (typeof out.type === 'string' && out.type !== 'null') {
      out.type = [out.type, 'null'];
    } else if (Array.isArray(out.anyOf)) {
      out.anyOf = [...(out.anyOf as unknown[]), { type: 'null' }];
    }
  }
  return out;
}
