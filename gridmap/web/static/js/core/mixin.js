/*
 * core/mixin.js: a page class whose methods live in several modules (one per concern), so
 * that no file grows past a few hundred lines while `this` stays one object, as the tests and
 * the other methods see it.
 */

/** Copy the methods (and getters) of each class in `parts` onto `target`'s prototype. */
export function mixin(target, ...parts) {
  parts.forEach((part) => {
    Object.getOwnPropertyNames(part.prototype).forEach((name) => {
      if (name === 'constructor') return;
      Object.defineProperty(target.prototype, name,
        Object.getOwnPropertyDescriptor(part.prototype, name));
    });
  });
  return target;
}
