import { hasForbiddenCharacters, memberNameProblem } from '../groups/member-name.js';
import { badRequest } from './http-error.js';

/**
 * Reading fields of untrusted request bodies (JSON or form): each reader returns the value or
 * throws an HttpError 400 naming the field in plain words.
 */
export type Fields = Record<string, unknown>;

export function asFields(body: unknown): Fields {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object or a form');
  return body as Fields;
}

export function text(fields: Fields, key: string, label: string, options: { max: number; min?: number; multiline?: boolean }): string {
  const value = fields[key];
  if (value === undefined || value === null) {
    if ((options.min ?? 1) === 0) return '';
    throw badRequest(`${label} is missing`);
  }
  if (typeof value !== 'string') throw badRequest(`${label} must be text`);
  const v = options.multiline === true ? value.replace(/\r\n/g, '\n') : value.trim();
  if (v.length < (options.min ?? 1)) throw badRequest(`${label} is missing`);
  if (v.length > options.max) throw badRequest(`${label} is longer than ${options.max} characters`);
  const controlFree = options.multiline === true ? v.replace(/[\n\t]/g, ' ') : v;
  if (hasForbiddenCharacters(controlFree)) throw badRequest(`${label} contains control characters`);
  return v;
}

export function memberName(fields: Fields, key = 'name'): string {
  const name = text(fields, key, 'the name', { max: 64 });
  const problem = memberNameProblem(name);
  if (problem !== null) throw badRequest(problem);
  return name;
}

// Local part: the usual unquoted characters (letters of any script included); domain: dot-separated labels.
const EMAIL = /^[\p{L}\p{N}.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}]{2,63}$/u;

export function email(fields: Fields, key = 'email'): string {
  const value = text(fields, key, 'the e-mail address', { max: 254 });
  if (!EMAIL.test(value)) throw badRequest('the e-mail address does not look right (expected name@example.org)');
  return value;
}

/** A checkbox (form: "on"/"true"/"1") or a JSON boolean. */
export function flag(fields: Fields, key: string): boolean {
  const value = fields[key];
  if (value === undefined || value === null || value === false || value === '') return false;
  if (value === true || value === 'on' || value === 'true' || value === '1') return true;
  throw badRequest(`${key} must be true or false`);
}

export function integer(fields: Fields, key: string, label: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw badRequest(`${label} must be a whole number`);
  return value;
}

export function pattern(fields: Fields, key: string, label: string, re: RegExp): string {
  const value = fields[key];
  if (typeof value !== 'string' || !re.test(value)) throw badRequest(`${label} is missing or malformed`);
  return value;
}

export const HEX32 = /^[0-9a-f]{32}$/;
