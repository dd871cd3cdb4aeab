import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CsvRowError, formatCsvRow, parseCsvRow } from "../../src/batch/csv-row.js";
import { createRecordProcessing } from "../../src/batch/data-processing.js";
import { resolveTransformJob, type TransformJobRequest } from "../../src/batch/job.js";
import type { MiniBatch } from "../../src/batch/mini-batch.js";
import { assembleOutput, OutputRecordCountError, splitAnswer } from "../../src/batch/output-assembly.js";
import { encodeRecordIO } from "../../src/batch/recordio.js";

const csvJob = (overrides: Partial<TransformJobRequest> = {}) =>
  resolveTransformJob({ input: { dataType: "S3Prefix", uri: "in/" }, outputPath: "out/", contentType: "text/csv", accept: "text/csv", splitType: "Line", assembleWith: "Line", ...overrides });
const jsonJob = (overrides: Partial<TransformJobRequest> = {}) =>
  resolveTransformJob({ input: { dataType: "S3Prefix", uri: "in/" }, outputPath: "out/", contentType: "application/jsonlines", accept: "application/jsonlines", splitType: "Line", assembleWith: "Line", ...overrides });
const text = (value: Buffer | string): string => value.toString();

describe("CSV rows (RFC 4180)", () => {
  test("are read cell by cell, quotes removed, spaces kept", () => {
    assert.deepEqual(parseCsvRow('7,"a, b",3.5'), ["7", "a, b", "3.5"]);
    assert.deepEqual(parseCsvRow('"say ""hi""", x ,'), ['say "hi"', " x ", ""]);
    assert.deepEqual(parseCsvRow('"",""'), ["", ""]);
    assert.deepEqual(parseCsvRow('a,""'), ["a", ""]);
  });

  test("refuse an open quote or text after a closing one", () => {
    assert.throws(() => parseCsvRow('"open'), CsvRowError);
    assert.throws(() => parseCsvRow('"a"b,c'), /Text follows the closing quote/);
  });

  test("are written back with quotes only where a cell needs them", () => {
    assert.equal(formatCsvRow(["7", "a, b", 'say "hi"', 0.9, null]), '7,"a, b","say ""hi""",0.9,null');
    assert.equal(formatCsvRow(parseCsvRow('x,"y,z",w')), 'x,"y,z",w');
  });
});

describe("DataProcessing, with the developer guide's examples", () => {
  test("the default ($, None, $) leaves records and answers alone", () => {
    const processing = createRecordProcessing(csvJob());
    assert.equal(processing.filtersInput, false);
    assert.equal(processing.processesOutput, false);
  });

  test("CSV: JoinSource Input appends the output's cells to the input row ([1,2,3] and [1] give [1,2,3,1])", () => {
    const processing = createRecordProcessing(csvJob({ joinSource: "Input" }));
    assert.equal(processing.joinOutput(Buffer.from("1,2,3"), Buffer.from("1")), "1,2,3,1");
  });

  test("CSV: InputFilter $[1:] drops the ID column from what is sent; the join keeps it, OutputFilter $[0,-1] keeps ID and inference", () => {
    const processing = createRecordProcessing(csvJob({ inputFilter: "$[1:]", joinSource: "Input", outputFilter: "$[0,-1]" }));
    assert.equal(text(processing.filterInput(Buffer.from("id-7,5.1,3.5,1.4,0.2\r"))), "5.1,3.5,1.4,0.2");
    assert.equal(processing.joinOutput(Buffer.from("id-7,5.1,3.5,1.4,0.2"), Buffer.from("0.98")), "id-7,0.98");
  });

  test("CSV: an output filter alone picks from the output", () => {
    const processing = createRecordProcessing(csvJob({ outputFilter: "$[1]" }));
    assert.equal(processing.joinOutput(Buffer.from("ignored"), Buffer.from("0.1,0.9")), "0.9");
  });

  test("JSON: the output goes into SageMakerOutput of an input object", () => {
    const processing = createRecordProcessing(jsonJob({ joinSource: "Input" }));
    assert.equal(processing.joinOutput(Buffer.from('{"key":1}'), Buffer.from('{"label":1}')), '{"key":1,"SageMakerOutput":{"label":1}}');
  });

  test("JSON: an input that is not an object is wrapped as SageMakerInput", () => {
    const processing = createRecordProcessing(jsonJob({ joinSource: "Input" }));
    assert.equal(processing.joinOutput(Buffer.from("[1,2]"), Buffer.from("0.5")), '{"SageMakerInput":[1,2],"SageMakerOutput":0.5}');
  });

  test("JSON: InputFilter $.features sends the features; OutputFilter $['id','SageMakerOutput'] keeps the id and the inference", () => {
    const processing = createRecordProcessing(jsonJob({ inputFilter: "$.features", joinSource: "Input", outputFilter: "$['id','SageMakerOutput']" }));
    assert.equal(text(processing.filterInput(Buffer.from('{"id":"a","features":[5.1,3.5]}'))), "[5.1,3.5]");
    assert.equal(processing.joinOutput(Buffer.from('{"id":"a","features":[5.1,3.5]}'), Buffer.from("[0.9,0.1]")), '{"id":"a","SageMakerOutput":[0.9,0.1]}');
  });

  test("a record that is not JSON, or not a CSV row, fails with a message that says so", () => {
    assert.throws(() => createRecordProcessing(jsonJob({ inputFilter: "$.x" })).filterInput(Buffer.from("{oops")), /The input record is not JSON/);
    assert.throws(() => createRecordProcessing(jsonJob({ joinSource: "Input" })).joinOutput(Buffer.from("{}"), Buffer.from("out:1")), /The output record is not JSON/);
    assert.throws(() => createRecordProcessing(csvJob({ inputFilter: "$[0]" })).filterInput(Buffer.from('"open')), /The input record is not a valid CSV row/);
  });
});

describe("a job's DataProcessing is checked as CreateTransformJob checks it", () => {
  test("CSV filters take index paths only, and need SplitType and AssembleWith Line for joins", () => {
    assert.throws(() => csvJob({ inputFilter: "$.id" }), /InputFilter \$\.id: a CSV row is an array/);
    assert.throws(() => csvJob({ joinSource: "Input", splitType: "None" }), /DataProcessing on CSV needs SplitType Line/);
    assert.throws(() => csvJob({ joinSource: "Input", assembleWith: "None" }), /need AssembleWith Line/);
  });

  test("joins need an Accept of the ContentType's kind, and a CSV or JSON ContentType", () => {
    assert.throws(() => csvJob({ joinSource: "Input", accept: "application/json" }), /need Accept of the same kind as ContentType/);
    assert.throws(() => csvJob({ joinSource: "Input", contentType: "application/x-npy", accept: undefined }), /DataProcessing needs ContentType text\/csv/);
    assert.throws(() => csvJob({ outputFilter: "$[0]", splitType: "RecordIO" }), /cannot be used with SplitType RecordIO/);
    assert.doesNotThrow(() => jsonJob({ joinSource: "Input", accept: "application/json", assembleWith: "None" }));
  });

  test("parameters out of SageMaker's ranges are refused together", () => {
    assert.throws(
      () => csvJob({ maxPayloadInMb: 101, maxConcurrentTransforms: 0, maxRetries: 4, invocationTimeoutMs: 3_601_000, contentType: "not a type", inputFilter: "$..x" }),
      (error: unknown) =>
        error instanceof Error &&
        /problems with the transform job/.test(error.message) &&
        /MaxPayloadInMB must be a whole number from 0 to 100, not 101/.test(error.message) &&
        /MaxConcurrentTransforms must be a whole number of at least 1, not 0/.test(error.message) &&
        /InvocationsMaxRetries must be 0 to 3, not 4/.test(error.message) &&
        /InvocationsTimeoutInSeconds must be 1 to 3600, not 3601/.test(error.message) &&
        /ContentType "not a type" is not a media type/.test(error.message) &&
        /InputFilter: "\$\.\.x": deep scan/.test(error.message),
    );
    assert.throws(() => csvJob({ maxPayloadInMb: 30, maxConcurrentTransforms: 4 }), /4 × 30 = 120; SageMaker allows at most 100 MB/);
  });
});

describe("assembling an answered mini-batch", () => {
  const batch = (records: number, inputs: string[] = []): MiniBatch => ({ firstRecord: 0, records, body: Buffer.alloc(0), inputs: inputs.map((input) => Buffer.from(input)) });
  const plain = createRecordProcessing(csvJob());

  test("AssembleWith Line ends an answer with a newline unless it has one; None writes it as it is", () => {
    assert.equal(text(assembleOutput({ body: Buffer.from("0.9"), contentType: "text/csv" }, batch(1), { assembleWith: "Line", processing: plain })), "0.9\n");
    assert.equal(text(assembleOutput({ body: Buffer.from("0.9\n0.1\n"), contentType: "text/csv" }, batch(2), { assembleWith: "Line", processing: plain })), "0.9\n0.1\n");
    assert.equal(text(assembleOutput({ body: Buffer.from("0.9"), contentType: "text/csv" }, batch(1), { assembleWith: "None", processing: plain })), "0.9");
    assert.equal(text(assembleOutput({ body: Buffer.alloc(0), contentType: "text/csv" }, batch(1), { assembleWith: "Line", processing: plain })), "\n");
  });

  test("a join cuts the answer into one record per input record", () => {
    const processing = createRecordProcessing(csvJob({ joinSource: "Input" }));
    const answer = { body: Buffer.from("0.9\r\n\n0.1\n"), contentType: "text/csv" };
    assert.equal(text(assembleOutput(answer, batch(2, ["a,1", "b,2"]), { assembleWith: "Line", processing })), "a,1,0.9\nb,2,0.1\n");
    const json = createRecordProcessing(jsonJob({ joinSource: "Input", assembleWith: "None" }));
    assert.equal(text(assembleOutput({ body: Buffer.from("1\n2\n"), contentType: "application/jsonlines" }, batch(2, ["{}", "{}"]), { assembleWith: "None", processing: json })), '{"SageMakerOutput":1}{"SageMakerOutput":2}');
  });

  test("a single record's answer is one record, whatever lines it holds", () => {
    assert.deepEqual(
      splitAnswer({ body: Buffer.from('{"a":\n1}\r\n'), contentType: "application/json" }, 1).map(text),
      ['{"a":\n1}'],
    );
  });

  test("RecordIO answers are cut at their records", () => {
    assert.deepEqual(
      splitAnswer({ body: encodeRecordIO([Buffer.from("x"), Buffer.from("y")]), contentType: "application/x-recordio" }, 2).map(text),
      ["x", "y"],
    );
  });

  test("an answer with another number of records than the batch cannot be joined", () => {
    assert.throws(
      () => splitAnswer({ body: Buffer.from('{"predictions":[1,2,3]}'), contentType: "application/json" }, 3),
      (error: unknown) => error instanceof OutputRecordCountError && /holds 1 output record for 3 input records/.test(error.message),
    );
  });
});
