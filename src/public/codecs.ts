/**
 * `sagemaker-byoc-node/codecs`: the built-in codecs, NumPy `.npy` and RecordIO reading and writing, and the
 * registry that picks a codec by media type. A handlers file registers its own codecs by exporting
 * `codecs`; these are for codecs that build on the built-in ones.
 */
export {
  builtinCodecs,
  createMultipartCodec,
  csvCodec,
  decodeNpy,
  defaultMultipartLimits,
  encodeNpy,
  jsonCodec,
  jsonLinesCodec,
  npyCodec,
  octetStreamCodec,
  recordIOCodec,
  type MultipartForm,
  type MultipartLimits,
  type UploadedFile,
} from "../codecs/index.js";
export { CodecRegistry, type EncodedResponse } from "../codecs/registry.js";
export { decodeRecordIO, encodeRecordIO, RecordIOError, type RecordIORecord } from "../batch/recordio.js";
