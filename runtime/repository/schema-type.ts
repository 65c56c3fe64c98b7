/**
 * `SchemaOf<T>`: the type of a JSON Schema (2020-12 subset) that describes the TypeScript type T.
 * A schema literal annotated with it cannot drift from T: every property of T must appear in
 * `properties` (and nothing else may), `required` may only name non-optional properties, each
 * value's schema must match its property type, and `default`/`enum` values must be of that type.
 * Not checked by the type: that a non-optional property left out of `required` has a `default`
 * (the schema tests cover that by validating minimal documents).
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

/** Records keyed by any string (`Record<string, V>`). */
interface MapSchema<V> {
  type: 'object';
  additionalProperties: SchemaOf<V>;
  propertyNames?: StringSchema<string>;
  minProperties?: number;
}

interface ObjectSchema<T> {
  type: 'object';
  additionalProperties: false;
  properties: { [K in keyof T]-?: SchemaOf<Exclude<T[K], undefined>> };
  required: readonly RequiredKeys<T>[];
}

type Single<T> = [T] extends [string]
  ? StringSchema<T>
  : [T] extends [number]
    ? NumberSchema<T>
    : [T] extends [boolean]
      ? { type: 'boolean' }
      : [T] extends [readonly (infer E)[]]
        ? ArraySchema<E>
        : [T] extends [object]
          ? string extends keyof T
            ? MapSchema<T[string & keyof T]>
            : ObjectSchema<T>
          : never;

/** Distributes over a union: one branch schema per member, for `anyOf`. */
type Branches<T> = T extends unknown ? Single<T> & Annotations<T> : never;

type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never;

/** Literal unions of one primitive ("a" | "b", 1 | 2, boolean) are one schema with `enum`; mixed unions need `anyOf`. */
type OnePrimitive<T> = [T] extends [string] ? true : [T] extends [number] ? true : [T] extends [boolean] ? true : false;

export type SchemaOf<T> = (true extends IsUnion<T>
  ? true extends OnePrimitive<T> ? Single<T> : { anyOf: readonly Branches<T>[] }
  : Single<T>) & Annotations<T>;
