/**
 * Every error edge-infer can report, defined once (the fastify `lib/errors.js` pattern).
 *
 * Contract:
 * - A code is stable forever and never reused; tests, MQTT error payloads, logs and CLI exit codes
 *   all key on `code`, never on message text.
 * - `exit` is the CLI exit status for that code: 78 (EX_CONFIG) for anything an operator must fix in
 *   a file, so systemd's `RestartPreventExitStatus=78` stops a restart loop; 64 (EX_USAGE) for bad
 *   command-line arguments; 69 (EX_UNAVAILABLE) for missing services; 1 otherwise.
 * - `hint` says what to do next; it is appended to logs and error payloads.
 */

export const EX_USAGE = 64;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_CONFIG = 78;

interface ErrorDef {
  readonly exit: number;
  readonly hint: string;
}

export const ERROR_DEFS = {
  // --- configuration: profiles, service config, manifests (exit 78) ---
  EDGE_ERR_PROFILE_INVALID: { exit: EX_CONFIG, hint: 'fix the profile file; `edge-infer validate <file>` lists every problem' },
  EDGE_ERR_PROFILE_NOT_FOUND: { exit: EX_CONFIG, hint: 'pass a profile id from device-profiles/ or a path to a profile file' },
  EDGE_ERR_CONFIG_INVALID: { exit: EX_CONFIG, hint: 'fix the service config; `edge-infer validate <file>` lists every problem' },
  EDGE_ERR_MANIFEST_INVALID: { exit: EX_CONFIG, hint: 'fix models/<id>/model.json; `edge-infer validate models/<id>/model.json` lists every problem' },
  EDGE_ERR_MODELS_DIR: { exit: EX_CONFIG, hint: 'point --models at a folder holding <id>/model.json manifests' },
  EDGE_ERR_CREDENTIALS: { exit: EX_CONFIG, hint: 'check the credentials file exists, is readable by the service and is not group/world readable (chmod 600)' },
  // --- command line (exit 64) ---
  EDGE_ERR_USAGE: { exit: EX_USAGE, hint: 'run `edge-infer <command> --help`' },
  EDGE_ERR_INPUT_FILE: { exit: EX_USAGE, hint: 'pass --input a JSON file (or - for stdin) holding an array of numbers or a request object' },
  // --- model repository and integrity ---
  EDGE_ERR_MODEL_NOT_FOUND: { exit: EX_CONFIG, hint: 'list models with `edge-infer plan`; the id is the folder name under models/' },
  EDGE_ERR_VARIANT_NOT_FOUND: { exit: EX_CONFIG, hint: 'list variants with `edge-infer plan --json`' },
  EDGE_ERR_FILE_MISSING: { exit: EX_CONFIG, hint: 'restore the variant file or remove the variant from model.json' },
  EDGE_ERR_FILE_TRUNCATED: { exit: EX_CONFIG, hint: 'the file is shorter or longer than model.json says; restore it or rerun `edge-infer eval --update-manifest`' },
  EDGE_ERR_INTEGRITY: { exit: EX_CONFIG, hint: 'the file does not match its sha256 in model.json; restore it, or rerun `edge-infer eval --update-manifest` if the change was intended' },
  EDGE_ERR_PATH_ESCAPE: { exit: EX_CONFIG, hint: 'variant files must be plain files inside the model folder (no "..", absolute paths or symlinks out of it)' },
  EDGE_ERR_MODEL_INVALID: { exit: EX_CONFIG, hint: 'the file is not a model onnxruntime can load; re-export it or check `edge-infer inspect <file>`' },
  EDGE_ERR_MODEL_MISMATCH: { exit: EX_CONFIG, hint: "the model file's inputs/outputs differ from model.json; fix the manifest" },
  // --- planning and memory ---
  EDGE_ERR_NO_VARIANT_FITS: { exit: EX_CONFIG, hint: 'raise the memory budget, lower the accuracy floor or add a smaller variant; `edge-infer plan` shows why each variant was refused' },
  EDGE_ERR_BUDGET_EXCEEDED: { exit: EX_CONFIG, hint: 'raise memory.budgetMB in the profile (or MemoryMax in the unit), or load fewer models' },
  EDGE_ERR_CALIBRATION_INVALID: { exit: EX_CONFIG, hint: 'delete the calibration file and rerun `edge-infer bench --calibrate`' },
  // --- backends and inference ---
  EDGE_ERR_BACKEND_UNAVAILABLE: { exit: EX_UNAVAILABLE, hint: 'this platform has no binary for that backend; set inference.backend to "auto" or "wasm"' },
  EDGE_ERR_LOAD_FAILED: { exit: EX_SOFTWARE, hint: 'onnxruntime refused the model; check the log line for its message' },
  EDGE_ERR_INFERENCE_FAILED: { exit: EX_SOFTWARE, hint: 'onnxruntime failed while running; the request was not retried' },
  EDGE_ERR_WORKER_CRASHED: { exit: EX_SOFTWARE, hint: 'the inference worker died; it is restarted automatically' },
  EDGE_ERR_MODEL_UNAVAILABLE: { exit: EX_UNAVAILABLE, hint: 'the model is not loaded on this device (see status.plan for why)' },
  // --- requests (MQTT payloads and `infer` inputs) ---
  EDGE_ERR_BAD_JSON: { exit: EX_USAGE, hint: 'send a UTF-8 JSON object: {"id": "...", "input": [...]} or {"id": "...", "inputs": {...}}' },
  EDGE_ERR_BAD_REQUEST: { exit: EX_USAGE, hint: 'the request does not match the request schema; see the README section "MQTT topics and payloads"' },
  EDGE_ERR_UNKNOWN_MODEL: { exit: EX_USAGE, hint: 'publish to <prefix>/models/<model>/infer with a model listed in <prefix>/status' },
  EDGE_ERR_BAD_TENSOR: { exit: EX_USAGE, hint: "check dtype, shape and values against the model's inputs in <prefix>/status (no NaN or Infinity)" },
  EDGE_ERR_TOO_LARGE: { exit: EX_USAGE, hint: 'the payload or batch is over the configured maximum; split it' },
  EDGE_ERR_OVERLOADED: { exit: EX_UNAVAILABLE, hint: "the model's queue is full; retry after a short delay or lower the request rate" },
  EDGE_ERR_TIMEOUT: { exit: EX_UNAVAILABLE, hint: 'no answer in time; check the service is running and the broker reachable' },
  EDGE_ERR_SHUTTING_DOWN: { exit: EX_UNAVAILABLE, hint: 'the service is stopping; retry when <prefix>/status is online again' },
  // --- transport ---
  EDGE_ERR_BROKER_UNREACHABLE: { exit: EX_UNAVAILABLE, hint: 'check the broker URL and that the broker runs; the service keeps retrying with backoff' },
  EDGE_ERR_BROKER_AUTH: { exit: EX_CONFIG, hint: 'check the broker username/password (EDGE_INFER_MQTT_PASSWORD or the credentials file)' },
  EDGE_ERR_TLS: { exit: EX_CONFIG, hint: 'check the CA, client certificate and key paths and validity dates' },
  EDGE_ERR_OUTBOX_DEGRADED: { exit: EX_SOFTWARE, hint: 'the state directory is not writable (disk full or read-only); answers are kept in memory only until it is fixed' },
  // --- optimize tools ---
  EDGE_ERR_ONNX_PARSE: { exit: EX_CONFIG, hint: 'the file is not a readable ONNX protobuf' },
  EDGE_ERR_QUANTIZE_UNSUPPORTED: { exit: EX_CONFIG, hint: 'nothing in the model can be quantized that way; see `edge-infer inspect`' },
  EDGE_ERR_EVAL_SET_INVALID: { exit: EX_CONFIG, hint: 'an eval set is a JSON file {"inputs": [[...64 numbers...], ...], "labels": [...]}; see models/digits/eval/' },
  // --- issue 12 (service half): reply topics, state directory, caches ---
  EDGE_ERR_REPLY_TOPIC_REFUSED: { exit: EX_USAGE, hint: "name a reply topic outside the service's own tree, $-topics and the Home Assistant prefix, matching replyTopics.allow in the config" },
  EDGE_ERR_STATE_DIR: { exit: EX_CONFIG, hint: 'the state directory you chose (--state-dir, stateDir, $STATE_DIRECTORY) must be a writable folder; fix it or leave it unset' },
  EDGE_ERR_CACHE_DEGRADED: { exit: EX_SOFTWARE, hint: 'the optimized-model cache cannot be written (disk full or read-only); models load without it, more slowly, until the state directory has room' },
  // --- issue 11: images, audio, streams ---
  EDGE_ERR_BAD_IMAGE: { exit: EX_USAGE, hint: 'send a complete JPEG or PNG (content type image/jpeg or image/png, or JSON "image" in base64)' },
  EDGE_ERR_BAD_AUDIO: { exit: EX_USAGE, hint: 'send a PCM/float WAV (audio/wav) or raw PCM (audio/pcm with user properties rate and format s16le|f32le|u8)' },
  EDGE_ERR_STREAM_LIMIT: { exit: EX_UNAVAILABLE, hint: 'too many live streams for this model: end streams with a reset, wait for idle ones to expire, or raise streams.maxStreams' },
  // --- anything else ---
  // issue 15: fleet and Home Assistant
  EDGE_ERR_UNKNOWN_COMMAND: { exit: EX_USAGE, hint: 'commands on <prefix>/cmd/<name>: status, reload, pin, unpin, calibrate' },
  EDGE_ERR_GROUP_UNSUPPORTED: { exit: EX_CONFIG, hint: 'shared work needs an MQTT 5 broker with shared subscriptions (mosquitto 2); the embedded broker has none' },
  // issue 15 OTA: signed model updates
  EDGE_ERR_BUNDLE_SIGNATURE: { exit: 1, hint: 'sign the bundle with a key the device trusts (deploy.trustedKeys in its config); unsigned bundles are refused' },
  EDGE_ERR_BUNDLE_INVALID: { exit: 1, hint: 'a file of the bundle is missing, malformed or differs from the signed manifest; rebuild it with `edge-infer deploy` and send it again' },
  EDGE_ERR_DEPLOY_KEY: { exit: EX_CONFIG, hint: 'deploy keys are ed25519 PEM files: `edge-infer deploy --gen-key <file>` writes a pair (or `openssl genpkey -algorithm ed25519`)' },
  EDGE_ERR_DEPLOY_PREFLIGHT: { exit: 1, hint: 'the bundled model did not load, missed its eval accuracy or does not fit the budget on this device; the old model keeps serving' },
  EDGE_ERR_DEPLOY_HEALTH: { exit: 1, hint: 'the new model failed its health window (errors or latency over deploy.health*); the device rolled back to the previous model' },
  EDGE_ERR_DEPLOY_INTERRUPTED: { exit: EX_SOFTWARE, hint: 'the service stopped in the middle of a deploy; it restored the previous model at start: deploy again' },
  EDGE_ERR_DEPLOY_FAILED: { exit: EX_UNAVAILABLE, hint: 'the device did not take the bundle (see its deploy state); check that it is online, has deploy.trustedKeys set, and retry' },
  EDGE_ERR_INTERNAL: { exit: EX_SOFTWARE, hint: 'this is a bug; please report it with the log line' },
  // --- issue 10: static int8 calibration ---
  EDGE_ERR_CALIBRATION_FAILED: { exit: EX_CONFIG, hint: 'the calibration set did not run through the model (check its "shape" and that it matches the model input); see `edge-infer quantize --help`' },
  // --- issue 13: operator-proof CLI ---
  EDGE_ERR_OUTPUT_FILE: { exit: EX_USAGE, hint: 'pass -o a new file in an existing, writable folder with room: not a folder and not the input file' },
  EDGE_ERR_FILE_UNREADABLE: { exit: EX_USAGE, hint: 'check the path you passed: it must name an existing, readable file (not a folder)' },
  // --- issue 14: Node version, doctor ---
  EDGE_ERR_NODE_UNSUPPORTED: { exit: EX_CONFIG, hint: 'install Node.js 20 or later: Raspberry Pi OS trixie\'s apt nodejs, or NodeSource\'s apt repository on bookworm (README "Node.js on a Pi")' },
  EDGE_ERR_DOCTOR_FAILED: { exit: 1, hint: 'each failed check above says how to fix it; rerun `edge-infer doctor` after' },
  // --- issue 12: poison requests ---
  EDGE_ERR_RELOAD_FAILED: { exit: 1, hint: 'the service kept its previous configuration: its log line reload.failed says why; fix that and reload again' },
  EDGE_ERR_POISON_REQUEST: { exit: EX_SOFTWARE, hint: 'this exact input was being run when the inference worker (or the service) died, more than once: it is not run again; report it with the model and variant (details) or fix the model' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERROR_DEFS;

export interface EdgeErrorOptions {
  /** Machine-readable facts (file, JSON path, sizes...). Must be JSON-serialisable. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** The one error class of edge-infer. Throw it for caller mistakes; report it on long-running paths. */
export class EdgeError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: EdgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeError';
    this.code = code;
    this.exitCode = ERROR_DEFS[code].exit;
    this.hint = ERROR_DEFS[code].hint;
    this.details = options.details;
  }
}

export function isEdgeError(e: unknown): e is EdgeError {
  return e instanceof EdgeError;
}

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.hasOwn(ERROR_DEFS, s);
}

/** Any thrown value as an EdgeError (unknown errors become EDGE_ERR_INTERNAL, keeping the cause). */
export function asEdgeError(e: unknown): EdgeError {
  if (isEdgeError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new EdgeError('EDGE_ERR_INTERNAL', message, { cause: e });
}

/** The JSON shape of an error in MQTT payloads and `--json` CLI output. */
export interface ErrorPayload {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export function toErrorPayload(e: unknown): ErrorPayload {
  const err = asEdgeError(e);
  return err.details === undefined ? { code: err.code, message: err.message, hint: err.hint } : { code: err.code, message: err.message, hint: err.hint, details: err.details };
}
