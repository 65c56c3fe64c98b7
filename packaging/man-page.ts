/**
 * edge-infer(1) from the CLI's `--help` text (roff). Pure.
 */
function roffEscape(line: string): string {
  const escaped = line.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

export function manPage(version: string, helpText: string, date: Date): string {
  const day = date.toISOString().slice(0, 10);
  return [
    `.TH EDGE-INFER 1 "${day}" "edge-infer ${version}" "User Commands"`,
    '.SH NAME',
    'edge\\-infer \\- edge inference runtime for Raspberry Pi class boards',
    '.SH SYNOPSIS',
    '.B edge\\-infer',
    '.I command',
    '[\\fIoptions\\fR]',
    '.SH DESCRIPTION',
    'Plans which variant of each model under /usr/lib/edge\\-infer/models runs on this board, runs it with onnxruntime',
    'inside a memory budget, and answers inference requests over MQTT. The service runs as',
    '.BR edge\\-infer.service ;',
    'its configuration is /etc/edge\\-infer/config.json.',
    '.PP',
    '.nf',
    ...helpText.trimEnd().split('\n').map(roffEscape),
    '.fi',
    '.SH FILES',
    '.TP',
    '/etc/edge\\-infer/config.json',
    'service configuration (kept on remove, deleted on purge)',
    '.TP',
    '/var/lib/edge\\-infer',
    'state: outbox, optimized\\-model cache, calibration',
    '.SH SEE ALSO',
    '.BR systemctl (1),',
    '.BR journalctl (1)',
    '',
  ].join('\n');
}
