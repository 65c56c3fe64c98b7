/**
 * Every JSON Schema the runtime validates with, and the ajv options they are compiled with. Build
 * time only: gen-validators.ts compiles this table to dist/runtime/generated/validators.cjs, and the
 * agreement test compiles it again with a fresh ajv. A schema passed to compileSchema must be listed
 * here (it fails with EDGE_ERR_INTERNAL on first use otherwise). Nothing at run time imports this file.
 */
import { profileSchema } from './profile-schema.js';
import { serviceConfigSchema } from './service-config-schema.js';
import { manifestSchema } from '../repository/manifest-schema.js';
import { calibrationSchema } from '../planner/calibration.js';
import { REQUEST_SCHEMA } from '../transport/request-schema.js';

/**
 * JSON Schema 2020-12 (Ajv2020), every problem reported, defaults filled in, strict schemas,
 * `type: [a, b]` allowed. The generated code bakes these in; changing them needs `npm run build`.
 */
export const AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true } as const;

/** Export name in the generated module -> schema. Names are identifiers. */
export const PRECOMPILED_SCHEMAS: Readonly<Record<string, object>> = { profile: profileSchema, serviceConfig: serviceConfigSchema, manifest: manifestSchema, calibration: calibrationSchema, request: REQUEST_SCHEMA };
