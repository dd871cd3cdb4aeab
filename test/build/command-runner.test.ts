import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { formatCommand, shellQuote } from "../../src/build/command-runner.js";
import { CommandFailedError } from "../../src/build/errors.js";
import { collectingRunner } from "./helpers/project.js";

test("prints the command, streams each output line of a long step, returns what it printed", async () => {
  const { runner, lines } = collectingRunner();
  const output = await runner.run("sh", ["-c", "echo one; printf 'two\\rthree\\n' >&2; printf tail"], { stream: true });
  assert.equal(output.exitCode, 0);
  assert.equal(output.stdout, "one\ntail");
  assert.equal(output.stderr, "two\rthree\n");
  assert.equal(lines[0], "$ sh -c 'echo one; printf '\\''two\\rthree\\n'\\'' >&2; printf tail'");
  assert.deepEqual(lines.slice(1).sort(), ["  one", "  tail", "  three", "  two"], "each stream is split into its own lines");
});

test("quiet probes print nothing; input goes to stdin, never to the printed command", async () => {
  const { runner, lines } = collectingRunner();
  const output = await runner.run("cat", [], { input: "s3cret", announce: false });
  assert.equal(output.stdout, "s3cret");
  assert.deepEqual(lines, []);
  const { runner: announced, lines: printed } = collectingRunner();
  const length = await announced.run("sh", ["-c", 'read password; echo "${#password}"'], { input: "s3cret\n" });
  assert.equal(length.stdout, "6\n");
  assert.ok(!printed.join("\n").includes("s3cret"));
});

test("a failing command throws with its exit code and last lines; allowFailure returns them", async () => {
  const { runner } = collectingRunner();
  await assert.rejects(runner.run("sh", ["-c", "for i in $(seq 1 60); do echo line $i; done; echo boom >&2; exit 3"]), (error: Error) => {
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.exitCode, 3);
    assert.equal(error.code, "COMMAND_FAILED");
    assert.match(error.message, /^sh -c .* exited with code 3:\n/);
    assert.match(error.message, /boom$/);
    assert.doesNotMatch(error.output, /line 20\n/, "only the last lines are kept");
    return true;
  });
  const allowed = await runner.run("sh", ["-c", "echo out; exit 4"], { allowFailure: true, announce: false });
  assert.equal(allowed.exitCode, 4);
  assert.equal(allowed.stdout, "out\n");
  await assert.rejects(runner.run("sh", ["-c", "exit 5"], { allowFailure: false }), /exited with code 5$/);
});

test("a missing command or one killed by a signal is reported as such", async () => {
  const { runner } = collectingRunner();
  await assert.rejects(runner.run("no-such-tool-here", ["x"]), (error: Error) => error instanceof CommandFailedError && error.exitCode === null && /no-such-tool-here x could not start: command not found/.test(error.message));
  await assert.rejects(runner.run("sh", ["-c", "kill -TERM $$"], { allowFailure: true }), /was killed by SIGTERM/);
  await assert.rejects(runner.run("sh", [], { cwd: "/no/such/dir" }), /could not start/);
});

test("which looks a command up on the runner's PATH", async () => {
  const { runner } = collectingRunner();
  assert.match((await runner.which("sh")) ?? "", /\/sh$/);
  assert.equal(await runner.which("no-such-tool-here"), undefined);
  const { runner: empty } = collectingRunner({ PATH: "" });
  assert.equal(await empty.which("sh"), undefined);
});

test("a command past its time limit is killed and reported as such, with what it printed", async () => {
  const { runner } = collectingRunner();
  const started = performance.now();
  await assert.rejects(runner.run("sh", ["-c", "echo waiting; exec sleep 30"], { timeoutMs: 300, allowFailure: true }), (error: Error) => {
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.exitCode, null);
    assert.match(error.message, /^sh -c 'echo waiting; exec sleep 30' did not finish within 0\.3 s:\nwaiting$/);
    return true;
  });
  assert.ok(performance.now() - started < 10_000, "not the 30 s the command wanted");
  const quick = await runner.run("sh", ["-c", "echo fast"], { timeoutMs: 30_000 });
  assert.equal(quick.stdout, "fast\n", "a command within its limit is not disturbed");
});

test("command lines are printed so a shell reads them back", () => {
  assert.equal(formatCommand("docker", ["build", "-t", "app:1.0", "--build-arg", "BASE_IMAGE=node:24", "."]), "docker build -t app:1.0 --build-arg BASE_IMAGE=node:24 .");
  assert.equal(formatCommand("echo", ["two words", "it's", ""]), "echo 'two words' 'it'\\''s' ''");
  for (const word of ["plain", "it's $HOME", "a;b", "<region>", "{x}", ""]) {
    assert.equal(execFileSync("sh", ["-c", `printf %s ${shellQuote(word)}`], { encoding: "utf8" }), word, word);
  }
});
