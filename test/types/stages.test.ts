/**
 * Type tests for stages: `npm test` type-checks this file (tsc), so a change that let a stage
 * take what the stage before it does not give would fail the build. Each `@ts-expect-error`
 * marks a chain that must not compile; the runtime assertions check what the same mistakes do
 * in JavaScript, where no compiler stops them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectTypeOf } from "expect-type";
import { ConfigurationError, answerEarly, defineStage, stages } from "../../src/index.js";
import type { ComposedStages, HandlerOutput, Handlers, NDArray, OnnxOutput, Stage, StagePipeline } from "../../src/index.js";

interface Image {
  readonly width: number;
  readonly pixels: Uint8Array;
}
interface Boxes {
  readonly image: Image;
  readonly boxes: readonly number[][];
}
interface Reading {
  readonly text: string;
}

const decode = defineStage({
  name: "decode",
  inputFn: (body: Buffer): Image => ({ width: body.length, pixels: new Uint8Array(body) }),
  predictFn: (image: Image) => image,
});
const detect = defineStage({ name: "detect", predictFn: (image: Image): Boxes | ReturnType<typeof answerEarly<Reading>> => (image.width === 0 ? answerEarly({ text: "" }) : { image, boxes: [] }) });
const recognize = defineStage({ name: "recognize", predictFn: async (found: Boxes, model: { readonly alphabet: string }) => ({ text: model.alphabet.slice(0, found.boxes.length) }), modelFn: () => ({ alphabet: "abc" }) });

test("a stage's types come from its handlers: input, output, early answer", () => {
  expectTypeOf(decode).toEqualTypeOf<Stage<Image, Image, never>>();
  expectTypeOf(detect).toEqualTypeOf<Stage<Image, Boxes, Reading>>();
  expectTypeOf(recognize).toEqualTypeOf<Stage<Boxes, { text: string }, never>>();
});

test("a chain's input is the first stage's, its output the last one's, and its early answers the union of its stages'", () => {
  const pipeline = stages(decode).then(detect).then(recognize);
  expectTypeOf(pipeline).toEqualTypeOf<StagePipeline<Image, { text: string }, Reading>>();
  const encoded = pipeline.encodeWith((answer, accept) => {
    expectTypeOf(answer).toEqualTypeOf<{ text: string } | Reading>();
    expectTypeOf(accept).toEqualTypeOf<string>();
    return answer.text;
  });
  expectTypeOf(encoded).toEqualTypeOf<ComposedStages<Image, { text: string }, Reading>>();
  expectTypeOf(encoded).toMatchTypeOf<NonNullable<Handlers["pipeline"]>>();
  expectTypeOf(encoded).not.toHaveProperty("then");
});

test("a stage that does not take what the stage before it gives does not compile (JavaScript chains it: the types are the check)", () => {
  // @ts-expect-error recognize takes Boxes, decode gives an Image
  stages(decode).then(recognize);
  // @ts-expect-error detect gives Boxes, and detect takes an Image
  stages(decode).then(detect).then(defineStage({ name: "again", predictFn: (image: Image) => image }));
  const numbers = defineStage({ name: "numbers", predictFn: (values: number[]) => values.length });
  // @ts-expect-error numbers takes number[], decode gives an Image
  stages(decode).then(numbers);
});

test("the encoder takes the answer the chain gives, early answers included", () => {
  // @ts-expect-error the answer may be an early Reading, which has no width
  stages(decode).then(detect).encodeWith((answer: Boxes): HandlerOutput => String(answer.image.width));
});

test("skipIf hands the input on as the output, so only a stage whose output type takes its input may have one", () => {
  const scale = defineStage({ name: "scale", skipIf: () => true, predictFn: (image: Image): Image => image });
  expectTypeOf(scale).toEqualTypeOf<Stage<Image, Image, never>>();
  // @ts-expect-error a skipped detect would hand an Image on where Boxes are expected
  defineStage({ name: "skippable", skipIf: () => true, predictFn: (image: Image): Boxes => ({ image, boxes: [] }) });
});

test("a stage without predictFn runs its ONNX model: it takes anything and gives NDArrays", () => {
  const embed = defineStage({ name: "embed", model: "encoder.onnx", batching: { maxBatchSize: 8 } });
  expectTypeOf(embed).toEqualTypeOf<Stage<unknown, OnnxOutput>>();
  const pipeline = stages(decode).then(embed).then(defineStage({ name: "top", predictFn: (output: OnnxOutput) => (output as NDArray<"float32">).data[0] }));
  expectTypeOf(pipeline).toEqualTypeOf<StagePipeline<Image, number | undefined, never>>();
});

test("composition mistakes a compiler cannot see are ConfigurationErrors, naming the stage", () => {
  assert.throws(() => stages(decode).then(defineStage({ name: "decode", predictFn: (image: Image) => image })), /Two stages are named "decode"/);
  assert.throws(() => stages(decode).then(decode), ConfigurationError);
  // @ts-expect-error besides: decode takes an Image, detect gives Boxes
  assert.throws(() => stages(detect).then(decode), /Stage "decode" has an inputFn, but only the first stage decodes the request/);
  const ended = stages(decode).encodeWith(() => "x") as unknown as StagePipeline<Image, Image, never>;
  assert.throws(() => ended.then(detect), /encodeWith\(\) ends a pipeline/);
  assert.throws(() => stages({} as Stage<Image, Image>), /stages\(\) takes a stage made by defineStage\(\)/);
  assert.throws(() => stages(decode).then({} as Stage<Image, Image>), /then\(\) takes a stage made by defineStage\(\)/);
  assert.throws(() => stages(decode).encodeWith("json" as never), /encodeWith\(\) takes an outputFn/);
});

test("defineStage checks its settings when the handlers file is imported", () => {
  const predictFn = (value: number) => value;
  assert.throws(() => defineStage({ name: "has space", predictFn }), /Stage "has space": name must be a letter/);
  assert.throws(() => defineStage({ name: "", predictFn }), ConfigurationError);
  assert.throws(() => defineStage(undefined as never), /defineStage takes an object/);
  assert.throws(() => defineStage({ name: "w", workers: 0, predictFn }), /Stage "w": workers must be a whole number >= 1/);
  assert.throws(() => defineStage({ name: "w", workers: 1.5, predictFn }), /workers must be a whole number/);
  assert.throws(() => defineStage({ name: "b", batching: { maxBatchSize: 0 }, predictFn }), /Stage "b": batching must be false or/);
  assert.throws(() => defineStage({ name: "b", batching: { size: 4 } as never, predictFn }), /batching must be false or/);
  assert.throws(() => defineStage({ name: "m", model: "", predictFn }), /Stage "m": model must be a path/);
  assert.throws(() => defineStage({ name: "f", predictFn: "x" as never }), /Stage "f": predictFn must be a function/);
  assert.throws(() => defineStage({ name: "p" } as never), /Stage "p" needs a predictFn/);
  assert.throws(() => defineStage({ name: "p", model: "x.onnx", modelFn: () => 1 } as never), /needs a predictFn/);
  assert.equal(defineStage({ name: "off", batching: false, workers: 2, model: "m.onnx" }).name, "off");
});
