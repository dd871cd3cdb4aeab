import type { MediaType } from "./media-type.js";

/** What an encoder may return: bytes or text (sent as UTF-8). */
export type EncodedBody = Uint8Array | string;

/** What a decoder is told about the request body. */
export interface DecodeOptions {
  /** The request's parsed Content-Type, parameters included (charset, boundary...). */
  readonly mediaType: MediaType;
}

/** What an encoder is told about the response. */
export interface EncodeOptions {
  /** The negotiated response media type. */
  readonly mediaType: MediaType;
}

/**
 * Turns request bodies of some media types into values and values into response bodies.
 * Register your own with the handlers module's `codecs` export; a codec registered for a media
 * type replaces the built-in one.
 *
 * @example
 * ```ts
 * import type { Codec } from "sagemaker-byoc-node";
 * export const codecs: Codec[] = [{
 *   mediaTypes: ["text/plain"],
 *   decode: (body) => body.toString("utf8"),
 *   encode: (value) => String(value),
 * }];
 * ```
 */
export interface Codec {
  /** Lowercase `type/subtype` essences this codec handles, e.g. `["application/json"]`. */
  readonly mediaTypes: readonly string[];
  /** Decodes a request body. Throw {@link BadRequestError} for a malformed body. */
  decode?(body: Buffer, options: DecodeOptions): unknown;
  /** Encodes a prediction. Throw {@link NotAcceptableError} when the value has no form in this type. */
  encode?(value: unknown, options: EncodeOptions): EncodedBody | Promise<EncodedBody>;
}
