import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JsonPathError, parseJsonPath } from "../../src/batch/jsonpath.js";

const select = (path: string, value: unknown): unknown => parseJsonPath(path).select(value);
const row = ["id-7", "5.1", "3.5", "1.4", "0.2", "0.98"];

describe("SageMaker's JSONPath operators (the table of the developer guide)", () => {
  test("$ is the whole record", () => {
    assert.deepEqual(select("$", { a: 1 }), { a: 1 });
    assert.equal(parseJsonPath("$").isRoot, true);
    assert.equal(parseJsonPath("$[0]").isRoot, false);
  });

  test(".<name> is a child attribute, and .* every attribute's value", () => {
    assert.deepEqual(select("$.features", { id: 1, features: [1, 2] }), [1, 2]);
    assert.deepEqual(select("$.id.*", { id: { a: 1, b: [2] } }), [1, [2]]);
    assert.deepEqual(select("$.a.b", { a: { b: "deep" } }), "deep");
  });

  test("['<name>'(,'<name>')] picks one attribute or several, as an object", () => {
    assert.equal(select("$['id']", { id: 7 }), 7);
    assert.deepEqual(select("$['id','SageMakerOutput']", { id: 7, x: 1, SageMakerOutput: 0.9 }), { id: 7, SageMakerOutput: 0.9 });
    assert.deepEqual(select('$.field1.["child1","child2"]', { field1: { child1: 1, child2: 2, child3: 3 } }), { child1: 1, child2: 2 });
  });

  test("[<number>(,<number>)] picks elements; negative indexes count from the end", () => {
    assert.equal(select("$[1]", row), "5.1");
    assert.deepEqual(select("$[1,3,5]", row), ["5.1", "1.4", "0.98"]);
    assert.deepEqual(select("$[0,-1]", row), ["id-7", "0.98"]);
    assert.equal(select("$[-1]", row), "0.98");
  });

  test("[<start>:<end>] includes both ends, as the guide's examples say ($[1:4] is the second to the fifth column)", () => {
    assert.deepEqual(select("$[1:4]", row), ["5.1", "3.5", "1.4", "0.2"]);
    assert.deepEqual(select("$[1:]", row), ["5.1", "3.5", "1.4", "0.2", "0.98"]);
    assert.deepEqual(select("$[:2]", row), ["id-7", "5.1", "3.5"]);
    assert.deepEqual(select("$[-2:]", row), ["0.2", "0.98"]);
    assert.deepEqual(select("$[0,4:]", row), ["id-7", "0.2", "0.98"]);
    assert.deepEqual(select("$[*]", row), row);
  });

  test("says which paths a CSV row (an array) can take", () => {
    assert.equal(parseJsonPath("$[1:]").indexesOnly, true);
    assert.equal(parseJsonPath("$[0,-1]").indexesOnly, true);
    assert.equal(parseJsonPath("$.id").indexesOnly, false);
    assert.equal(parseJsonPath("$['id']").indexesOnly, false);
  });
});

describe("paths outside the subset or that do not fit the record", () => {
  test("are refused when parsed, saying why", () => {
    const refused: [string, RegExp][] = [
      ["features", /must start with \$/],
      [`$.${"a".repeat(70)}`, /longer than the 63 characters/],
      ["$..id", /deep scan/],
      ["$[?(@.x > 1)]", /filter and script expressions/],
      ["$[0:2,246:]", /only one range per bracket/],
      ["$[*].id", /only the last step may select several/],
      ["$['a',1]", /either names or indexes/],
      ["$[abc]", /"abc" is not an index, a range or a quoted name/],
      ["$[1", /"\[" is not closed/],
      ["$x", /expected "\." or "\["/],
      ["$.", /a name must follow/],
    ];
    for (const [path, message] of refused) assert.throws(() => parseJsonPath(path), (error: unknown) => error instanceof JsonPathError && message.test(error.message), path);
  });

  test("fail on a record without the attribute or the index, as SageMaker does", () => {
    assert.throws(() => select("$.id", { name: 1 }), /the record has no attribute "id"/);
    assert.throws(() => select("$.id", [1, 2]), /selects by name, but the record \[1,2\] is not a JSON object/);
    assert.throws(() => select("$[7]", row), /index 7 is outside the record's 6 elements/);
    assert.throws(() => select("$[2:9]", row), /index 9 is outside/);
    assert.throws(() => select("$[4:2]", row), /the range ends before it starts/);
    assert.throws(() => select("$[0]", { a: 1 }), /selects by index, but the record \{"a":1\} is not an array/);
  });
});
