/**
 * `npm run test:reliability`: the attacks of the issue "Reliability under attack", at full size,
 * one after another, each against fresh processes. Every `*.attack.ts` file in this folder exports
 * one {@link Attack}; add a file to add an attack. With no arguments it runs them all and writes
 * docs/reliability.md from what it measured; `npm run test:reliability -- <words>` runs the
 * attacks whose name or file contains one of the words and only prints. Exits 1 when an attack
 * did not hold. Linux only (figures come from /proc). Takes several minutes.
 */
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { duration, mebibytes, repoRoot, type Attack, type AttackResult } from "./harness.js";

interface Outcome {
  readonly attack: Attack;
  readonly result: AttackResult;
  readonly ms: number;
}

const here = fileURLToPath(new URL(".", import.meta.url));
const filters = process.argv.slice(2).map((word) => word.toLowerCase());

const files = (await readdir(here)).filter((file) => file.endsWith(".attack.ts")).sort();
const attacks: { file: string; attack: Attack }[] = [];
for (const file of files) attacks.push({ file, attack: ((await import(pathToFileURL(join(here, file)).href)) as { attack: Attack }).attack });
const selected = attacks.filter(({ file, attack }) => filters.length === 0 || filters.some((word) => file.includes(word) || attack.name.toLowerCase().includes(word)));
if (selected.length === 0) {
  console.error(`No attack matches ${filters.join(", ")}; there are: ${attacks.map(({ attack }) => attack.name).join("; ")}`);
  process.exit(2);
}

const outcomes: Outcome[] = [];
for (const { attack } of selected) {
  const workDir = await mkdtemp(join(tmpdir(), "byoc-reliability-"));
  const started = performance.now();
  console.error(`▶ ${attack.name}`);
  let result: AttackResult;
  try {
    result = await attack.run({ workDir, progress: (message) => console.error(`  ${message}`) });
  } catch (error) {
    result = { passed: false, outcome: `the attack itself failed: ${error instanceof Error ? error.message : String(error)}`, figures: {}, details: [] };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const ms = performance.now() - started;
  outcomes.push({ attack, result, ms });
  console.error(`${result.passed ? "✔" : "✖"} ${attack.name} (${duration(ms)}): ${result.outcome}`);
  for (const [label, value] of result.details) console.error(`    ${label}: ${value}`);
}

if (filters.length === 0) {
  await writeFile(join(repoRoot, "docs", "reliability.md"), report(outcomes));
  console.error("wrote docs/reliability.md");
}
process.exitCode = outcomes.every(({ result }) => result.passed) ? 0 : 1;

function report(results: readonly Outcome[]): string {
  const cell = (value: number | undefined, format: (value: number) => string) => (value === undefined ? "–" : format(value));
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const rows = results.map(({ attack, result }) => {
    const { requestsServed, failures, rssPeakBytes, pingP99Ms, pingMaxMs } = result.figures;
    return `| [${attack.name}](#${anchor(attack.name)}) | ${result.passed ? "held" : "**did not hold**"} | ${cell(requestsServed, String)} | ${cell(failures, String)} | ${cell(rssPeakBytes, mebibytes)} | ${cell(pingP99Ms, ms)} | ${cell(pingMaxMs, ms)} |`;
  });
  const sections = results.map(
    ({ attack, result, ms }) => `## ${attack.name}

${attack.description}

Expected: ${attack.expectation}.

Result: ${result.passed ? "held" : "**did not hold**"}: ${result.outcome}. (${duration(ms)})

${result.details.map(([label, value]) => `- ${label}: ${value}`).join("\n")}
`,
  );
  const [cpu] = cpus();
  return `# Reliability under attack

Written by \`npm run test:reliability\` (test/reliability/run.ts) from what it measured; do not edit
by hand. ${new Date().toISOString().slice(0, 10)}, ${cpu?.model ?? "unknown CPU"} (${cpus().length} cores), Linux ${release()},
Node ${process.version}.

Each attack reruns, at full size, one that an adversarial test of the server found (the issue
"Reliability under attack"), against fresh processes; each also has a scaled-down twin in the
default \`npm test\`. "Served" counts what was answered as the fix says (requests served or
refused as they should be, hostile archives refused, notifications kept, and for the connection
attack the pings answered), "failures" what was not; each attack's section says what else it
counted. The peak RSS is the attacked process's; \`/ping\` figures come from a probe sending one ping
after another during the attack, where one applies. New attacks are one file each in
test/reliability/ (see harness.ts).

| attack | result | served | failures | peak RSS | /ping p99 | /ping max |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}

${sections.join("\n")}`;
}

function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");
}
