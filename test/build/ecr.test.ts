import assert from "node:assert/strict";
import { test } from "node:test";
import { createEcrClient, ecrFailure, ecrRegion, ensureRepository, getEcrLogin } from "../../src/build/ecr.js";
import { EcrError } from "../../src/build/errors.js";
import { startEcrStandIn, type EcrStandInOptions } from "./helpers/ecr-stand-in.js";

// The ECR API is served by the local stand-in (see helpers/ecr-stand-in.ts): no AWS here.
// Credentials and region are always given, so the SDK never looks for them on this machine.
const credentials = { accessKeyId: "AKIATEST", secretAccessKey: "test-secret" };

async function withEcr(options: Partial<EcrStandInOptions>, body: (client: ReturnType<typeof createEcrClient>, ecr: Awaited<ReturnType<typeof startEcrStandIn>>) => Promise<void>): Promise<void> {
  const ecr = await startEcrStandIn({ registry: "127.0.0.1:5000", password: "registry-secret", ...options });
  const client = createEcrClient({ region: "us-east-1", endpoint: ecr.url, credentials });
  try {
    await body(client, ecr);
  } finally {
    client.destroy();
    await ecr.close();
  }
}

test("an existing repository is found, a missing one created with scan on push; every call is signed", async () => {
  await withEcr({ repositories: ["iris-endpoint"] }, async (client, ecr) => {
    const existing = await ensureRepository(client, "iris-endpoint");
    assert.deepEqual(existing, {
      name: "iris-endpoint",
      uri: "127.0.0.1:5000/iris-endpoint",
      arn: "arn:aws:ecr:us-east-1:123456789012:repository/iris-endpoint",
      registryId: "123456789012",
      created: false,
    });
    const created = await ensureRepository(client, "acme/new-model");
    assert.equal(created.created, true);
    assert.equal(created.uri, "127.0.0.1:5000/acme/new-model");
    assert.deepEqual(
      ecr.calls.map((call) => call.operation),
      ["DescribeRepositories", "DescribeRepositories", "CreateRepository"],
    );
    assert.deepEqual(ecr.calls[2]?.body, { repositoryName: "acme/new-model", imageScanningConfiguration: { scanOnPush: true } });
    assert.ok(ecr.calls.every((call) => call.authorization?.startsWith("AWS4-HMAC-SHA256 Credential=AKIATEST/") === true));
    assert.equal(await ecrRegion(client), "us-east-1");
  });
});

test("the authorization token becomes a registry login: host from the proxy endpoint, AWS and the password", async () => {
  await withEcr({}, async (client) => {
    const login = await getEcrLogin(client);
    assert.equal(login.registry, "127.0.0.1:5000");
    assert.deepEqual(login.credentials, { username: "AWS", password: "registry-secret" });
    assert.ok(login.expiresAt instanceof Date && login.expiresAt.getTime() > Date.now());
  });
});

test("ECR errors name the call and AWS's error, with what to check", async () => {
  const denied = { status: 400, type: "AccessDeniedException", message: "User is not authorized to perform: ecr:CreateRepository" };
  await withEcr({ failures: { CreateRepository: denied } }, async (client) => {
    await assert.rejects(ensureRepository(client, "iris"), (error: Error) => {
      assert.ok(error instanceof EcrError);
      assert.equal(error.code, "ECR_FAILED");
      assert.match(error.message, /^ECR CreateRepository failed: AccessDeniedException: User is not authorized to perform: ecr:CreateRepository\./);
      assert.match(error.message, /AmazonEC2ContainerRegistryPowerUser/);
      return true;
    });
  });
  const throttled = { status: 400, type: "ThrottlingException", message: "Rate exceeded" };
  await withEcr({ failures: { DescribeRepositories: throttled, GetAuthorizationToken: { ...throttled, type: "UnrecognizedClientException", message: "The security token included in the request is invalid." } } }, async (client) => {
    await assert.rejects(ensureRepository(client, "iris"), /ECR DescribeRepositories failed: ThrottlingException: Rate exceeded/);
    await assert.rejects(getEcrLogin(client), /ECR GetAuthorizationToken failed: UnrecognizedClientException: The security token included in the request is invalid\. AWS rejected the credentials: they are invalid or expired/);
  });
});

test("credentials AWS rejects (invalid, wrong secret, expired) get the credentials hint, not the permissions one", async () => {
  const answers = [
    { type: "UnrecognizedClientException", message: "The security token included in the request is invalid." },
    { type: "InvalidSignatureException", message: "The request signature we calculated does not match the signature you provided." },
    { type: "ExpiredTokenException", message: "The security token included in the request is expired" },
  ];
  for (const { type, message } of answers) {
    await withEcr({ failures: { DescribeRepositories: { status: 400, type, message } } }, async (client) => {
      await assert.rejects(ensureRepository(client, "iris"), (error: Error) => {
        assert.ok(error instanceof EcrError);
        assert.ok(error.message.startsWith(`ECR DescribeRepositories failed: ${type}: `), error.message);
        assert.match(error.message, /AWS rejected the credentials: they are invalid or expired\. Refresh them \(aws sso login/, type);
        assert.doesNotMatch(error.message, /The caller needs|AmazonEC2ContainerRegistryPowerUser/, type);
        return true;
      });
    });
  }
});

test("a malformed authorization answer is refused", async () => {
  await withEcr({ token: Buffer.from("no-separator").toString("base64") }, async (client) => {
    await assert.rejects(getEcrLogin(client), (error: Error) => error instanceof EcrError && /not base64 of user:password/.test(error.message));
  });
  await withEcr({ token: Buffer.from("AWS:").toString("base64") }, async (client) => {
    await assert.rejects(getEcrLogin(client), /not base64 of user:password/);
  });
  await withEcr({ token: "" }, async (client) => {
    await assert.rejects(getEcrLogin(client), /returned no token or no proxy endpoint/);
  });
});

test("an unreachable ECR endpoint is an EcrError naming the call", async () => {
  const ecr = await startEcrStandIn({ registry: "127.0.0.1:5000", password: "x" });
  await ecr.close();
  const client = createEcrClient({ region: "us-east-1", endpoint: ecr.url, credentials });
  await assert.rejects(ensureRepository(client, "iris"), (error: Error) => error instanceof EcrError && /^ECR DescribeRepositories failed: .*ECONNREFUSED/.test(error.message));
  client.destroy();
});

test("missing credentials and region get their own advice", () => {
  const noCredentials = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
  assert.match(ecrFailure("DescribeRepositories", noCredentials).message, /No AWS credentials were found: set AWS_PROFILE/);
  assert.match(ecrFailure("region lookup", new Error("Region is missing")).message, /^ECR region lookup failed: Error: Region is missing\. No AWS region: pass --region or set AWS_REGION\.$/);
  assert.equal(ecrFailure("GetAuthorizationToken", new Error("boom")).message, "ECR GetAuthorizationToken failed: Error: boom.");
});
