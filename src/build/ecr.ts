import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand, type Repository } from "@aws-sdk/client-ecr";
import { EcrError } from "./errors.js";
import type { AwsCredentials, RegistryCredentials } from "./options.js";

/**
 * How to reach the ECR API. Unset fields follow the AWS SDK's own resolution (profile, SSO,
 * instance role; `AWS_ENDPOINT_URL_ECR`).
 *
 * @example
 * ```ts
 * const client = createEcrClient({ region: "eu-west-1", endpoint: undefined, credentials: undefined });
 * ```
 */
export interface EcrSettings {
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly credentials: AwsCredentials | undefined;
}

/**
 * An ECR repository, found or created.
 *
 * @example
 * ```ts
 * const { uri, created }: EcrRepository = await ensureRepository(client, "iris-endpoint");
 * ```
 */
export interface EcrRepository {
  readonly name: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>`: where images are pushed. */
  readonly uri: string;
  readonly arn: string | undefined;
  /** The AWS account that owns the registry. */
  readonly registryId: string | undefined;
  readonly created: boolean;
}

/**
 * A registry login obtained from ECR, valid for 12 hours.
 *
 * @example
 * ```ts
 * const { registry, credentials }: EcrLogin = await getEcrLogin(client);
 * ```
 */
export interface EcrLogin {
  /** `host[:port]` of the registry, from the token's proxy endpoint. */
  readonly registry: string;
  readonly credentials: RegistryCredentials;
  /** When the token stops working; `push` prints it, since docker keeps the login until then. */
  readonly expiresAt: Date | undefined;
}

/**
 * An ECR client for these settings.
 *
 * @example
 * ```ts
 * const client = createEcrClient({ region: undefined, endpoint: "http://127.0.0.1:4566", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
 * ```
 */
export function createEcrClient(settings: EcrSettings): ECRClient {
  return new ECRClient({
    ...(settings.region === undefined ? {} : { region: settings.region }),
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
  });
}

/**
 * The client's region, once resolved (flag, environment or AWS profile).
 *
 * @example
 * ```ts
 * await ecrRegion(client); // "eu-west-1"
 * ```
 */
export async function ecrRegion(client: ECRClient): Promise<string> {
  try {
    return await client.config.region();
  } catch (error) {
    throw ecrFailure("region lookup", error);
  }
}

/**
 * Returns the repository, creating it (scan on push enabled) when it does not exist yet.
 *
 * @example
 * ```ts
 * const repository = await ensureRepository(client, "acme/iris-endpoint");
 * ```
 */
export async function ensureRepository(client: ECRClient, name: string): Promise<EcrRepository> {
  let found: Repository | undefined;
  try {
    found = (await client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }))).repositories?.[0];
  } catch (error) {
    if ((error as Error).name !== "RepositoryNotFoundException") throw ecrFailure("DescribeRepositories", error);
  }
  if (found !== undefined) return toRepository(name, found, false, "DescribeRepositories");
  let created: Repository | undefined;
  try {
    created = (await client.send(new CreateRepositoryCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: true } }))).repository;
  } catch (error) {
    throw ecrFailure("CreateRepository", error);
  }
  return toRepository(name, created, true, "CreateRepository");
}

/**
 * Gets a registry login from ECR's authorization token (`AWS:<password>`, base64).
 *
 * @example
 * ```ts
 * const login = await getEcrLogin(client);
 * await engine.login(login.registry, login.credentials, true);
 * ```
 */
export async function getEcrLogin(client: ECRClient): Promise<EcrLogin> {
  let data;
  try {
    data = (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
  } catch (error) {
    throw ecrFailure("GetAuthorizationToken", error);
  }
  const token = data?.authorizationToken;
  const endpoint = data?.proxyEndpoint;
  if (token === undefined || token === "" || endpoint === undefined || endpoint === "") throw new EcrError("ECR GetAuthorizationToken returned no token or no proxy endpoint");
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const separator = decoded.indexOf(":");
  if (separator <= 0 || separator === decoded.length - 1) {
    throw new EcrError("ECR GetAuthorizationToken returned a token that is not base64 of user:password");
  }
  return {
    registry: endpoint.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, ""),
    credentials: { username: decoded.slice(0, separator), password: decoded.slice(separator + 1) },
    expiresAt: data?.expiresAt,
  };
}

function toRepository(name: string, repository: Repository | undefined, created: boolean, operation: string): EcrRepository {
  if (repository?.repositoryUri === undefined) throw new EcrError(`ECR ${operation} returned no repository URI for ${name}`);
  return { name, uri: repository.repositoryUri, arn: repository.repositoryArn, registryId: repository.registryId, created };
}

/** AWS's answers to credentials it does not accept: unknown or malformed keys, a wrong secret, an expired session. */
const rejectedCredentials = new Set(["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"]);

/**
 * An {@link EcrError} naming the call, AWS's error and what to check: missing credentials,
 * credentials AWS rejects (invalid or expired), the region, or the caller's IAM permissions.
 *
 * @example
 * ```ts
 * ecrFailure("CreateRepository", error).message; // "ECR CreateRepository failed: AccessDeniedException: ... The caller needs ..."
 * ```
 */
export function ecrFailure(operation: string, error: unknown): EcrError {
  const { name, message } = error as Error;
  let hint = "";
  if (rejectedCredentials.has(name)) {
    hint =
      " AWS rejected the credentials: they are invalid or expired. Refresh them (aws sso login, or a new AWS_ACCESS_KEY_ID, " +
      "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN), check that AWS_PROFILE names the account you mean, and that this machine's clock is right.";
  } else if (name === "CredentialsProviderError" || /credential/i.test(message)) {
    hint = " No AWS credentials were found: set AWS_PROFILE (after aws configure or aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.";
  } else if (/region is missing/i.test(message)) {
    hint = " No AWS region: pass --region or set AWS_REGION.";
  } else if (name === "AccessDeniedException") {
    hint =
      " The caller needs ecr:DescribeRepositories, ecr:CreateRepository, ecr:GetAuthorizationToken and the push actions " +
      "(ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage), " +
      "as in the AmazonEC2ContainerRegistryPowerUser policy.";
  }
  return new EcrError(`ECR ${operation} failed: ${name}: ${message.replace(/\.$/, "")}.${hint}`, { cause: error });
}
