import assert from "node:assert/strict";
import { test } from "node:test";
import { loadPushOptions } from "../../src/build/options.js";
import { asyncModeEnabled, asyncModeSettings, asyncSettings } from "../../src/config/async-config.js";
import { buildSettings } from "../../src/config/build-settings.js";
import { booleanSpellings } from "../../src/config/kinds.js";
import { pushSettings } from "../../src/config/push-settings.js";
import { loadConfig, serverSettings } from "../../src/config/server-config.js";
import { ConfigurationError } from "../../src/errors.js";

const spellings: readonly [string, boolean][] = [
  ...booleanSpellings.true.flatMap((word) => [[word, true], [word.toUpperCase(), true]] as [string, boolean][]),
  ...booleanSpellings.false.flatMap((word) => [[word, false], [word.toUpperCase(), false]] as [string, boolean][]),
];
const notBooleans = ["maybe", "y", "n", "t", "f", "enabled", "disabled", "2", "-1", "truee"];

test("the accepted spellings are true/false, 1/0, yes/no, on/off, in any letter case", () => {
  assert.deepEqual(booleanSpellings, { true: ["true", "1", "yes", "on"], false: ["false", "0", "no", "off"] });
});

test("a variable, a flag and the async switch's variable accept the same spellings and refuse the same words", () => {
  for (const [written, value] of spellings) {
    assert.equal(loadConfig({ BYOC_ONNX_WARM_UP: written }).onnx.warmUp, value, `BYOC_ONNX_WARM_UP=${written}`);
    assert.equal(loadPushOptions({ "tls-verify": written }, {}, "/w").tlsVerify, value, `--tls-verify ${written}`);
    assert.equal(asyncModeEnabled({ BYOC_ASYNC_ENABLED: written }), value, `BYOC_ASYNC_ENABLED=${written}`);
  }
  for (const written of notBooleans) {
    assert.throws(() => loadConfig({ BYOC_ONNX_WARM_UP: written }), ConfigurationError, `BYOC_ONNX_WARM_UP=${written}`);
    assert.throws(() => loadPushOptions({ "tls-verify": written }, {}, "/w"), ConfigurationError, `--tls-verify ${written}`);
    assert.throws(() => asyncModeEnabled({ BYOC_ASYNC_ENABLED: written }), ConfigurationError, `BYOC_ASYNC_ENABLED=${written}`);
  }
});

test("every boolean setting of every group reads text with those spellings, and code gives true or false only", () => {
  const groups = [serverSettings, asyncModeSettings, asyncSettings, buildSettings, pushSettings];
  const booleans = groups.flatMap((group) => group.entries).filter(({ setting }) => setting.kind.value.safeParse(true).success && setting.kind.value.safeParse(false).success);
  assert.ok(booleans.length >= 8, `found ${booleans.length} boolean settings`);
  for (const { path, setting } of booleans) {
    for (const [written, value] of spellings) assert.equal(setting.kind.text.parse(written), value, `${path}: ${written}`);
    for (const written of notBooleans) assert.equal(setting.kind.text.safeParse(written).success, false, `${path}: ${written}`);
    for (const given of ["true", 1, 0, null]) assert.equal(setting.kind.value.safeParse(given).success, false, `${path}: ${JSON.stringify(given)} in code`);
  }
});
