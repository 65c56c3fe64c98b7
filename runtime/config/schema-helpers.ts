/**
 * Helpers for writing JSON Schemas typed by ajv's `JSONSchemaType<T>`, so a schema and the interface
 * it validates cannot drift (tsc refuses a schema whose keys, types or required list disagree).
 */

/**
 * Marks a property schema as optional ("may be absent").
 *
 * `JSONSchemaType<T>` demands `nullable: true` on every optional key, which would also let `null`
 * through and put a non-standard keyword into the editor schema. We mean "may be absent", not "may be
 * null", so the keyword is only asserted at the type level and left out of the emitted schema: a
 * `null` is refused with "must be <type>".
 */
export function optional<S extends object>(schema: S): S & { nullable: true } {
  return schema as S & { nullable: true };
}
