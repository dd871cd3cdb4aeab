import { NotAcceptableError, UnsupportedMediaTypeError } from "../errors.js";
import { negotiateAccept, parseMediaType } from "./media-type.js";
import type { Codec } from "./codec.js";
import { jsonCodec } from "./json.js";
import { decodeNumericJson, type NumericJsonDType } from "./json-tensor.js";

/** A response body with the media type it was encoded in. */
export interface EncodedResponse {
  readonly body: Uint8Array | string;
  readonly contentType: string;
}

const maxNegotiatedEntries = 256;

/**
 * Codecs looked up by media type. Later registrations replace earlier ones for the same type,
 * so user codecs override the built-ins.
 *
 * @example
 * ```ts
 * const registry = new CodecRegistry([jsonCodec, csvCodec]);
 * const rows = await registry.decode(Buffer.from("1,2\n3,4"), "text/csv");
 * ```
 */
export class CodecRegistry {
  readonly #decoders = new Map<string, Codec>();
  readonly #encoders = new Map<string, Codec>();
  /** Accept header → chosen type. Clients send few distinct headers; the bound keeps a hostile mix from growing it. */
  readonly #negotiated = new Map<string, string>();

  constructor(codecs: Iterable<Codec> = []) {
    for (const codec of codecs) this.register(codec);
  }

  /** Adds a codec, replacing any registered for the same media types. */
  register(codec: Codec): void {
    for (const type of codec.mediaTypes) {
      const essence = type.toLowerCase();
      if (codec.decode) this.#decoders.set(essence, codec);
      if (codec.encode) this.#encoders.set(essence, codec);
    }
    this.#negotiated.clear();
  }

  /** Media types a request body may have. */
  get decodableTypes(): string[] {
    return [...this.#decoders.keys()];
  }

  /** Media types a response may be encoded in. */
  get encodableTypes(): string[] {
    return [...this.#encoders.keys()];
  }

  /**
   * Decodes `body` by its Content-Type; 415 when no codec handles it. With `numericArrays` (for
   * a model that takes an NDArray of that type as it takes the nested arrays), a JSON body that
   * is one rectangular array of numbers comes as an NDArray of that type, read without
   * JSON.parse's arrays of boxed numbers (the built-in JSON codec only).
   */
  async decode(body: Buffer, contentTypeHeader: string, options: { readonly numericArrays?: NumericJsonDType | undefined } = {}): Promise<unknown> {
    const mediaType = parseMediaType(contentTypeHeader);
    const codec = this.#decoders.get(mediaType.essence);
    if (!codec?.decode) {
      throw new UnsupportedMediaTypeError(
        `Content-Type ${mediaType.essence} is not supported; send one of: ${this.decodableTypes.join(", ")}`,
      );
    }
    if (options.numericArrays !== undefined && codec === jsonCodec) {
      const array = decodeNumericJson(body, options.numericArrays);
      if (array !== undefined) return array;
    }
    return codec.decode(body, { mediaType });
  }

  /** Picks the response media type from Accept; 406 when no codec encodes any acceptable type. */
  negotiate(acceptHeader: string | undefined, defaultAccept: string): string {
    const key = `${defaultAccept}\n${acceptHeader ?? ""}`;
    const known = this.#negotiated.get(key);
    if (known !== undefined) return known;
    const chosen = negotiateAccept(acceptHeader, this.encodableTypes, defaultAccept);
    if (chosen === undefined || !this.#encoders.has(chosen)) {
      throw new NotAcceptableError(
        `Accept ${JSON.stringify(acceptHeader ?? defaultAccept)} matches no supported response type; accept one of: ${this.encodableTypes.join(", ")}`,
      );
    }
    if (this.#negotiated.size >= maxNegotiatedEntries) this.#negotiated.clear();
    this.#negotiated.set(key, chosen);
    return chosen;
  }

  /** Encodes `value` in `mediaType` (an essence returned by {@link negotiate}). */
  async encode(value: unknown, mediaType: string): Promise<EncodedResponse> {
    const codec = this.#encoders.get(mediaType.toLowerCase());
    if (!codec?.encode) throw new NotAcceptableError(`No codec encodes ${mediaType}`);
    const body = await codec.encode(value, { mediaType: { essence: mediaType, parameters: {} } });
    return { body, contentType: mediaType };
  }
}
