/**
 * Byte equality in time that depends on the length only, for secrets (tokens, session keys): what
 * node:crypto's timingSafeEqual does, without loading node:crypto (base/entropy.ts says why).
 */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
