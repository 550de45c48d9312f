/**
 * camelCase keys -> snake_case keys, deeply through plain objects and arrays: the JSON info routes
 * speak SGLang's snake_case while our TypeScript types are camelCase.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function snakeKeys(value: unknown): Json {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(v)]));
  }
  return value as Json;
}
