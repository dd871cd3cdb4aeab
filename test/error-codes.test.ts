/**
 * The error catalogue (src/error-codes.ts) against the code and the README: every error code and
 * SageMaker Runtime API error type written in src is catalogued, with the status the code
 * answers it with, every catalogued one is used, and the README's tables are the generated ones.
 * The source is read with TypeScript's parser, so a code is found wherever it is written as an
 * error's `code`, whatever the line looks like.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { errorCodes, runtimeApiErrors } from "../src/error-codes.js";
import { generatedSection, readmePath, renderErrorCodeTables } from "../scripts/error-codes-table.js";

const srcDir = fileURLToPath(new URL("../src", import.meta.url));

/** One error code or error type written in the source, with the status the code gives it when the source says. */
interface FoundCode {
  readonly kind: "code" | "runtime-api-error";
  readonly value: string;
  readonly status: number | undefined;
  readonly where: string;
}

/** Constructors that give a code a status of their own when the options name none. */
const impliedStatus: Readonly<Record<string, number>> = { BadRequestError: 400, InferenceError: 500 };

/**
 * Every error code in `text`: a `code: "X"` property (with the status of a sibling `statusCode`,
 * of the constructor it is passed to, or of `.status(N).json({ error: { code } })`), a
 * `code ?? "X"` default, a string passed to a parameter named `code` of a function of the same
 * file, and the type and status of `new RuntimeApiError("Type", status, ...)`. Node's own error
 * codes (`ECONNRESET`...) are not answers and are left out.
 */
function findErrorCodes(text: string, fileName: string): FoundCode[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: FoundCode[] = [];
  const where = (node: ts.Node): string => `${fileName}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const add = (kind: FoundCode["kind"], value: string, status: number | undefined, node: ts.Node): void => {
    if (kind === "code" && Object.hasOwn(constants.errno, value)) return;
    found.push({ kind, value, status, where: where(node) });
  };
  const codeParameters = new Map<string, number>();
  const collectHelpers = (node: ts.Node): void => {
    if (ts.isFunctionDeclaration(node) && node.name !== undefined) {
      const index = node.parameters.findIndex((parameter) => ts.isIdentifier(parameter.name) && parameter.name.text === "code");
      if (index >= 0) codeParameters.set(node.name.text, index);
    }
    ts.forEachChild(node, collectHelpers);
  };
  collectHelpers(source);

  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && propertyName(node) === "code" && ts.isStringLiteralLike(node.initializer)) {
      add("code", node.initializer.text, statusFor(node.parent), node.initializer);
    } else if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken &&
      ts.isPropertyAccessExpression(node.left) &&
      node.left.name.text === "code" &&
      ts.isStringLiteralLike(node.right)
    ) {
      add("code", node.right.text, undefined, node.right);
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && codeParameters.has(node.expression.text)) {
      const argument = node.arguments[codeParameters.get(node.expression.text) as number];
      if (argument !== undefined && ts.isStringLiteralLike(argument)) add("code", argument.text, undefined, argument);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "RuntimeApiError") {
      const [type, status] = node.arguments ?? [];
      if (type !== undefined && ts.isStringLiteralLike(type)) add("runtime-api-error", type.text, status !== undefined && ts.isNumericLiteral(status) ? Number(status.text) : undefined, type);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function propertyName(node: ts.ObjectLiteralElementLike): string | undefined {
  return node.name !== undefined && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) ? node.name.text : undefined;
}

/** The status the code answers an error body with, when the source states it next to the code. */
function statusFor(object: ts.ObjectLiteralExpression): number | undefined {
  for (const property of object.properties) {
    if (ts.isPropertyAssignment(property) && propertyName(property) === "statusCode" && ts.isNumericLiteral(property.initializer)) {
      return Number(property.initializer.text);
    }
  }
  const parent = object.parent;
  if (ts.isNewExpression(parent) && ts.isIdentifier(parent.expression)) return impliedStatus[parent.expression.text];
  // response.status(404).json({ error: { code: "NOT_FOUND", ... } })
  if (ts.isPropertyAssignment(parent) && propertyName(parent) === "error" && ts.isCallExpression(parent.parent.parent)) {
    const call = parent.parent.parent;
    const receiver = ts.isPropertyAccessExpression(call.expression) ? call.expression.expression : undefined;
    if (receiver !== undefined && ts.isCallExpression(receiver) && ts.isPropertyAccessExpression(receiver.expression) && receiver.expression.name.text === "status") {
      const [status] = receiver.arguments;
      if (status !== undefined && ts.isNumericLiteral(status)) return Number(status.text);
    }
  }
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

const files = sourceFiles(srcDir).map((path) => ({ name: relative(srcDir, path), text: readFileSync(path, "utf8") }));
const foundInSrc = files.flatMap((file) => findErrorCodes(file.text, file.name));

test("the scanner finds codes however they are written, and their statuses", () => {
  const sample = `
    function jsonFailure(code: string, message: string) { return { code, message }; }
    throw new BadRequestError("x", { code: "NEW_400" });
    throw new InferenceError("x", { statusCode: 422, code: "NEW_422" });
    throw new InferenceError("x", { code: "NEW_500" });
    response.status(409).json({ error: { code: "NEW_409", message: "m" } });
    this.code = options.code ?? "NEW_DEFAULT";
    jsonFailure("NEW_FAILURE", "m");
    throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
    throw new RuntimeApiError("NewType", 418, "m");
  `;
  assert.deepEqual(
    findErrorCodes(sample, "sample.ts").map(({ kind, value, status }) => ({ kind, value, status })),
    [
      { kind: "code", value: "NEW_400", status: 400 },
      { kind: "code", value: "NEW_422", status: 422 },
      { kind: "code", value: "NEW_500", status: 500 },
      { kind: "code", value: "NEW_409", status: 409 },
      { kind: "code", value: "NEW_DEFAULT", status: undefined },
      { kind: "code", value: "NEW_FAILURE", status: undefined },
      { kind: "runtime-api-error", value: "NewType", status: 418 },
    ],
  );
});

test("the scanner reads the real source: codes from codecs, the HTTP layer and the async worker", () => {
  const codes = new Set(foundInSrc.map((found) => found.value));
  for (const expected of ["EMPTY_BODY", "INVALID_NPY", "NOT_FOUND", "METHOD_NOT_ALLOWED", "CONTAINER_DROPPED_REQUEST", "ModelError"]) {
    assert.ok(codes.has(expected), `${expected} not found in src`);
  }
});

test("every error code written in src is in the catalogue, with the catalogue's status", () => {
  const problems = foundInSrc
    .filter((found) => found.kind === "code")
    .flatMap((found) => {
      if (!Object.hasOwn(errorCodes, found.value)) return [`${found.where}: ${found.value} is not in src/error-codes.ts`];
      const catalogued = errorCodes[found.value as keyof typeof errorCodes].status;
      return found.status !== undefined && found.status !== catalogued ? [`${found.where}: ${found.value} is answered ${found.status}, catalogued ${String(catalogued)}`] : [];
    });
  assert.deepEqual(problems, []);
});

test("every SageMaker Runtime API error type the gateway answers with is catalogued, with its status", () => {
  const problems = foundInSrc
    .filter((found) => found.kind === "runtime-api-error")
    .flatMap((found) => {
      if (!Object.hasOwn(runtimeApiErrors, found.value)) return [`${found.where}: ${found.value} is not in src/error-codes.ts`];
      const catalogued = runtimeApiErrors[found.value as keyof typeof runtimeApiErrors].status;
      return found.status !== undefined && found.status !== catalogued ? [`${found.where}: ${found.value} is answered ${found.status}, catalogued ${catalogued}`] : [];
    });
  assert.deepEqual(problems, []);
});

test("every catalogued code and error type is used in src", () => {
  const elsewhere = files.filter((file) => file.name !== "error-codes.ts").map((file) => file.text).join("\n");
  const unused = [...Object.keys(errorCodes), ...Object.keys(runtimeApiErrors)].filter((code) => !elsewhere.includes(`"${code}"`));
  assert.deepEqual(unused, []);
});

test("the README's status-code tables are the ones generated from the catalogue", () => {
  const section = generatedSection(readFileSync(readmePath, "utf8"));
  assert.notEqual(section, undefined, "the README lacks the error-codes markers");
  assert.equal(section, renderErrorCodeTables(), "run `node --import tsx scripts/error-codes-table.ts` to update the README");
});
