/**
 * Static checks of the Helm chart (API.md §6) without a helm binary: Chart.yaml, values.yaml and
 * the ci/ overrides parse and pass values.schema.json; the templates are rendered by a small
 * evaluator of the Go text/template subset the chart uses (below) and the output is parsed as YAML
 * and checked against the app's own config schema. The evaluator is deliberately strict: an
 * unknown function, an unclosed block or a comparison of mismatched kinds is an error, so a
 * template it cannot render fails here instead of passing unchecked.
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Ajv from 'ajv';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ENV_KEYS, validateEnv } from '@/config/env.schema';

const ROOT = join(__dirname, '..', '..');
const CHART = join(ROOT, 'charts', 'omniroute-gateway');
const read = (file: string): string => readFileSync(join(CHART, file), 'utf8');

type Values = Record<string, unknown>;

// ---- a small Go text/template evaluator ---------------------------------------------------------
//
// Supported: text with {{- / -}} trimming and comments; actions with pipelines; variables (`:=`,
// `=`, range's `$k, $v :=`); if / else if / else, range (list or map, sorted keys) / else,
// with / else, define; `.Files.Get`. Values from YAML are float64 as in Helm (numbers in a values
// file are decoded as float64), integer literals and int/int64/add/div results are int64 (BigInt):
// lt/gt/eq refuse to compare the two, as Go templates do.

type Token =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number | bigint }
  | { t: 'var'; name: string; path: string[] }
  | { t: 'field'; path: string[] }
  | { t: 'ident'; v: string }
  | { t: 'op'; v: '|' | '(' | ')' | ':=' | '=' | ',' };

type Operand =
  | { k: 'lit'; v: unknown }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'field'; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'sub'; pipe: Pipe };

interface Pipe {
  decl?: { names: string[]; assign: boolean };
  cmds: Operand[][];
}

type TNode =
  | { k: 'text'; text: string }
  | { k: 'out'; pipe: Pipe }
  | { k: 'if'; branches: { cond: Pipe; body: TNode[] }[]; otherwise: TNode[] }
  | { k: 'range' | 'with'; pipe: Pipe; body: TNode[]; otherwise: TNode[] };

/** An error raised by the template's own `fail` / `required`. */
class TemplateFail extends Error {}

function lexAction(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const path = (): string[] => {
    const m = /^(?:\.[A-Za-z0-9_]+)*/.exec(src.slice(i))![0];
    i += m.length;
    return m.split('.').filter(Boolean);
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(src.slice(i));
      if (!m) {
        throw new Error(`unterminated string in {{${src}}}`);
      }
      tokens.push({ t: 'str', v: JSON.parse(m[0]) as string });
      i += m[0].length;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      tokens.push({ t: 'str', v: src.slice(i + 1, end) });
      i = end + 1;
    } else if (src.startsWith(':=', i)) {
      tokens.push({ t: 'op', v: ':=' });
      i += 2;
    } else if ('|()=,'.includes(c)) {
      tokens.push({ t: 'op', v: c as '|' | '(' | ')' | '=' | ',' });
      i++;
    } else if (c === '$') {
      const name = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))![0];
      i += name.length;
      tokens.push({ t: 'var', name, path: path() });
    } else if (c === '.') {
      const p = path();
      if (!p.length) {
        i++; // a lone `.`
      }
      tokens.push({ t: 'field', path: p });
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))![0];
      tokens.push({ t: 'num', v: m.includes('.') ? Number(m) : BigInt(m) });
      i += m.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))![0];
      tokens.push({ t: 'ident', v: m });
      i += m.length;
    } else {
      throw new Error(`unexpected "${c}" in {{${src}}}`);
    }
  }
  return tokens;
}

function parsePipe(tokens: Token[], pos = { i: 0 }, nested = false): Pipe {
  const pipe: Pipe = { cmds: [] };
  // Declarations: `$x :=`, `$x =`, `$k, $v :=`.
  const declEnd = tokens.findIndex((t) => t.t === 'op' && (t.v === ':=' || t.v === '='));
  if (
    !nested &&
    declEnd > 0 &&
    tokens.slice(0, declEnd).every((t) => t.t === 'var' || t.t === 'op')
  ) {
    const names = tokens
      .slice(0, declEnd)
      .filter((t): t is Extract<Token, { t: 'var' }> => t.t === 'var')
      .map((t) => t.name);
    const op = tokens[declEnd] as Extract<Token, { t: 'op' }>;
    pipe.decl = { names, assign: op.v === '=' };
    pos.i = declEnd + 1;
  }
  let cmd: Operand[] = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++];
    if (tok.t === 'op' && tok.v === ')') {
      if (!nested) {
        throw new Error('unbalanced ")"');
      }
      break;
    }
    if (tok.t === 'op' && tok.v === '|') {
      pipe.cmds.push(cmd);
      cmd = [];
    } else if (tok.t === 'op' && tok.v === '(') {
      cmd.push({ k: 'sub', pipe: parsePipe(tokens, pos, true) });
    } else if (tok.t === 'op') {
      throw new Error(`unexpected "${tok.v}"`);
    } else if (tok.t === 'str' || tok.t === 'num') {
      cmd.push({ k: 'lit', v: tok.v });
    } else if (tok.t === 'var') {
      cmd.push({ k: 'var', name: tok.name, path: tok.path });
    } else if (tok.t === 'field') {
      cmd.push({ k: 'field', path: tok.path });
    } else if (['true', 'false', 'nil'].includes(tok.v)) {
      cmd.push({ k: 'lit', v: tok.v === 'nil' ? null : tok.v === 'true' });
    } else {
      cmd.push({ k: 'fn', name: tok.v });
    }
  }
  if (!cmd.length) {
    throw new Error('empty command in pipeline');
  }
  pipe.cmds.push(cmd);
  return pipe;
}

/** Parses a template file into its top-level nodes and the `define`s it holds. */
function parseTemplate(
  src: string,
  file: string,
): { nodes: TNode[]; defines: Map<string, TNode[]> } {
  // Split into text and actions, applying the trim markers.
  const parts: ({ text: string } | { action: string })[] = [];
  const re = /\{\{(-[ \t\r\n])?([\s\S]*?)([ \t\r\n]-)?\}\}/g;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let text = src.slice(last, m.index);
    if (trimNext) {
      text = text.replace(/^\s+/, '');
    }
    if (m[1]) {
      text = text.replace(/\s+$/, '');
    }
    parts.push({ text });
    const body = m[2].trim();
    if (!(body.startsWith('/*') && body.endsWith('*/'))) {
      parts.push({ action: body });
    }
    trimNext = Boolean(m[3]);
    last = m.index + m[0].length;
  }
  parts.push({ text: trimNext ? src.slice(last).replace(/^\s+/, '') : src.slice(last) });

  const defines = new Map<string, TNode[]>();
  let i = 0;
  const where = (): string => `${file}: action ${i}`;
  /** Parses nodes until one of `stops` (returned) or the end of input (stop ''). */
  const block = (stops: string[]): { nodes: TNode[]; stop: string; rest: string } => {
    const nodes: TNode[] = [];
    while (i < parts.length) {
      const part = parts[i++];
      if ('text' in part) {
        if (part.text) {
          nodes.push({ k: 'text', text: part.text });
        }
        continue;
      }
      const [keyword] = /^[a-z]+\b/.exec(part.action) ?? [''];
      const rest = part.action.slice(keyword.length).trim();
      if (keyword === 'end' || keyword === 'else') {
        if (!stops.includes(keyword)) {
          throw new Error(`${where()}: unexpected {{${part.action}}}`);
        }
        return { nodes, stop: keyword, rest };
      }
      if (keyword === 'if') {
        const branches: { cond: Pipe; body: TNode[] }[] = [];
        let cond = parsePipe(lexAction(rest));
        let otherwise: TNode[] = [];
        for (;;) {
          const inner = block(['end', 'else']);
          branches.push({ cond, body: inner.nodes });
          if (inner.stop === 'end') {
            break;
          }
          if (inner.rest.startsWith('if ')) {
            cond = parsePipe(lexAction(inner.rest.slice(3)));
            continue;
          }
          otherwise = block(['end']).nodes;
          break;
        }
        nodes.push({ k: 'if', branches, otherwise });
      } else if (keyword === 'range' || keyword === 'with') {
        const pipe = parsePipe(lexAction(rest));
        const inner = block(['end', 'else']);
        const otherwise = inner.stop === 'else' ? block(['end']).nodes : [];
        nodes.push({ k: keyword, pipe, body: inner.nodes, otherwise });
      } else if (keyword === 'define') {
        const name = JSON.parse(rest) as string;
        defines.set(name, block(['end']).nodes);
      } else if (['template', 'block', 'break', 'continue'].includes(keyword)) {
        throw new Error(`${where()}: {{${keyword}}} is not supported by this evaluator`);
      } else {
        nodes.push({ k: 'out', pipe: parsePipe(lexAction(part.action)) });
      }
    }
    if (!stops.includes('')) {
      throw new Error(`${file}: missing {{end}} (expected one of ${stops.join(', ')})`);
    }
    return { nodes, stop: '', rest: '' };
  };
  const { nodes } = block(['']);
  return { nodes, defines };
}

/** Go reflect kinds of JavaScript values, by `typeof` (objects that are not arrays are maps). */
const KINDS: Record<string, string> = {
  string: 'string',
  number: 'float64',
  bigint: 'int64',
  boolean: 'bool',
  function: 'func',
  object: 'map',
};

const kindOf = (v: unknown): string => {
  if (v === null || v === undefined) {
    return 'invalid';
  }
  return Array.isArray(v) ? 'slice' : (KINDS[typeof v] ?? 'invalid');
};

const truth = (v: unknown): boolean => {
  switch (kindOf(v)) {
    case 'invalid':
      return false;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return Object.keys(v as object).length > 0;
    case 'float64':
      return v !== 0;
    case 'int64':
      return v !== 0n;
    case 'string':
      return v !== '';
    default:
      return Boolean(v);
  }
};

/** Go's %v of a float64 (strconv 'g', shortest): exponent form below 1e-4 and from 1e6 up. */
function goFloat(n: number): string {
  if (n === 0) {
    return '0';
  }
  const [mantissa, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) {
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

/** fmt's %v of a value (sprig's strval). */
function strval(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
      return '<nil>';
    case 'string':
      return v as string;
    case 'float64':
      return goFloat(v as number);
    case 'int64':
    case 'bool':
      return String(v);
    default:
      throw new Error(
        `printing a ${kindOf(v)} is almost certainly a template bug: ${JSON.stringify(v)}`,
      );
  }
}

const toInt64 = (v: unknown): bigint => {
  switch (kindOf(v)) {
    case 'int64':
      return v as bigint;
    case 'float64':
      return BigInt(Math.trunc(v as number));
    case 'string':
      return /^-?\d+$/.test(v as string) ? BigInt(v as string) : 0n;
    case 'bool':
      return v ? 1n : 0n;
    default:
      return 0n;
  }
};

/** Go's ordered comparison: both operands of the same basic kind. */
function compare(a: unknown, b: unknown): number {
  const [ka, kb] = [kindOf(a), kindOf(b)];
  if (ka !== kb || !['int64', 'float64', 'string'].includes(ka)) {
    throw new Error(`incompatible types for comparison: ${ka} and ${kb}`);
  }
  const [x, y] = [a as string | number | bigint, b as string | number | bigint];
  return x < y ? -1 : x > y ? 1 : 0;
}

function goEq(a: unknown, b: unknown): boolean {
  const [ka, kb] = [kindOf(a), kindOf(b)];
  if (ka === 'invalid' || kb === 'invalid') {
    return ka === kb;
  }
  if (ka !== kb) {
    throw new Error(`incompatible types for comparison: ${ka} and ${kb}`);
  }
  return a === b;
}

/** Go's json.Marshal: map keys sorted. */
function toJson(v: unknown): string {
  if (Array.isArray(v)) {
    return `[${v.map(toJson).join(',')}]`;
  }
  if (kindOf(v) === 'map') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${toJson(o[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'bigint') {
    return v.toString();
  }
  return JSON.stringify(v ?? null);
}

/** sprig's printf subset: %s %d %v %q. */
function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(/%(\.0f|[sdvq%])/g, (_m, verb: string) => {
    if (verb === '%') {
      return '%';
    }
    const arg = args[n++];
    if (verb === 'd') {
      if (kindOf(arg) !== 'int64') {
        return `%!d(${kindOf(arg)}=${strval(arg)})`;
      }
      return strval(arg);
    }
    if (verb === '.0f') {
      return (arg as number).toFixed(0);
    }
    return verb === 'q' ? JSON.stringify(strval(arg)) : strval(arg);
  });
}

const indent = (n: number, s: string): string => {
  const pad = ' '.repeat(n);
  return pad + s.replace(/\n/g, `\n${pad}`);
};

interface RenderContext {
  defines: Map<string, TNode[]>;
}

const LAZY = new Set(['and', 'or']);

function functions(ctx: RenderContext): Record<string, (...args: unknown[]) => unknown> {
  return {
    include: (name, data) => {
      const body = ctx.defines.get(name as string);
      if (!body) {
        throw new Error(`include: no template named "${String(name)}"`);
      }
      return execute(body, data, ctx);
    },
    default: (d, v) => (truth(v) ? v : d),
    empty: (v) => !truth(v),
    not: (v) => !truth(v),
    required: (msg, v) => {
      if (v === null || v === undefined || v === '') {
        throw new TemplateFail(msg as string);
      }
      return v;
    },
    fail: (msg) => {
      throw new TemplateFail(msg as string);
    },
    eq: (a, ...bs) => bs.some((b) => goEq(a, b)),
    ne: (a, b) => !goEq(a, b),
    lt: (a, b) => compare(a, b) < 0,
    le: (a, b) => compare(a, b) <= 0,
    gt: (a, b) => compare(a, b) > 0,
    ge: (a, b) => compare(a, b) >= 0,
    int: toInt64,
    int64: toInt64,
    add: (...xs) => xs.reduce<bigint>((sum, x) => sum + toInt64(x), 0n),
    div: (a, b) => toInt64(a) / toInt64(b),
    kindIs: (kind, v) => kindOf(v) === kind,
    toString: strval,
    quote: (...xs) =>
      xs
        .filter((x) => x !== null && x !== undefined)
        .map((x) => JSON.stringify(strval(x)))
        .join(' '),
    print: (...xs) => xs.map(strval).join(''),
    printf: (format, ...args) => sprintf(format as string, args),
    trunc: (n, s) => (s as string).slice(0, Number(toInt64(n))),
    trimSuffix: (suffix, s) =>
      (s as string).endsWith(suffix as string)
        ? (s as string).slice(0, -(suffix as string).length || undefined)
        : s,
    replace: (from, to, s) => (s as string).split(from as string).join(to as string),
    contains: (sub, s) => (s as string).includes(sub as string),
    indent: (n, s) => indent(Number(toInt64(n)), s as string),
    nindent: (n, s) => `\n${indent(Number(toInt64(n)), s as string)}`,
    toYaml: (v) => stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, ''),
    toJson,
    sha256sum: (s) =>
      createHash('sha256')
        .update(s as string)
        .digest('hex'),
    b64enc: (s) => Buffer.from(s as string).toString('base64'),
    b64dec: (s) => Buffer.from(s as string, 'base64').toString(),
    randAlphaNum: (n) => {
      const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
      return Array.from(randomBytes(Number(toInt64(n))), (b) => alphabet[b % 62]).join('');
    },
    // What `helm template` and `--dry-run` get: nothing found.
    lookup: () => ({}),
    list: (...xs) => xs,
    has: (needle, list) =>
      (list as unknown[]).some((x) => kindOf(x) === kindOf(needle) && x === needle),
    hasKey: (map, key) => Object.prototype.hasOwnProperty.call(map, key as string),
    dig: (...args) => {
      const map = args.pop();
      const fallback = args.pop();
      let cur: unknown = map;
      for (const key of args as string[]) {
        if (kindOf(cur) !== 'map' || !Object.prototype.hasOwnProperty.call(cur, key)) {
          return fallback;
        }
        cur = (cur as Record<string, unknown>)[key];
      }
      return cur;
    },
    ternary: (yes, no, cond) => {
      if (typeof cond !== 'boolean') {
        throw new Error(`ternary: condition is a ${kindOf(cond)}, not a bool`);
      }
      return cond ? yes : no;
    },
  };
}

type Scope = Map<string, unknown>[];

function lookupVar(scope: Scope, name: string): Map<string, unknown> {
  for (let i = scope.length - 1; i >= 0; i--) {
    if (scope[i].has(name)) {
      return scope[i];
    }
  }
  throw new Error(`undefined variable ${name}`);
}

function walk(value: unknown, path: string[], what: string): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || cur === undefined) {
      throw new Error(`nil pointer evaluating ${what}.${key}`);
    }
    if (kindOf(cur) !== 'map') {
      throw new Error(`can't evaluate field ${key} in a ${kindOf(cur)} (${what})`);
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function evalPipe(pipe: Pipe, dot: unknown, scope: Scope, ctx: RenderContext): unknown {
  const fns = functions(ctx);
  const operand = (op: Operand): unknown => {
    switch (op.k) {
      case 'lit':
        return op.v;
      case 'var':
        return walk(lookupVar(scope, op.name).get(op.name), op.path, op.name);
      case 'field':
        return walk(dot, op.path, '');
      case 'sub':
        return evalPipe(op.pipe, dot, scope, ctx);
      case 'fn':
        if (!(op.name in fns) && !LAZY.has(op.name)) {
          throw new Error(`function "${op.name}" not defined (or not supported by this evaluator)`);
        }
        return fns[op.name]();
    }
  };
  let result: unknown = undefined;
  pipe.cmds.forEach((cmd, n) => {
    const [head, ...rest] = cmd;
    const piped = n > 0 ? [result] : [];
    if (head.k === 'fn' && LAZY.has(head.name)) {
      // and/or evaluate their arguments lazily and return the deciding one.
      const args = [...rest.map((op) => () => operand(op)), ...piped.map((v) => () => v)];
      let value: unknown = undefined;
      for (const arg of args) {
        value = arg();
        if (head.name === 'and' ? !truth(value) : truth(value)) {
          break;
        }
      }
      result = value;
    } else if (head.k === 'fn') {
      const fn = fns[head.name];
      if (!fn) {
        throw new Error(`function "${head.name}" not defined (or not supported by this evaluator)`);
      }
      result = fn(...rest.map(operand), ...piped);
    } else {
      const value = operand(head);
      if (typeof value === 'function') {
        result = (value as (...a: unknown[]) => unknown)(...rest.map(operand), ...piped);
      } else if (rest.length || piped.length) {
        throw new Error("can't give arguments to a non-function");
      } else {
        result = value;
      }
    }
  });
  if (pipe.decl) {
    if (pipe.decl.assign) {
      lookupVar(scope, pipe.decl.names[0]).set(pipe.decl.names[0], result);
    } else {
      scope[scope.length - 1].set(pipe.decl.names[0], result);
    }
    return undefined;
  }
  return result;
}

function execute(nodes: TNode[], dot: unknown, ctx: RenderContext, scope?: Scope): string {
  const frames: Scope = scope ?? [new Map([['$', dot]])];
  let out = '';
  const inner = (body: TNode[], d: unknown, vars: [string, unknown][] = []): string =>
    execute(body, d, ctx, [...frames, new Map(vars)]);
  for (const node of nodes) {
    switch (node.k) {
      case 'text':
        out += node.text;
        break;
      case 'out': {
        const v = evalPipe(node.pipe, dot, frames, ctx);
        if (!node.pipe.decl) {
          out += v === null || v === undefined ? '' : strval(v);
        }
        break;
      }
      case 'if': {
        const branch = node.branches.find((b) => truth(evalPipe(b.cond, dot, frames, ctx)));
        out += inner(branch ? branch.body : node.otherwise, dot);
        break;
      }
      case 'with': {
        const v = evalPipe({ cmds: node.pipe.cmds }, dot, frames, ctx);
        out += truth(v) ? inner(node.body, v) : inner(node.otherwise, dot);
        break;
      }
      case 'range': {
        const v = evalPipe({ cmds: node.pipe.cmds }, dot, frames, ctx);
        const names = node.pipe.decl?.names ?? [];
        const entries: [unknown, unknown][] = Array.isArray(v)
          ? v.map((x, n) => [BigInt(n), x])
          : kindOf(v) === 'map'
            ? Object.keys(v as object)
                .sort()
                .map((k) => [k, (v as Record<string, unknown>)[k]])
            : [];
        if (v !== null && v !== undefined && !['slice', 'map'].includes(kindOf(v))) {
          throw new Error(`range can't iterate over a ${kindOf(v)}`);
        }
        if (!entries.length) {
          out += inner(node.otherwise, dot);
        }
        for (const [key, value] of entries) {
          const vars: [string, unknown][] =
            names.length === 2
              ? [
                  [names[0], key],
                  [names[1], value],
                ]
              : names.map((name) => [name, value]);
          out += inner(node.body, value, vars);
        }
        break;
      }
    }
  }
  return out;
}

// ---- the chart ------------------------------------------------------------------------------------

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

const TEMPLATE_FILES = listFiles(join(CHART, 'templates')).map((f) => relative(CHART, f));
const chartYaml = parse(read('Chart.yaml')) as Record<string, string>;
const defaults = parse(read('values.yaml')) as Values;
const schema = JSON.parse(read('values.schema.json')) as Record<string, unknown>;
const CI_FILES = readdirSync(join(CHART, 'ci')).filter((f) => /\.ya?ml$/.test(f));

const isMap = (v: unknown): v is Values => kindOf(v) === 'map';

/** Helm's coalescing of user values over the chart's: maps merge, null deletes, the rest replaces. */
function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) {
      delete out[key];
    } else if (isMap(value) && isMap(out[key])) {
      out[key] = mergeValues(out[key], value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const ciValues = (file: string): Values =>
  mergeValues(defaults, parse(read(join('ci', file))) as Values);

/** Parse errors are collected (and reported by one spec) so the other specs still run. */
const PARSE_ERRORS: string[] = [];
const parsed = new Map(
  TEMPLATE_FILES.flatMap((f) => {
    try {
      return [[f, parseTemplate(read(f), f)] as const];
    } catch (e) {
      PARSE_ERRORS.push((e as Error).message);
      return [];
    }
  }),
);
const DEFINES = new Map([...parsed.values()].flatMap((p) => [...p.defines]));

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

interface Rendered {
  manifests: Manifest[];
  notes: string;
  /** The manifests of one kind. */
  byKind: (kind: string) => Manifest[];
}

const RELEASE = { Name: 'gw', Namespace: 'ai', Service: 'Helm', IsInstall: true, Revision: 1 };

function render(values: Values, release: Partial<typeof RELEASE> = {}): Rendered {
  const top = {
    Values: values,
    Release: { ...RELEASE, ...release },
    Chart: {
      Name: chartYaml.name,
      Version: chartYaml.version,
      AppVersion: chartYaml.appVersion,
    },
    Files: {
      Get: (path: unknown): string =>
        existsSync(join(CHART, path as string)) ? read(path as string) : '',
    },
  };
  const ctx: RenderContext = { defines: DEFINES };
  const manifests: Manifest[] = [];
  let notes = '';
  for (const [file, { nodes }] of parsed) {
    if (/(^|\/)_[^/]*$/.test(file)) {
      continue;
    }
    const text = execute(nodes, { ...top, Template: { Name: file, BasePath: 'templates' } }, ctx);
    if (file.endsWith('NOTES.txt')) {
      notes = text;
      continue;
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) {
        throw new Error(`${file}: invalid YAML: ${doc.errors[0].message}\n${text}`);
      }
      const m = doc.toJS() as Manifest | null;
      if (m !== null) {
        manifests.push(m);
      }
    }
  }
  return { manifests, notes, byKind: (kind) => manifests.filter((m) => m.kind === kind) };
}

/** Renders values that must stop at a `fail`; returns its message. */
function renderFails(values: Values): string {
  try {
    render(values);
  } catch (e) {
    if (e instanceof TemplateFail) {
      return e.message;
    }
    throw e;
  }
  throw new Error('rendering succeeded');
}

// ---- pod helpers ---------------------------------------------------------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string };
  };
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  resources?: Record<string, Record<string, string>>;
  startupProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; emptyDir?: Record<string, unknown> }[];
  topologySpreadConstraints?: { labelSelector?: { matchLabels: Record<string, string> } }[];
}

interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

const podTemplate = (m: Manifest): PodTemplate => (m.spec as { template: PodTemplate }).template;
const one = (r: Rendered, kind: string): Manifest => {
  const found = r.byKind(kind);
  expect(found.map((m) => m.kind)).toEqual([kind]);
  return found[0];
};
const gatewayContainer = (r: Rendered): Container =>
  podTemplate(one(r, 'Deployment')).spec.containers.find((c) => c.name === 'gateway')!;

/** Stand-ins for Secrets that exist before the install (existingSecret). */
const EXISTING_SECRET_VALUES: Record<string, string> = {
  DATABASE_URL: 'postgres://omniroute:pw@pg-rw.db.svc:5432/omniroute',
  REDIS_URL: 'redis://redis.cache.svc:6379',
  ENCRYPTION_KEY: 'e'.repeat(64),
  JWT_SECRET: 'j'.repeat(64),
  INITIAL_ADMIN_KEY: 'sk-existing-0123456789abcdef',
  INITIAL_PASSWORD: 'existing-password',
};

/**
 * A container's environment as the kubelet would build it: secretKeyRefs resolved from the
 * rendered Secrets (or the stand-ins above for Secrets the chart does not render); optional keys
 * that are missing are left out. configMapKeyRefs get a placeholder.
 */
function resolveEnv(r: Rendered, env: EnvVar[]): Record<string, string> {
  const secrets = new Map(
    r.byKind('Secret').map((s) => [s.metadata.name, (s.data ?? {}) as Record<string, string>]),
  );
  const out: Record<string, string> = {};
  for (const e of env) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const data = secrets.get(ref.name);
      if (data) {
        if (ref.key in data) {
          out[e.name] = Buffer.from(data[ref.key], 'base64').toString();
        } else {
          expect({ name: e.name, optional: ref.optional }).toEqual({
            name: e.name,
            optional: true,
          });
        }
      } else {
        out[e.name] = EXISTING_SECRET_VALUES[e.name];
      }
    } else if (e.valueFrom?.configMapKeyRef) {
      out[e.name] = 'https://from-a-configmap.example.com';
    } else {
      out[e.name] = e.value ?? '';
    }
  }
  return out;
}

const valuesAt = (root: unknown, path: string[]): { found: boolean; value: unknown } => {
  let cur = root;
  for (const key of path) {
    if (!isMap(cur) || !(key in cur)) {
      return { found: false, value: undefined };
    }
    cur = cur[key];
  }
  return { found: true, value: cur };
};

/** Names the chart itself sets on the gateway container (not through `env` / `extraEnv`). */
const CHART_MANAGED = [
  'NODE_ENV',
  'PORT',
  'DATA_DIR',
  'MIGRATIONS_RUN',
  'SHUTDOWN_TIMEOUT_MS',
  'DATABASE_URL',
  'REDIS_URL',
  'ENCRYPTION_KEY',
  'JWT_SECRET',
  'INITIAL_ADMIN_KEY',
  'INITIAL_PASSWORD',
];

const minimal = ciValues('minimal-values.yaml');

// ---- the specs -----------------------------------------------------------------------------------

describe('the template evaluator used by these checks', () => {
  const run = (src: string, values: Values = {}): string =>
    execute(parseTemplate(src, 'inline').nodes, { Values: values }, { defines: DEFINES });

  it('rejects unclosed blocks and stray ends', () => {
    expect(() => parseTemplate('{{ if .Values.a }}x', 'bad')).toThrow(/missing \{\{end\}\}/);
    expect(() => parseTemplate('{{ range .Values.a }}{{ with .b }}x{{ end }}', 'bad')).toThrow(
      /missing/,
    );
    expect(() => parseTemplate('x{{ end }}', 'bad')).toThrow(/unexpected/);
  });

  it('trims around {{- and -}}, keeps range order and scopes', () => {
    expect(run('a  {{- "b" -}}  \n c')).toBe('abc');
    expect(
      run('{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}', { m: { b: 2, a: 1 } }),
    ).toBe('a=1;b=2;');
    expect(run('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}')).toBe('2');
  });

  it('compares like Go templates: float64 values and int literals do not mix', () => {
    expect(() => run('{{ if gt .Values.n 1 }}x{{ end }}', { n: 2 })).toThrow(/incompatible types/);
    expect(run('{{ if gt (int64 .Values.n) 1 }}x{{ end }}', { n: 2 })).toBe('x');
    expect(run('{{ .Values.n }}', { n: 1200000 })).toBe('1.2e+06');
  });

  it('refuses functions it does not implement instead of guessing', () => {
    expect(() => run('{{ semverCompare ">=1.0" "1.2" }}')).toThrow(/not defined/);
  });
});

describe('Chart.yaml', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

  it('is an apiVersion v2 application chart versioned 0.1.0 for the package version', () => {
    expect(chartYaml).toMatchObject({
      apiVersion: 'v2',
      name: 'omniroute-gateway',
      type: 'application',
      version: '0.1.0',
      appVersion: pkg.version,
    });
    expect(chartYaml.kubeVersion).toMatch(/^>=\s*1\.25/);
    for (const field of ['description', 'home', 'keywords', 'maintainers']) {
      expect(chartYaml[field]).toBeTruthy();
    }
  });

  it('keeps the chart files helm needs out of .helmignore', () => {
    const ignored = read('.helmignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const kept of ['templates/', 'dashboards/', 'values.schema.json', 'Chart.yaml']) {
      expect(ignored.filter((p) => kept.startsWith(p.replace(/\/$/, '')))).toEqual([]);
    }
  });
});

describe('values.yaml and values.schema.json', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const errorsOf = (values: Values): string[] =>
    validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

  it('is a draft-07 schema that closes the main objects', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const props = schema.properties as Record<string, { additionalProperties?: unknown }>;
    expect(schema.additionalProperties).toBe(false);
    for (const key of ['image', 'secrets', 'externalDatabase', 'externalRedis', 'env', 'service']) {
      expect({ key, closed: props[key].additionalProperties }).toEqual({ key, closed: false });
    }
  });

  it('accepts values.yaml and every ci/ override merged over it', () => {
    expect(CI_FILES.length).toBeGreaterThanOrEqual(4);
    expect(errorsOf(defaults)).toEqual([]);
    for (const file of CI_FILES) {
      expect({ file, errors: errorsOf(ciValues(file)) }).toEqual({ file, errors: [] });
    }
  });

  it('rejects typos, wrong types and out-of-range values', () => {
    const bad: [string, Values][] = [
      ['pullPolicy', { image: { pullPolicy: 'Sometimes' } }],
      ['replicaCount', { replicaCount: -1 }],
      ['unknown top-level key', { replicas: 3 }],
      ['unknown nested key', { ingress: { enable: true } }],
      ['service type', { service: { type: 'ExternalName' } }],
      ['env name the app does not read', { env: { LOG_LEVL: 'debug' } }],
      ['env value the app would reject', { env: { LOG_LEVEL: 'verbose' } }],
      ['env bound', { env: { MAX_BODY_SIZE_MB: 501 } }],
      ['chart-managed env', { env: { MIGRATIONS_RUN: true } }],
      ['chart-managed extraEnv', { extraEnv: [{ name: 'DATABASE_URL', value: 'postgres://x' }] }],
      ['short encryption key', { secrets: { encryptionKey: 'too-short' } }],
      ['malformed admin key', { secrets: { initialAdminKey: 'admin' } }],
      ['not a postgres URL', { externalDatabase: { url: 'mysql://db/x' } }],
      ['not a redis URL', { externalRedis: { url: 'http://redis:6379' } }],
    ];
    for (const [what, override] of bad) {
      expect({ what, rejected: errorsOf(mergeValues(minimal, override)).length > 0 }).toEqual({
        what,
        rejected: true,
      });
    }
  });

  it('lets `env` hold exactly the variables the gateway reads that the chart does not set itself', () => {
    const envSchema = (schema.properties as Record<string, { properties: Values }>).env;
    const names = Object.keys(envSchema.properties);
    expect(names.filter((n) => !ENV_KEYS.includes(n))).toEqual([]);
    expect(CHART_MANAGED.filter((n) => !ENV_KEYS.includes(n))).toEqual([]);
    expect([...names, ...CHART_MANAGED].sort()).toEqual([...ENV_KEYS].sort());
    // The same list guards extraEnv in the schema and in the templates' validation.
    const extraEnv = (schema.properties as Record<string, { items: { properties: Values } }>)
      .extraEnv;
    const schemaManaged = (extraEnv.items.properties.name as { not: { enum: string[] } }).not.enum;
    expect([...schemaManaged].sort()).toEqual([...CHART_MANAGED].sort());
    const helpers = read(join('templates', '_helpers.tpl'));
    const templateManaged = /\$managed := list ((?:"\w+" ?)+)/.exec(helpers)?.[1] ?? '';
    expect(templateManaged.match(/\w+/g)?.sort()).toEqual([...CHART_MANAGED].sort());
  });

  it('mirrors the app schema: integer bounds and enums of env agree with validateEnv', () => {
    const envProps = (schema.properties as Record<string, { properties: Record<string, Values> }>)
      .env.properties;
    const accepts = (name: string, value: string): boolean => {
      try {
        validateEnv({ [name]: value });
        return true;
      } catch {
        return false;
      }
    };
    for (const [name, prop] of Object.entries(envProps)) {
      if (prop.type === 'integer') {
        const { minimum, maximum } = prop as { minimum?: number; maximum?: number };
        expect({ name, min: minimum }).toEqual({ name, min: expect.any(Number) });
        expect({
          name,
          atMin: accepts(name, String(minimum)),
          below: accepts(name, String(minimum! - 1)),
        }).toEqual({
          name,
          atMin: true,
          below: false,
        });
        if (maximum !== undefined) {
          expect({
            name,
            atMax: accepts(name, String(maximum)),
            above: accepts(name, String(maximum + 1)),
          }).toEqual({
            name,
            atMax: true,
            above: false,
          });
        }
      }
      for (const value of (prop.enum as string[] | undefined) ?? []) {
        expect({ name, value, ok: accepts(name, value) }).toEqual({ name, value, ok: true });
      }
    }
  });

  it('documents every top-level key with a comment', () => {
    const lines = read('values.yaml').split('\n');
    const undocumented = lines
      .map((line, n) => ({ line, n }))
      .filter(({ line }) => /^[A-Za-z][A-Za-z0-9]*:/.test(line))
      .filter(({ n }) => {
        const above = lines.slice(Math.max(0, n - 3), n);
        return !above.some((l) => l.startsWith('#'));
      })
      .map(({ line }) => line.split(':')[0]);
    expect(undocumented).toEqual([]);
  });

  it('keeps secure defaults', () => {
    expect(defaults).toMatchObject({
      replicaCount: 2,
      image: { pullPolicy: 'IfNotPresent' },
      podSecurityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      securityContext: {
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      service: { type: 'ClusterIP', port: 20128 },
      containerPort: 20128,
      ingress: { enabled: false },
      autoscaling: { enabled: false },
      podDisruptionBudget: { enabled: true },
      serviceAccount: { create: true, automountServiceAccountToken: false },
      serviceMonitor: { enabled: false },
      networkPolicy: { enabled: false },
      migrations: { enabled: true },
      dashboard: { enabled: true, label: 'grafana_dashboard', labelValue: '1' },
    });
  });

  it('gives SSE-friendly ingress defaults (no buffering, read timeout above UPSTREAM_TIMEOUT_MS)', () => {
    const annotations = (defaults.ingress as { annotations: Record<string, string> }).annotations;
    expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    const upstreamTimeoutS = validateEnv({}).UPSTREAM_TIMEOUT_MS / 1000;
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThan(
      upstreamTimeoutS,
    );
  });

  it('lets the grace period cover the preStop sleep plus SHUTDOWN_TIMEOUT_MS', () => {
    const { preStopSleepSeconds, timeoutMs } = defaults.shutdown as Record<string, number>;
    expect(preStopSleepSeconds).toBeGreaterThan(0);
    expect(timeoutMs).toBe(validateEnv({}).SHUTDOWN_TIMEOUT_MS);
    expect(defaults.terminationGracePeriodSeconds as number).toBeGreaterThan(
      preStopSleepSeconds + timeoutMs / 1000,
    );
  });
});

describe('templates (static)', () => {
  const sources = TEMPLATE_FILES.map((file) => ({ file, text: read(file) }));

  it('has every template the chart promises', () => {
    for (const file of [
      '_helpers.tpl',
      'deployment.yaml',
      'service.yaml',
      'ingress.yaml',
      'hpa.yaml',
      'pdb.yaml',
      'serviceaccount.yaml',
      'servicemonitor.yaml',
      'networkpolicy.yaml',
      'secret.yaml',
      'migrations-job.yaml',
      'dashboard-configmap.yaml',
      'NOTES.txt',
      'tests/test-connection.yaml',
    ]) {
      expect(TEMPLATE_FILES).toContain(join('templates', file));
    }
  });

  it('closes every if/range/with/define with an end', () => {
    // parseTemplate throws on a missing or stray {{ end }}; every file was parsed above.
    expect(PARSE_ERRORS).toEqual([]);
    expect([...parsed.keys()].sort()).toEqual([...TEMPLATE_FILES].sort());
    for (const { file, text } of sources) {
      const opens = (text.match(/\{\{-?\s*(if|range|with|define)\b/g) ?? []).length;
      const ends = (text.match(/\{\{-?\s*end\s*-?\}\}/g) ?? []).length;
      expect({ file, opens }).toEqual({ file, opens: ends });
    }
  });

  it('references only .Values paths that exist in values.yaml', () => {
    const missing: string[] = [];
    for (const { file, text } of sources) {
      const aliases = new Map<string, string[]>();
      for (const [, name, path] of text.matchAll(/(\$\w+)\s*:=\s*\.Values((?:\.\w+)+)/g)) {
        aliases.set(name, path.split('.').filter(Boolean));
      }
      const refs = [...text.matchAll(/\.Values((?:\.\w+)+)/g)].map((m) =>
        m[1].split('.').filter(Boolean),
      );
      for (const [, name, path] of text.matchAll(/(\$\w+)((?:\.\w+)+)/g)) {
        const base = aliases.get(name);
        if (base) {
          refs.push([...base, ...path.split('.').filter(Boolean)]);
        }
      }
      for (const ref of refs) {
        if (!valuesAt(defaults, ref).found) {
          missing.push(`${file}: .Values.${ref.join('.')}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('includes only templates defined in _helpers.tpl', () => {
    const helpers = parsed.get(join('templates', '_helpers.tpl'))!.defines;
    for (const { file, text } of sources) {
      for (const [, name] of text.matchAll(/include\s+"([^"]+)"/g)) {
        expect({ file, name, defined: helpers.has(name) }).toEqual({ file, name, defined: true });
      }
    }
  });

  it('names resources through the Release-scoped fullname helpers, never hard-coded', () => {
    const helper = /include "omniroute-gateway\.(fullname|migrationsName|serviceAccountName)"/;
    for (const { file, text } of sources.filter((s) => /\.yaml$/.test(s.file))) {
      const names = [...text.matchAll(/^metadata:\n(?: {2}.*\n)*? {2}name: (.*)$/gm)].map(
        (m) => m[1],
      );
      expect({ file, count: names.length > 0 }).toEqual({ file, count: true });
      for (const name of names) {
        // Either the helper itself or a variable assigned from it in the same file.
        const variable = /\$(\w+)/.exec(name)?.[0];
        const source = variable
          ? new RegExp(`\\${variable}\\s*:=\\s*(.*)`).exec(text)?.[1]
          : undefined;
        expect({ file, name, scoped: helper.test(name) || helper.test(source ?? '') }).toEqual({
          file,
          name,
          scoped: true,
        });
      }
    }
  });

  it('labels every resource and pod template through the helpers', () => {
    for (const { file, text } of sources.filter((s) => /\.yaml$/.test(s.file))) {
      const blocks = [...text.matchAll(/^( *)labels:\n\s+(.*)$/gm)];
      expect({ file, count: blocks.length > 0 }).toEqual({ file, count: true });
      for (const [, , first] of blocks) {
        expect({ file, first }).toEqual({
          file,
          first: expect.stringMatching(
            /^\{\{- include "omniroute-gateway\.(labels|migrationsLabels|testLabels)" \. \| nindent \d+ \}\}$/,
          ),
        });
      }
    }
  });
});

describe('rendered chart', () => {
  const cases = CI_FILES.map((file) => [file, ciValues(file)] as const);

  it.each(cases)(
    '%s renders to valid Kubernetes objects with release-scoped names',
    (_file, values) => {
      const r = render(values);
      expect(r.manifests.length).toBeGreaterThan(0);
      for (const m of r.manifests) {
        expect(m.apiVersion).toMatch(/\S/);
        expect(m.metadata.name).toMatch(/^gw(-|$)/);
        expect(m.metadata.name.length).toBeLessThanOrEqual(63);
        expect(m.metadata.labels).toMatchObject({
          'app.kubernetes.io/name': 'omniroute-gateway',
          'app.kubernetes.io/instance': 'gw',
          'app.kubernetes.io/version': expect.any(String),
          'app.kubernetes.io/managed-by': 'Helm',
          'app.kubernetes.io/component': expect.any(String),
          'helm.sh/chart': 'omniroute-gateway-0.1.0',
        });
      }
      const kinds = new Set(r.manifests.map((m) => `${m.apiVersion}/${m.kind}`));
      for (const kind of kinds) {
        expect([
          'apps/v1/Deployment',
          'v1/Service',
          'v1/Secret',
          'v1/ServiceAccount',
          'v1/ConfigMap',
          'v1/Pod',
          'batch/v1/Job',
          'networking.k8s.io/v1/Ingress',
          'networking.k8s.io/v1/NetworkPolicy',
          'autoscaling/v2/HorizontalPodAutoscaler',
          'policy/v1/PodDisruptionBudget',
          'monitoring.coreos.com/v1/ServiceMonitor',
        ]).toContain(kind);
      }
    },
  );

  it('scopes names to the release and honours fullnameOverride', () => {
    const names = (r: Rendered): string[] => r.manifests.map((m) => m.metadata.name);
    expect(names(render(minimal, { Name: 'prod' }))).toEqual(
      expect.arrayContaining(['prod-omniroute-gateway', 'prod-omniroute-gateway-migrations']),
    );
    expect(names(render(minimal, { Name: 'omniroute-gateway-eu' }))).toContain(
      'omniroute-gateway-eu',
    );
    const long = render(minimal, { Name: 'a'.repeat(60) });
    for (const m of long.manifests) {
      expect(m.metadata.name.length).toBeLessThanOrEqual(63);
    }
    expect(names(render(mergeValues(minimal, { fullnameOverride: 'ai-gw' })))).toContain('ai-gw');
  });

  it.each(cases)(
    '%s: the gateway env names only variables the app reads and passes validateEnv in production',
    (_file, values) => {
      const r = render(values);
      const env = gatewayContainer(r).env ?? [];
      const names = env.map((e) => e.name);
      expect(names.filter((n) => !ENV_KEYS.includes(n))).toEqual([]);
      expect(names.length).toBe(new Set(names).size);
      const resolved = resolveEnv(r, env);
      const validated = validateEnv(resolved);
      expect(validated).toMatchObject({
        NODE_ENV: 'production',
        PORT: 20128,
        DATA_DIR: '/app/data',
        DATABASE_URL: expect.stringMatching(/^postgres/),
        REDIS_URL: expect.stringMatching(/^rediss?:/),
        ENCRYPTION_KEY: expect.any(String),
        JWT_SECRET: expect.any(String),
        MIGRATIONS_RUN: false,
      });
      const shutdown = values.shutdown as { timeoutMs: number };
      expect(validated.SHUTDOWN_TIMEOUT_MS).toBe(shutdown.timeoutMs);
      for (const [name, value] of Object.entries(values.env as Values)) {
        expect({ name, value: resolved[name] }).toEqual({ name, value: String(value) });
      }
    },
  );

  it('writes large numbers in env as plain integers (Helm decodes values as float64)', () => {
    const r = render(ciValues('full-values.yaml'));
    expect(resolveEnv(r, gatewayContainer(r).env ?? []).UPSTREAM_TIMEOUT_MS).toBe('1200000');
  });

  it('sets MIGRATIONS_RUN=true and renders no Job when the migration hook is disabled', () => {
    const r = render(mergeValues(minimal, { migrations: { enabled: false } }));
    expect(r.byKind('Job')).toEqual([]);
    expect(resolveEnv(r, gatewayContainer(r).env ?? []).MIGRATIONS_RUN).toBe('true');
  });

  it('hardens the Deployment: security contexts, probes, preStop drain, writable emptyDirs', () => {
    const r = render(minimal);
    const deployment = one(r, 'Deployment');
    const pod = podTemplate(deployment).spec;
    const c = gatewayContainer(r);
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 20128, protocol: 'TCP' }]);
    expect(c.startupProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(c.resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    const preStop = c.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop[0]).toBe('sleep');
    const sleep = Number(preStop[1]);
    const drain = Number(resolveEnv(r, c.env ?? []).SHUTDOWN_TIMEOUT_MS) / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(sleep + drain);
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    expect(mounts).toMatchObject({ '/app/data': 'data', '/tmp': 'tmp' });
    for (const name of ['data', 'tmp']) {
      expect(pod.volumes?.find((v) => v.name === name)?.emptyDir).toBeDefined();
    }
  });

  it('spreads pods softly over zones and nodes, selecting its own pods', () => {
    const r = render(minimal);
    const template = podTemplate(one(r, 'Deployment'));
    const spread = template.spec.topologySpreadConstraints ?? [];
    expect(spread).toEqual([
      expect.objectContaining({
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
      }),
      expect.objectContaining({
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
      }),
    ]);
    for (const s of spread) {
      const selector = s.labelSelector?.matchLabels ?? {};
      expect(Object.keys(selector)).toContain('app.kubernetes.io/instance');
      expect(template.metadata.labels).toMatchObject(selector);
    }
  });

  it('rolls the pods when a secret value changes, not when nothing does', () => {
    const checksum = (v: Values): string | undefined =>
      podTemplate(one(render(v), 'Deployment')).metadata.annotations?.['checksum/secret'];
    expect(checksum(minimal)).toMatch(/^[a-f0-9]{64}$/);
    expect(checksum(minimal)).toBe(checksum(minimal));
    expect(checksum(mergeValues(minimal, { secrets: { jwtSecret: 'x'.repeat(40) } }))).not.toBe(
      checksum(minimal),
    );
  });

  it('routes Service, PDB and NetworkPolicy to the gateway pods only (not the Job or test pods)', () => {
    const r = render(ciValues('full-values.yaml'));
    const podLabels = podTemplate(one(r, 'Deployment')).metadata.labels;
    const jobLabels = podTemplate(one(r, 'Job')).metadata.labels;
    const testLabels = r.byKind('Pod')[0].metadata.labels ?? {};
    const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    const selectors = [
      (one(r, 'Service').spec as { selector: Record<string, string> }).selector,
      (one(r, 'PodDisruptionBudget').spec as { selector: { matchLabels: Record<string, string> } })
        .selector.matchLabels,
      (one(r, 'NetworkPolicy').spec as { podSelector: { matchLabels: Record<string, string> } })
        .podSelector.matchLabels,
      (one(r, 'Deployment').spec as { selector: { matchLabels: Record<string, string> } }).selector
        .matchLabels,
    ];
    for (const selector of selectors) {
      expect(matches(selector, podLabels)).toBe(true);
      expect(matches(selector, jobLabels)).toBe(false);
      expect(matches(selector, testLabels)).toBe(false);
    }
    expect(one(r, 'Service').spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'http', port: 20128, targetPort: 'http' }],
    });
  });

  it('runs migrations in a pre-install/pre-upgrade hook Job with the gateway image and the same secrets', () => {
    for (const file of CI_FILES) {
      const r = render(ciValues(file));
      const job = one(r, 'Job');
      expect(job.metadata.annotations).toMatchObject({
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-weight': expect.any(String),
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      const pod = podTemplate(job).spec;
      const [migrate] = pod.containers;
      expect(migrate.image).toBe(gatewayContainer(r).image);
      expect(migrate.command).toEqual(['node', 'dist/src/database/migrate.cli.js']);
      expect(migrate.securityContext).toEqual(gatewayContainer(r).securityContext);
      expect(pod.securityContext).toEqual(podTemplate(one(r, 'Deployment')).spec.securityContext);
      // The chart's ServiceAccount does not exist yet when a pre-install hook runs.
      expect(pod.serviceAccountName).toBe('default');
      const jobEnv = resolveEnv(r, migrate.env ?? []);
      const podEnv = resolveEnv(r, gatewayContainer(r).env ?? []);
      expect(validateEnv(jobEnv).NODE_ENV).toBe('production');
      for (const name of ['DATABASE_URL', 'ENCRYPTION_KEY', 'JWT_SECRET']) {
        expect({ file, name, value: jobEnv[name] }).toEqual({ file, name, value: podEnv[name] });
      }
      // Every Secret the Job reads exists before the Job: a hook Secret with a lower weight, or a
      // Secret the chart does not render (existingSecret). Never the release's own Secret.
      const hookSecrets = new Map(
        r
          .byKind('Secret')
          .filter((s) => s.metadata.annotations?.['helm.sh/hook'])
          .map((s) => [s.metadata.name, s] as const),
      );
      const releaseSecrets = r
        .byKind('Secret')
        .filter((s) => !s.metadata.annotations?.['helm.sh/hook'])
        .map((s) => s.metadata.name);
      for (const e of migrate.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) {
          continue;
        }
        expect({
          file,
          env: e.name,
          secret: ref.name,
          release: releaseSecrets.includes(ref.name),
        }).toEqual({
          file,
          env: e.name,
          secret: ref.name,
          release: false,
        });
        const hook = hookSecrets.get(ref.name);
        if (hook) {
          expect(hook.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
          expect(Number(hook.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(
            Number(job.metadata.annotations?.['helm.sh/hook-weight']),
          );
        }
      }
    }
  });

  it('renders no Secret at all when everything comes from existing Secrets', () => {
    const r = render(ciValues('existing-secret-values.yaml'));
    expect(r.byKind('Secret')).toEqual([]);
    const refs = (gatewayContainer(r).env ?? []).flatMap((e) =>
      e.valueFrom?.secretKeyRef
        ? [`${e.name}=${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]
        : [],
    );
    expect(refs).toEqual(
      expect.arrayContaining([
        'DATABASE_URL=omniroute-pg-app/uri',
        'REDIS_URL=omniroute-redis-url/url',
        'ENCRYPTION_KEY=omniroute-gateway-secrets/ENCRYPTION_KEY',
        'JWT_SECRET=omniroute-gateway-secrets/JWT_SECRET',
        'INITIAL_ADMIN_KEY=omniroute-gateway-secrets/INITIAL_ADMIN_KEY',
      ]),
    );
  });

  it('generates an initial admin key into its Secret unless one is given', () => {
    const adminKey = (v: Values): string => {
      const r = render(v);
      return resolveEnv(r, gatewayContainer(r).env ?? []).INITIAL_ADMIN_KEY;
    };
    expect(adminKey(minimal)).toMatch(/^sk-[A-Za-z0-9]{40}$/);
    expect(validateEnv({ INITIAL_ADMIN_KEY: adminKey(minimal) }).INITIAL_ADMIN_KEY).toBeDefined();
    expect(adminKey(ciValues('ingress-tls-values.yaml'))).toBe('sk-ci-ingress-0123456789abcdef');
  });

  it('fails with a clear message when required values are missing or contradictory', () => {
    const without = (section: string, key: string): Values => {
      const v = mergeValues(minimal, {});
      v[section] = { ...(v[section] as Values), [key]: '' };
      return v;
    };
    expect(renderFails(without('secrets', 'encryptionKey'))).toMatch(
      /secrets\.encryptionKey is required.*existingSecret/,
    );
    expect(renderFails(without('secrets', 'jwtSecret'))).toMatch(/secrets\.jwtSecret is required/);
    expect(renderFails(without('externalDatabase', 'url'))).toMatch(
      /external PostgreSQL is required.*externalDatabase\.url/,
    );
    expect(renderFails(without('externalRedis', 'url'))).toMatch(
      /external Redis is required.*externalRedis\.url/,
    );
    expect(
      renderFails(mergeValues(minimal, { externalDatabase: { existingSecret: 'db' } })),
    ).toMatch(/either url or existingSecret/);
    expect(renderFails(mergeValues(minimal, { terminationGracePeriodSeconds: 30 }))).toMatch(
      /terminationGracePeriodSeconds \(30\) must exceed .* \(30 s\)/,
    );
    expect(
      renderFails(mergeValues(minimal, { podDisruptionBudget: { maxUnavailable: 1 } })),
    ).toMatch(/not both/);
    expect(
      renderFails(mergeValues(minimal, { extraEnv: [{ name: 'LOG_LEVEL', value: 'debug' }] })),
    ).toMatch(/already set in env/);
    // existingSecret replaces the secret values, not the database.
    expect(() =>
      render(
        mergeValues(minimal, {
          secrets: { existingSecret: 'mine', encryptionKey: '', jwtSecret: '' },
        }),
      ),
    ).not.toThrow();
  });

  it('renders a PodDisruptionBudget only with more than one replica (or HPA minimum)', () => {
    expect(one(render(minimal), 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 1 });
    expect(render(mergeValues(minimal, { replicaCount: 1 })).byKind('PodDisruptionBudget')).toEqual(
      [],
    );
    const hpaAtOne = mergeValues(minimal, { autoscaling: { enabled: true, minReplicas: 1 } });
    expect(render(hpaAtOne).byKind('PodDisruptionBudget')).toEqual([]);
    expect(render(hpaAtOne).notes).toContain('WARNING: autoscaling.minReplicas is 1');
  });

  it('renders the ingress with TLS, the SSE annotations and the service backend', () => {
    const r = render(ciValues('ingress-tls-values.yaml'));
    const ingress = one(r, 'Ingress');
    expect(ingress.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '660',
      'cert-manager.io/cluster-issuer': 'letsencrypt',
    });
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ secretName: 'ai-example-com-tls', hosts: ['ai.example.com'] }],
      rules: [
        {
          host: 'ai.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'gw-omniroute-gateway', port: { number: 20128 } } },
              },
            ],
          },
        },
      ],
    });
    expect(r.notes).toContain('https://ai.example.com/');
  });

  it('renders HPA (CPU, memory, requests/s per pod), ServiceMonitor and NetworkPolicy from full-values', () => {
    const r = render(ciValues('full-values.yaml'));
    expect((one(r, 'Deployment').spec as Values).replicas).toBeUndefined();
    const hpa = one(r, 'HorizontalPodAutoscaler').spec as {
      scaleTargetRef: Values;
      minReplicas: number;
      metrics: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[];
    };
    expect(hpa.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'gw-omniroute-gateway',
    });
    expect(hpa.minReplicas).toBe(3);
    expect(hpa.metrics.map((m) => m.resource?.name ?? m.pods?.metric.name)).toEqual([
      'cpu',
      'memory',
      'gateway_requests_per_second',
    ]);

    const sm = one(r, 'ServiceMonitor');
    expect(sm.metadata).toMatchObject({
      namespace: 'monitoring',
      labels: { release: 'kube-prometheus-stack' },
    });
    expect(sm.spec).toMatchObject({
      namespaceSelector: { matchNames: ['ai'] },
      endpoints: [{ port: 'http', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }],
    });

    const np = one(r, 'NetworkPolicy').spec as {
      policyTypes: string[];
      ingress: { from?: Values[]; ports: { port: number }[] }[];
      egress: { ports?: { port: number; protocol: string }[] }[];
    };
    expect(np.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.ingress[0].ports).toEqual([{ port: 20128, protocol: 'TCP' }]);
    expect(np.ingress[0].from).toContainEqual({
      podSelector: { matchLabels: { 'gw-omniroute-gateway-client': 'true' } },
    });
    const egressPorts = np.egress.flatMap((e) =>
      (e.ports ?? []).map((p) => `${p.protocol}/${p.port}`),
    );
    expect(egressPorts).toEqual(
      expect.arrayContaining(['UDP/53', 'TCP/53', 'TCP/5432', 'TCP/6379', 'TCP/443', 'TCP/11434']),
    );
    // The helm test pod carries the client label the policy admits.
    expect(r.byKind('Pod')[0].metadata.labels).toMatchObject({
      'gw-omniroute-gateway-client': 'true',
    });
  });

  it('ships the Grafana dashboard in a ConfigMap for the sidecar', () => {
    const file = 'dashboards/omniroute-gateway.json';
    const template = read(join('templates', 'dashboard-configmap.yaml'));
    expect(template).toContain(`.Files.Get "${file}"`);
    expect(existsSync(join(CHART, file))).toBe(true);
    const r = render(ciValues('full-values.yaml'));
    const cm = one(r, 'ConfigMap');
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.annotations).toEqual({ grafana_folder: 'OmniRoute' });
    const data = cm.data as Record<string, string>;
    expect(JSON.parse(data['omniroute-gateway.json'])).toEqual(JSON.parse(read(file)));
    expect(
      render(mergeValues(minimal, { dashboard: { enabled: false } })).byKind('ConfigMap'),
    ).toEqual([]);
  });

  it('has a helm test pod that checks /health/ready through the Service with the gateway image', () => {
    const r = render(minimal);
    const [pod] = r.byKind('Pod');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const spec = pod.spec as PodSpec;
    expect(spec.containers[0].image).toBe(gatewayContainer(r).image);
    expect(spec.containers[0].command?.join(' ')).toMatch(
      /host: 'gw-omniroute-gateway', port: 20128,\s+path: '\/health\/ready'/,
    );
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true });
  });

  it('pins the image by digest or tag (default: appVersion)', () => {
    expect(gatewayContainer(render(minimal)).image).toBe(
      `omniroute-gateway:${chartYaml.appVersion}`,
    );
    expect(gatewayContainer(render(ciValues('full-values.yaml'))).image).toBe(
      'registry.example.com/platform/omniroute-gateway:0.1.0',
    );
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(gatewayContainer(render(mergeValues(minimal, { image: { digest } }))).image).toBe(
      `omniroute-gateway@${digest}`,
    );
  });

  it('writes NOTES with access, the admin key command, /docs, /metrics and replica warnings', () => {
    const notes = render(minimal).notes;
    expect(notes).toContain(
      'kubectl --namespace ai port-forward svc/gw-omniroute-gateway 20128:20128',
    );
    expect(notes).toMatch(
      /get secret gw-omniroute-gateway -o jsonpath='\{\.data\.initial-admin-key\}' \| base64 -d/,
    );
    expect(notes).toContain('/docs');
    expect(notes).toContain('/metrics');
    expect(notes).toContain('autoscaling is disabled');
    expect(notes).not.toContain('WARNING: replicaCount');
    expect(render(mergeValues(minimal, { replicaCount: 1 })).notes).toContain(
      'WARNING: replicaCount is 1',
    );
    const existing = render(ciValues('existing-secret-values.yaml')).notes;
    expect(existing).toContain(
      "get secret omniroute-gateway-secrets -o jsonpath='{.data.INITIAL_ADMIN_KEY}'",
    );
    expect(render(ciValues('full-values.yaml')).notes).not.toContain('autoscaling is disabled');
  });
});
