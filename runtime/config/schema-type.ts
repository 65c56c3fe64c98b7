/**
 * `SchemaOf<T>`: the type of a JSON Schema (2020-12 subset) that describes the TypeScript type T.
 * A schema literal annotated with it cannot drift from T: every property of T must appear in
 * `properties` (and nothing else may), `required` may only name non-optional properties, each
 * value's schema must match its property type, and `default`/`enum` values must be of that type.
 * Not checked by the type: that a non-optional property left out of `required` has a `default`
 * (the schema tests cover that by validating minimal documents).
 *
 * The one way this project types its schemas (issue 16: profiles, the service config, manifests,
 * calibration). Chosen over ajv's `JSONSchemaType<T>`, which the profile and service config used
 * before: that type demands `nullable: true` on every optional key, which either lets `null` through
 * or needs a cast helper that makes the type say something the emitted schema does not; it cannot
 * type a mixed union as `anyOf` branches; and it ties our types to ajv's typings. Here "may be
 * absent" is simply "not in `required`", and the emitted JSON is exactly the literal.
 */

interface Annotations<T> {
  description?: string;
  title?: string;
  default?: T;
  examples?: readonly T[];
  $comment?: string;
}

type RequiredKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T];

interface StringSchema<T extends string> {
  type: 'string';
  enum?: readonly T[];
  const?: T;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: string;
}

interface NumberSchema<T extends number> {
  type: 'number' | 'integer';
  enum?: readonly T[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

interface ArraySchema<E> {
  type: 'array';
  items: SchemaOf<E>;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
}

/**
 * Records keyed by any string (`Record<string, V>`): every value by `additionalProperties`, or only
 * keys matching a pattern (`patternProperties`, everything else refused).
 */
type MapSchema<V> = { type: 'object'; propertyNames?: StringSchema<string>; minProperties?: number; required?: readonly never[] } & ({ additionalProperties: SchemaOf<V> } | { patternProperties: Readonly<Record<string, SchemaOf<V>>>; additionalProperties: false });

interface ObjectSchema<T> {
  type: 'object';
  additionalProperties: false;
  properties: { [K in keyof T]-?: SchemaOf<Exclude<T[K], undefined>> };
  required: readonly RequiredKeys<T>[];
}

type Single<T> = [T] extends [string] ? StringSchema<T> : [T] extends [number] ? NumberSchema<T> : [T] extends [boolean] ? { type: 'boolean' } : [T] extends [readonly (infer E)[]] ? ArraySchema<E> : [T] extends [object] ? (string extends keyof T ? MapSchema<T[string & keyof T]> : ObjectSchema<T>) : never;

/** Distributes over a union: one branch schema per member, for `anyOf`. */
type Branches<T> = T extends unknown ? Single<T> & Annotations<T> : never;

type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never;

/** Literal unions of one primitive ("a" | "b", 1 | 2, boolean) are one schema with `enum`; mixed unions need `anyOf`. */
type OnePrimitive<T> = [T] extends [string] ? true : [T] extends [number] ? true : [T] extends [boolean] ? true : false;

export type SchemaOf<T> = (true extends IsUnion<T> ? (true extends OnePrimitive<T> ? Single<T> : { anyOf: readonly Branches<T>[] }) : Single<T>) & Annotations<T>;

/** A whole file format's schema: `SchemaOf<T>` plus the root-only keywords. */
export type DocumentSchemaOf<T> = SchemaOf<T> & { $schema: string; $id?: string };
