import { ConfigurationError } from "../errors.js";
import type { TransformJobRequest } from "./job.js";

/**
 * The parts of a `CreateTransformJob` request (the JSON the AWS CLI and SDKs send) that a local
 * job uses; `TransformJobName`, `ModelName`, `TransformResources` and the rest are ignored.
 *
 * @example
 * ```ts
 * const request: CreateTransformJobRequest = JSON.parse(await readFile("job.json", "utf8"));
 * ```
 */
export interface CreateTransformJobRequest {
  readonly BatchStrategy?: string;
  readonly MaxPayloadInMB?: number;
  readonly MaxConcurrentTransforms?: number;
  readonly Environment?: Readonly<Record<string, string>>;
  readonly ModelClientConfig?: { readonly InvocationsTimeoutInSeconds?: number; readonly InvocationsMaxRetries?: number };
  readonly DataProcessing?: { readonly InputFilter?: string; readonly OutputFilter?: string; readonly JoinSource?: string };
  readonly TransformInput?: {
    readonly DataSource?: { readonly S3DataSource?: { readonly S3DataType?: string; readonly S3Uri?: string } };
    readonly ContentType?: string;
    readonly SplitType?: string;
    readonly CompressionType?: string;
  };
  readonly TransformOutput?: { readonly S3OutputPath?: string; readonly Accept?: string; readonly AssembleWith?: string };
}

/**
 * A job request from a `CreateTransformJob` JSON document, and the `Environment` it sets for
 * the container. Enumerations are matched in any letter case, as the CLI flags are.
 *
 * @throws ConfigurationError naming each field that is not valid.
 * @example
 * ```ts
 * const { request, environment } = fromCreateTransformJob(JSON.parse(text));
 * ```
 */
export function fromCreateTransformJob(document: unknown): { request: Partial<TransformJobRequest>; environment: Readonly<Record<string, string>> } {
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw new ConfigurationError("A CreateTransformJob request is a JSON object");
  const job = document as CreateTransformJobRequest;
  const problems: string[] = [];
  const pick = <T extends string>(field: string, value: unknown, choices: readonly T[]): T | undefined => {
    if (value === undefined) return undefined;
    const found = choices.find((choice) => typeof value === "string" && choice.toLowerCase() === value.toLowerCase());
    if (found === undefined) problems.push(`${field} must be one of ${choices.join(", ")}, not ${JSON.stringify(value)}`);
    return found;
  };
  const number = (field: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) problems.push(`${field} must be a whole number, not ${JSON.stringify(value)}`);
    return value as number;
  };
  const text = (field: string, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "string") problems.push(`${field} must be a string, not ${JSON.stringify(value)}`);
    return value as string;
  };
  const source = job.TransformInput?.DataSource?.S3DataSource;
  const uri = text("TransformInput.DataSource.S3DataSource.S3Uri", source?.S3Uri);
  const dataType = pick("TransformInput.DataSource.S3DataSource.S3DataType", source?.S3DataType, ["S3Prefix", "ManifestFile"] as const);
  const outputPath = text("TransformOutput.S3OutputPath", job.TransformOutput?.S3OutputPath);
  const timeoutSeconds = number("ModelClientConfig.InvocationsTimeoutInSeconds", job.ModelClientConfig?.InvocationsTimeoutInSeconds);
  const environment = job.Environment ?? {};
  if (typeof environment !== "object" || Object.values(environment).some((value) => typeof value !== "string")) problems.push("Environment must map names to strings");
  const request: Partial<TransformJobRequest> = {
    ...(uri === undefined ? {} : { input: { dataType: dataType ?? "S3Prefix", uri } }),
    ...(outputPath === undefined ? {} : { outputPath }),
    contentType: text("TransformInput.ContentType", job.TransformInput?.ContentType),
    accept: text("TransformOutput.Accept", job.TransformOutput?.Accept),
    splitType: pick("TransformInput.SplitType", job.TransformInput?.SplitType, ["None", "Line", "RecordIO"] as const),
    compressionType: pick("TransformInput.CompressionType", job.TransformInput?.CompressionType, ["None", "Gzip"] as const),
    batchStrategy: pick("BatchStrategy", job.BatchStrategy, ["SingleRecord", "MultiRecord"] as const),
    maxPayloadInMb: number("MaxPayloadInMB", job.MaxPayloadInMB),
    // 0 asks SageMaker to decide: the container's suggestion, then the default.
    maxConcurrentTransforms: job.MaxConcurrentTransforms === 0 ? undefined : number("MaxConcurrentTransforms", job.MaxConcurrentTransforms),
    assembleWith: pick("TransformOutput.AssembleWith", job.TransformOutput?.AssembleWith, ["None", "Line"] as const),
    inputFilter: text("DataProcessing.InputFilter", job.DataProcessing?.InputFilter),
    outputFilter: text("DataProcessing.OutputFilter", job.DataProcessing?.OutputFilter),
    joinSource: pick("DataProcessing.JoinSource", job.DataProcessing?.JoinSource, ["None", "Input"] as const),
    invocationTimeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
    maxRetries: number("ModelClientConfig.InvocationsMaxRetries", job.ModelClientConfig?.InvocationsMaxRetries),
  };
  if (problems.length > 0) throw new ConfigurationError(`The CreateTransformJob request is not valid:\n  ${problems.join("\n  ")}`);
  return { request, environment };
}
