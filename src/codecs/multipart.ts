import busboy from "busboy";
import contentType from "content-type";
import { BadRequestError, ConfigurationError } from "../errors.js";
import type { Codec } from "./codec.js";

/**
 * Limits on a `multipart/form-data` body. Exceeding one is a 400 with code `MULTIPART_LIMIT`
 * naming the limit. (The whole body is also bounded by the server's body limit.)
 *
 * @example
 * ```ts
 * const limits: MultipartLimits = { ...defaultMultipartLimits, maxFiles: 1 };
 * ```
 */
export interface MultipartLimits {
  /** Most file parts (parts with a filename, or of type application/octet-stream). */
  readonly maxFiles: number;
  /** Most bytes in one file. */
  readonly maxFileBytes: number;
  /** Most non-file fields. */
  readonly maxFields: number;
  /** Most bytes in one field value. */
  readonly maxFieldBytes: number;
  /** Most parts, files and fields together. Defaults to `maxFiles + maxFields`. */
  readonly maxParts: number;
}

/**
 * The limits {@link builtinCodecs} uses unless configured: 10 files of up to 6 MiB (SageMaker's
 * real-time payload limit), 100 fields of up to 1 MiB, 110 parts.
 *
 * @example
 * ```ts
 * createMultipartCodec({ ...defaultMultipartLimits, maxFileBytes: 1024 * 1024 });
 * ```
 */
export const defaultMultipartLimits: MultipartLimits = Object.freeze({
  maxFiles: 10,
  maxFileBytes: 6 * 1024 * 1024,
  maxFields: 100,
  maxFieldBytes: 1024 * 1024,
  maxParts: 110,
});

/**
 * RFC 2046 caps a boundary at 70 characters (README.md, "Content types"). The boundary search
 * costs up to its length per body byte in the worst case, so the cap also keeps parsing linear.
 */
const MAX_BOUNDARY_LENGTH = 70;

/**
 * A file part of a `multipart/form-data` body.
 *
 * @example
 * ```ts
 * const image: UploadedFile = form.files.find((file) => file.fieldName === "image")!;
 * sharp(image.data);
 * ```
 */
export interface UploadedFile {
  /** The part's `name`. */
  readonly fieldName: string;
  /** The part's `filename` (directories removed), or `undefined` for an octet-stream part without one. */
  readonly filename: string | undefined;
  /** The part's Content-Type essence; `text/plain` when the part has none (RFC 7578 §4.4). */
  readonly mimeType: string;
  /** The file's bytes. */
  readonly data: Buffer;
}

/**
 * What the multipart codec decodes a body into: the text fields by name and the files in order.
 *
 * @example
 * ```ts
 * // With no inputFn, a multipart/form-data request reaches predictFn as a MultipartForm.
 * export async function predictFn({ fields, files }: MultipartForm, model: Model) {
 *   return model.detect(files[0]!.data, Number(fields.threshold ?? "0.5"));
 * }
 * ```
 */
export interface MultipartForm {
  readonly fields: Record<string, string>;
  readonly files: UploadedFile[];
}

/**
 * The `multipart/form-data` codec (decode only), parsed by busboy within `limits`; missing
 * limits take {@link defaultMultipartLimits}, `maxParts` defaulting to `maxFiles + maxFields`.
 * Decoding gives a {@link MultipartForm}. A missing boundary parameter or one over RFC 2046's 70
 * characters, a malformed body, a part
 * without a name or a field name given twice is a 400; a limit exceeded is a 400 with code
 * `MULTIPART_LIMIT`, e.g. `multipart/form-data has more than 10 files (maxFiles)`.
 *
 * @throws ConfigurationError when a limit is not a non-negative integer (byte limits: positive).
 * @example
 * ```ts
 * const codec = createMultipartCodec({ maxFiles: 1, maxFileBytes: 2 * 1024 * 1024 });
 * const form = (await codec.decode!(body, { mediaType })) as MultipartForm;
 * ```
 */
export function createMultipartCodec(limits: Partial<MultipartLimits> = {}): Codec {
  const resolved = resolveLimits(limits);
  return {
    mediaTypes: ["multipart/form-data"],
    decode: (body, { mediaType }) => {
      const boundary = mediaType.parameters.boundary;
      if (boundary === undefined || boundary === "") {
        throw new BadRequestError(
          "multipart/form-data needs a boundary parameter in Content-Type, e.g. multipart/form-data; boundary=xyz",
          { code: "MULTIPART_NO_BOUNDARY" },
        );
      }
      if (boundary.length > MAX_BOUNDARY_LENGTH) {
        throw new BadRequestError(
          `multipart/form-data boundary is ${boundary.length} characters; RFC 2046 allows at most ${MAX_BOUNDARY_LENGTH}`,
          { code: "MULTIPART_NO_BOUNDARY" },
        );
      }
      return parseMultipart(body, boundary, resolved);
    },
  };
}

function resolveLimits(limits: Partial<MultipartLimits>): MultipartLimits {
  const maxFiles = limits.maxFiles ?? defaultMultipartLimits.maxFiles;
  const maxFields = limits.maxFields ?? defaultMultipartLimits.maxFields;
  const resolved: MultipartLimits = {
    maxFiles,
    maxFileBytes: limits.maxFileBytes ?? defaultMultipartLimits.maxFileBytes,
    maxFields,
    maxFieldBytes: limits.maxFieldBytes ?? defaultMultipartLimits.maxFieldBytes,
    maxParts: limits.maxParts ?? maxFiles + maxFields,
  };
  for (const [name, value] of Object.entries(resolved)) {
    const minimum = name.endsWith("Bytes") ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < minimum) {
      throw new ConfigurationError(`Multipart limit ${name} must be an integer ≥ ${minimum}, got ${value}`);
    }
  }
  return resolved;
}

function createParser(boundary: string, limits: MultipartLimits): busboy.Busboy {
  try {
    return busboy({
      headers: { "content-type": contentType.format({ type: "multipart/form-data", parameters: { boundary } }) },
      // busboy flags a file or value that reaches its size limit as truncated, and counts parts
      // as they end: one more than ours lets a body exactly at a limit through.
      limits: {
        files: limits.maxFiles,
        fileSize: limits.maxFileBytes + 1,
        fields: limits.maxFields,
        fieldSize: limits.maxFieldBytes + 1,
        parts: limits.maxParts + 1,
      },
    });
  } catch (error) {
    throw new BadRequestError(`multipart/form-data boundary ${JSON.stringify(boundary)} is not valid`, {
      code: "MULTIPART_NO_BOUNDARY",
      cause: error,
    });
  }
}

function parseMultipart(body: Buffer, boundary: string, limits: MultipartLimits): Promise<MultipartForm> {
  const parser = createParser(boundary, limits);
  return new Promise((resolve, reject) => {
    // No prototype, so a field named "__proto__" is stored like any other; copied out at the end.
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    const uploads: { readonly file: Omit<UploadedFile, "data">; readonly chunks: Buffer[] }[] = [];
    let partNumber = 0;
    let settled = false;
    const fail = (error: BadRequestError) => {
      if (settled) return;
      settled = true;
      reject(error);
      parser.destroy();
    };
    const limitHit = (message: string) => fail(new BadRequestError(message, { code: "MULTIPART_LIMIT" }));
    const malformed = (error: Error) => {
      const nothingParsed = partNumber === 0 && error.message === "Unexpected end of form";
      const hint = nothingParsed ? " (is the boundary in Content-Type the one the body uses?)" : "";
      fail(new BadRequestError(`Malformed multipart/form-data body: ${error.message}${hint}`, { code: "MALFORMED_MULTIPART", cause: error }));
    };
    const unnamed = () => new BadRequestError(`multipart/form-data part ${partNumber} has no name in its Content-Disposition`);

    parser.on("file", (name, stream, info) => {
      partNumber++;
      if (name === undefined) return fail(unnamed());
      const chunks: Buffer[] = [];
      uploads.push({ file: { fieldName: name, filename: info.filename, mimeType: info.mimeType }, chunks });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("limit", () =>
        limitHit(`multipart/form-data file ${JSON.stringify(name)} is larger than ${limits.maxFileBytes} bytes (maxFileBytes)`),
      );
      // A file cut short errors its stream too; the parser reports the same failure.
      stream.on("error", malformed);
    });
    parser.on("field", (name, value, info) => {
      partNumber++;
      if (name === undefined) return fail(unnamed());
      if (info.valueTruncated) {
        return limitHit(`multipart/form-data field ${JSON.stringify(name)} is longer than ${limits.maxFieldBytes} bytes (maxFieldBytes)`);
      }
      if (Object.hasOwn(fields, name)) {
        return fail(new BadRequestError(`multipart/form-data field ${JSON.stringify(name)} appears more than once`));
      }
      fields[name] = value;
    });
    parser.on("filesLimit", () => limitHit(`multipart/form-data has more than ${limits.maxFiles} files (maxFiles)`));
    parser.on("fieldsLimit", () => limitHit(`multipart/form-data has more than ${limits.maxFields} fields (maxFields)`));
    parser.on("partsLimit", () => limitHit(`multipart/form-data has more than ${limits.maxParts} parts (maxParts)`));
    parser.on("error", malformed);
    parser.on("close", () => {
      if (settled) return;
      settled = true;
      // busboy closes only after every file stream has ended, so each upload is complete here.
      resolve({ fields: { ...fields }, files: uploads.map(({ file, chunks }) => ({ ...file, data: Buffer.concat(chunks) })) });
    });
    parser.end(body);
  });
}
