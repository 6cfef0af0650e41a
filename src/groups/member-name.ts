/** Rules for the names people give themselves when they join: shown to admins and to other members. */
export const MAX_MEMBER_NAME_BYTES = 64;

/** C0 and C1 control characters, DEL, line and paragraph separators, bidi overrides and isolates. */
export function hasForbiddenCharacters(text: string): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

/** Null when the name is acceptable, else a sentence saying what is wrong with it. */
export function memberNameProblem(name: string): string | null {
  if (name.length === 0) return 'the name is empty';
  if (new TextEncoder().encode(name).length > MAX_MEMBER_NAME_BYTES) {
    return `the name is longer than ${MAX_MEMBER_NAME_BYTES} bytes`;
  }
  if (name.trim() !== name) return 'the name starts or ends with spaces';
  if (hasForbiddenCharacters(name)) return 'the name contains control characters';
  return null;
}
