import assert from "node:assert/strict";
import { test } from "node:test";
import { parseArgs } from "node:util";
import { asyncModeSettings, asyncSettings } from "../../src/config/async-config.js";
import { buildSettings } from "../../src/config/build-settings.js";
import { pipelineSettings } from "../../src/config/pipeline-config.js";
import { pushSettings } from "../../src/config/push-settings.js";
import { serverSettings } from "../../src/config/server-config.js";
import type { CommandName } from "../../src/config/setting.js";
import { asyncRequestsCommand } from "../../src/cli/async-requests.js";
import { buildCommand } from "../../src/cli/build.js";
import type { CliCommand } from "../../src/cli/command.js";
import { gatewayCommand } from "../../src/cli/gateway.js";
import { invokeAsyncCommand } from "../../src/cli/invoke-async.js";
import { invokeCommand } from "../../src/cli/invoke.js";
import { pipelineCommand } from "../../src/cli/pipeline.js";
import { pushCommand } from "../../src/cli/push.js";
import { serveCommand } from "../../src/cli/serve.js";
import { settingFlagOptions, settingFlagUsage } from "../../src/cli/setting-flags.js";

const groups = [serverSettings, asyncModeSettings, asyncSettings, pipelineSettings, buildSettings, pushSettings];
const commands: Record<CommandName, CliCommand> = {
  serve: serveCommand,
  gateway: gatewayCommand,
  pipeline: pipelineCommand,
  invoke: invokeCommand,
  "invoke-async": invokeAsyncCommand,
  "async-requests": asyncRequestsCommand,
  build: buildCommand,
  push: pushCommand,
};

/** Every flag the schema declares for `command`, by name. */
function declaredFlags(command: CommandName): Set<string> {
  return new Set(groups.flatMap((group) => group.entries.flatMap(({ setting }) => setting.flags.filter((flag) => flag.commands.includes(command)).map((flag) => flag.name))));
}

test("each command's usage lists every flag the settings declare for it, with its variable", () => {
  for (const [name, command] of Object.entries(commands) as [CommandName, CliCommand][]) {
    const flags = declaredFlags(name);
    assert.ok(flags.size > 0, `${name} takes settings as flags`);
    for (const flag of flags) assert.match(command.usage, new RegExp(`^  ${flag}\\b`, "m"), `${name} --help lists ${flag}`);
  }
  assert.match(serveCommand.usage, /--port <n> +TCP port \(\$SAGEMAKER_BIND_TO_PORT, default 8080\)/);
  assert.equal(serveCommand.usage.match(/^ {2}--log-level /gm)?.length, 1, "a flag two groups share is listed once");
});

test("the parseArgs options take exactly the declared flags: values as strings, switches as booleans, --tag repeatable", () => {
  const options = settingFlagOptions(groups, "build");
  assert.deepEqual(new Set(Object.keys(options).map((name) => `--${name}`)), declaredFlags("build"));
  const { values } = parseArgs({ args: ["--tag", "a:1", "--tag", "b:2", "--no-build", "--target", "gpu"], options, strict: true });
  assert.deepEqual({ ...values }, { tag: ["a:1", "b:2"], "no-build": true, target: "gpu" });
  assert.throws(() => parseArgs({ args: ["--no-build=yes"], options, strict: true }), /does not take an argument/);
  assert.throws(() => parseArgs({ args: ["--port", "1"], options, strict: true }), /Unknown option '--port'/, "serve's flags are not build's");
});

test("usage texts show descriptions without the tables' Markdown, wrapped under the description column", () => {
  const usage = settingFlagUsage([serverSettings], "serve");
  assert.ok(!usage.includes("`") && !usage.includes("**"), usage);
  for (const line of usage.split("\n")) {
    assert.ok(line.length <= 100 || !line.trim().includes(" "), `at most 100 columns: ${line}`);
    assert.match(line, /^ {2}--|^ {29}\S/, `a flag line or a continuation: ${JSON.stringify(line)}`);
  }
  assert.equal(settingFlagUsage([asyncModeSettings, asyncSettings], "serve", [serverSettings]).includes("--log-level"), false);
});
