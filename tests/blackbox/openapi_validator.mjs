// The OpenAPI contract (docs/openapi.json) as a response checker. The harness runs every response
// provisiond sends it through checkResponse(): a response on a documented operation whose status
// is not documented, whose required headers are missing or whose body does not match the schema
// throws, and so fails the test that made the request. OPENAPI_VALIDATE=0 turns it off.
//
// Matching follows provisiond's router (src/http/router.cpp): the query string is ignored, empty
// path segments (a trailing slash, `//`) are dropped, a `{param}` matches one non-empty segment,
// and HEAD is answered by the GET route (its body, empty, is not checked). A path or method the
// contract does not describe (HTML pages, 404s for unknown routes, 405s) is not checked.

import { appendFileSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SPEC_PATH = resolve(HERE, '../../docs/openapi.json');
const SPEC_ID = 'https://provisiond.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export class ContractViolation extends Error {
  constructor(message) {
    super(message);
    this.name = 'ContractViolation';
  }
}

export const enabled = process.env.OPENAPI_VALIDATE !== '0';

const splitPath = (path) => path.split('?')[0].split('/').filter((s) => s.length > 0);
const escapeToken = (s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));
const pointerOf = (tokens) => '#' + tokens.map((t) => '/' + escapeToken(String(t))).join('');
const mediaType = (contentType) => String(contentType ?? '').split(';')[0].trim().toLowerCase();
const isJson = (type) => type === 'application/json' || /^application\/[^/]+\+json$/.test(type);

function formatAjvErrors(errors) {
  return (errors ?? [])
    .map((e) => `  ${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''} [${e.schemaPath}]`)
    .join('\n');
}

/** A checker for one OpenAPI document (docs/openapi.json unless `spec` is given). */
export function createValidator(spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8'))) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, allowUnionTypes: true });
  addFormats(ajv);
  // The document is registered as one schema so that `#/components/…` refs resolve; its
  // top-level OpenAPI members are declared as (inert) keywords so that strict mode accepts it.
  ajv.addVocabulary(Object.keys(spec).filter((k) => !k.startsWith('$')));
  ajv.addSchema(spec, SPEC_ID, undefined, false);

  /** Follows local $refs; returns {node, tokens} (tokens: the JSON pointer of the target). */
  function deref(node, tokens) {
    const seen = new Set();
    while (node && typeof node === 'object' && typeof node.$ref === 'string') {
      const r = node.$ref;
      if (!r.startsWith('#/') || seen.has(r)) throw new Error(`openapi: unsupported or circular $ref ${r}`);
      seen.add(r);
      tokens = r.slice(2).split('/').map((t) => decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'));
      node = tokens.reduce((n, t) => (n == null ? undefined : n[t]), spec);
      if (node === undefined) throw new Error(`openapi: dangling $ref ${r}`);
    }
    return { node, tokens };
  }

  const compiled = new Map();
  function schemaAt(tokens) {
    const ptr = pointerOf(tokens);
    let v = compiled.get(ptr);
    if (!v) {
      v = ajv.getSchema(SPEC_ID + ptr);
      if (!v) throw new Error(`openapi: cannot compile the schema at ${ptr}`);
      compiled.set(ptr, v);
    }
    return v;
  }

  const operations = [];
  for (const [template, rawItem] of Object.entries(spec.paths ?? {})) {
    const item = deref(rawItem, ['paths', template]);
    for (const m of METHODS) {
      if (!item.node[m]) continue;
      const segments = splitPath(template);
      operations.push({
        method: m.toUpperCase(),
        template,
        segments,
        literals: segments.filter((s) => !/^\{.+\}$/.test(s)).length,
        op: item.node[m],
        tokens: [...item.tokens, m],
      });
    }
  }

  function matchesTemplate(segments, path) {
    if (segments.length !== path.length) return false;
    return segments.every((s, i) => /^\{.+\}$/.test(s) || s === path[i]);
  }

  /** The documented operation for a request, or null. */
  function findOperation(method, path) {
    const want = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
    const segs = splitPath(path);
    const candidates = operations
      .filter((o) => o.method === want && matchesTemplate(o.segments, segs))
      .sort((a, b) => b.literals - a.literals);
    return candidates[0] ?? null;
  }

  /** Every (operation, status) schema, compiled now: a broken schema fails at once. */
  function compileAll() {
    let n = 0;
    for (const o of operations) {
      for (const [status, raw] of Object.entries(o.op.responses ?? {})) {
        const r = deref(raw, [...o.tokens, 'responses', status]);
        for (const [type, media] of Object.entries(r.node.content ?? {})) {
          if (media.schema && isJson(type)) { schemaAt([...r.tokens, 'content', type, 'schema']); n++; }
        }
        for (const [name, rawHeader] of Object.entries(r.node.headers ?? {})) {
          const h = deref(rawHeader, [...r.tokens, 'headers', name]);
          if (h.node.schema) { schemaAt([...h.tokens, 'schema']); n++; }
        }
      }
    }
    return n;
  }

  /**
   * Checks one response. `res` is {status, headers (lower-case names), text}. Returns the matched
   * operation's template (or null when the contract does not describe the request); throws
   * ContractViolation when the response breaks the contract.
   */
  function check(method, path, res) {
    const o = findOperation(method, path);
    if (!o) return null;
    const where = `${method.toUpperCase()} ${path.split('?')[0]} (${o.method} ${o.template}) → ${res.status}`;
    const fail = (why) => {
      const body = typeof res.text === 'string' ? res.text.slice(0, 800) : '';
      throw new ContractViolation(`OpenAPI contract violation: ${where}: ${why}\nbody: ${body}`);
    };
    const responses = o.op.responses ?? {};
    const key = [String(res.status), `${String(res.status)[0]}XX`, 'default'].find((k) => responses[k] !== undefined);
    if (key === undefined) {
      fail(`status ${res.status} is not documented (documented: ${Object.keys(responses).join(', ')})`);
    }
    const r = deref(responses[key], [...o.tokens, 'responses', key]);
    const headers = res.headers ?? {};
    for (const [name, rawHeader] of Object.entries(r.node.headers ?? {})) {
      const h = deref(rawHeader, [...r.tokens, 'headers', name]);
      const value = headers[name.toLowerCase()];
      if (value === undefined) {
        if (h.node.required) fail(`required header ${name} is missing`);
        continue;
      }
      if (h.node.schema) {
        const v = schemaAt([...h.tokens, 'schema']);
        if (!v(value)) fail(`header ${name}: ${JSON.stringify(value)} does not match:\n${formatAjvErrors(v.errors)}`);
      }
    }
    const content = r.node.content;
    if (!content || method.toUpperCase() === 'HEAD') return o.template;
    const type = mediaType(headers['content-type']);
    const documented = Object.keys(content);
    const entry = documented.find((t) => t.toLowerCase() === type)
      ?? documented.find((t) => t.endsWith('/*') && type.startsWith(t.slice(0, -1)))
      ?? documented.find((t) => t === '*/*');
    if (!entry) fail(`Content-Type ${JSON.stringify(headers['content-type'])} is not documented (${documented.join(', ')})`);
    if (!isJson(entry) || !content[entry].schema) return o.template;
    let body;
    try {
      body = JSON.parse(res.text);
    } catch {
      fail('the body is not JSON');
    }
    const v = schemaAt([...r.tokens, 'content', entry, 'schema']);
    if (!v(body)) fail(`the body does not match response "${key}":\n${formatAjvErrors(v.errors)}`);
    return o.template;
  }

  return { spec, operations, findOperation, check, compileAll };
}

// ------------------------------------------------------------------------------------------------
// The process-wide checker the harness uses, with counters printed at exit.

let shared = null;
const counts = { validated: 0, undocumented: 0 };
export const coverage = new Map(); // "METHOD template" → responses validated

/** Checks a response from provisiond (no-op when OPENAPI_VALIDATE=0). Throws ContractViolation. */
export function checkResponse(method, path, res) {
  if (!enabled) return;
  shared ??= createValidator();
  const template = shared.check(method, path, res);
  if (template === null) {
    counts.undocumented++;
    return;
  }
  counts.validated++;
  const k = `${method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase()} ${template}`;
  coverage.set(k, (coverage.get(k) ?? 0) + 1);
  const ks = `${k} ${res.status}`;
  byStatus.set(ks, (byStatus.get(ks) ?? 0) + 1);
}
const byStatus = new Map(); // "METHOD template status" → responses validated

process.on('exit', () => {
  if (!enabled || counts.validated + counts.undocumented === 0) return;
  const file = basename(process.argv[1] ?? 'node');
  process.stderr.write(`openapi: ${file}: ${counts.validated} responses validated against docs/openapi.json (${counts.undocumented} on undocumented routes not checked)\n`);
  // OPENAPI_COVERAGE_FILE=path: one JSON line per test file, to see which statuses were seen.
  if (process.env.OPENAPI_COVERAGE_FILE) {
    appendFileSync(process.env.OPENAPI_COVERAGE_FILE, JSON.stringify({ file, ...counts, byStatus: Object.fromEntries(byStatus) }) + '\n');
  }
});
