/**
 * Sets `key` on a plain object built from parsed JSON. A "__proto__" key from JSON.parse is
 * an ordinary field and must stay one (plain assignment would set the prototype); every
 * other key is assigned plainly, because defining each property keeps V8 objects in slow
 * dictionary mode.
 */
export function setOwnField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
