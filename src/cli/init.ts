import { relative } from "node:path";
import { parseArgs } from "node:util";
import { CommandRunner } from "../build/command-runner.js";
import { oneOf } from "../config/kinds.js";
import { parseFlagValue } from "../config/resolve.js";
import { ConfigurationError } from "../errors.js";
import { scaffoldProject, templateSummaries, type TemplateName } from "../scaffold/scaffold.js";
import type { CliCommand } from "./command.js";

const templateNames = Object.keys(templateSummaries) as TemplateName[];

const usage = `Usage: sagemaker-byoc init [folder] [options]

Makes a project that serves at once: code/inference.ts (typed handlers), model/ (a sample model),
test/ (the handlers tested in-process), tsconfig.json, .gitignore, and package.json with the
"start" and "test" scripts. In a folder that has a package.json (after npm init), completes it.
Never asks anything, and never overwrites a file.

Options:
  --template <name>   (default onnx-tabular)
${templateNames.map((name) => `                        ${name.padEnd(13)} ${templateSummaries[name]}`).join("\n")}
  --no-install        do not run npm install afterwards
  -h, --help          this text`;

const options = {
  template: { type: "string" },
  "no-install": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** `init`: a new project from a template, ready for `npm test` and `npm start`. */
export const initCommand: CliCommand = {
  name: "init",
  summary: "make a project (handlers, sample model, test) that serves at once",
  usage,
  async run(argv, env) {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (positionals.length > 1) throw new ConfigurationError(`init takes one folder, got ${positionals.length}: ${positionals.join(" ")}`);
    const template: TemplateName = parseFlagValue("--template", values.template, oneOf(templateNames)) ?? "onnx-tabular";
    const result = await scaffoldProject({ dir: positionals[0] ?? ".", template });
    const where = relative(process.cwd(), result.dir) || ".";
    const report = (line: string) => console.error(line);
    report(`${template} project in ${result.dir}`);
    for (const file of result.created) report(`  created ${file}`);
    for (const file of result.merged) report(`  completed ${file}`);
    for (const file of result.kept) report(`  kept your ${file}`);
    for (const change of result.manifestChanges) report(`    package.json ${change}`);
    if (values["no-install"] !== true) {
      // The scaffold's .npmrc skips onnxruntime-node's CUDA download; the variable does it for npm versions that warn about the setting.
      await new CommandRunner(env, report).run("npm", ["install", "--no-audit", "--no-fund"], { cwd: result.dir, stream: true, env: { ONNXRUNTIME_NODE_INSTALL: "skip" } });
    }
    console.log(
      [
        "Next:",
        ...(where === "." ? [] : [`  cd ${where}`]),
        ...(values["no-install"] === true ? ["  npm install"] : []),
        "  npm test                                  # the handlers, in-process",
        "  npm start                                 # serves model/ on http://localhost:8080 (README.md: a request to try)",
        "  npx sagemaker-byoc build --model model    # the image; then: npx sagemaker-byoc run",
      ].join("\n"),
    );
    return 0;
  },
};
