/**
 * Refuses a Node.js older than the toolkit supports, before anything else is imported: the CLI's
 * first import. Node 20 reached its end of life in April 2026, and on it a TypeScript handlers
 * file in a package without `"type": "module"` fails to load (tsx hits Node 20's
 * `require()` of ES modules); a clear refusal at start beats a server stuck at 503.
 */

/** The oldest Node.js major version the toolkit runs on (package.json `engines`). */
export const minimumNodeMajor = 22;

/**
 * Why this Node.js version cannot run the toolkit, or `undefined` when it can.
 *
 * @example
 * ```ts
 * unsupportedNodeMessage("20.20.2"); // "sagemaker-byoc needs Node.js 22 or newer; this is Node.js 20.20.2. ..."
 * unsupportedNodeMessage("24.11.0"); // undefined
 * ```
 */
export function unsupportedNodeMessage(version: string): string | undefined {
  const major = Number(version.split(".")[0]);
  if (major >= minimumNodeMajor) return undefined;
  return (
    `sagemaker-byoc needs Node.js ${minimumNodeMajor} or newer; this is Node.js ${version}. ` +
    "Install Node.js 22 or 24 (LTS) and run the command again: https://nodejs.org/en/download"
  );
}

const refusal = unsupportedNodeMessage(process.versions.node);
if (refusal !== undefined) {
  console.error(refusal);
  process.exit(1);
}
