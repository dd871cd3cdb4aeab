import { CommandRunner } from "../build/command-runner.js";
import { loadPushOptions } from "../build/options.js";
import { pushImage } from "../build/push.js";
import type { CliCommand } from "./command.js";
import { parseProjectArgs } from "./project-args.js";

const usage = `Usage: sagemaker-byoc push [project folder] [options]

Pushes the image built by \`build\` to Amazon ECR (creating the repository when missing) or to any
OCI registry, tagged with the version and the git commit recorded in the image, then prints the
image URI and the SageMaker calls to deploy it (CreateModel, CreateEndpointConfig,
CreateEndpoint) filled in. See docs/container.md.

Options:
  --image <name:tag>       local image (default <package>:<version>, as build tagged it)
  --repository <name>      repository in the registry (default: the package name)
  --tag <tag>              tag to push, repeatable (default <version> and <version>-<commit>)
  --engine <auto|docker|buildah>  (default auto: docker when its engine answers, else buildah)
  --region <region>        ECR region (default $AWS_REGION, $AWS_DEFAULT_REGION, then the AWS profile's)
  --ecr-endpoint <url>     ECR API endpoint (VPC endpoints, local stand-ins)
  --registry <host[:port]> any OCI registry instead of ECR; logs in with $BYOC_REGISTRY_USERNAME
                           and $BYOC_REGISTRY_PASSWORD when set, else uses the tool's own login.
                           SageMaker pulls from it only through a VPC: the printed CreateModel says how
  --tls-verify=<bool>      false for a registry on plain HTTP or a self-signed certificate (default true)
  --role-arn <arn>         the endpoint's execution role (default: commands to create one)
  --model-data <s3 url>    model.tar.gz (or multi-model prefix) for CreateModel's ModelDataUrl;
                           ignored, with a warning, when the model is baked into the image
  --instance-type <type>   endpoint instance type (default ml.m5.large; ml.g5.xlarge for GPU images)
  --name <name>            model, endpoint configuration and endpoint name (default <repository>-<tag>)
  -h, --help               this text

AWS credentials come from the AWS SDK's usual chain (AWS_PROFILE, SSO, AWS_ACCESS_KEY_ID...).
Ctrl-C (SIGINT) or SIGTERM removes buildah's temporary login file before exiting (130, 143).`;

const options = {
  image: { type: "string" },
  repository: { type: "string" },
  tag: { type: "string", multiple: true },
  engine: { type: "string" },
  region: { type: "string" },
  "ecr-endpoint": { type: "string" },
  registry: { type: "string" },
  "tls-verify": { type: "string" },
  "role-arn": { type: "string" },
  "model-data": { type: "string" },
  "instance-type": { type: "string" },
  name: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `push`: the image to ECR or any OCI registry, and the deployment calls filled in. */
export const pushCommand: CliCommand = {
  name: "push",
  summary: "push the image to ECR (or any OCI registry) and print the SageMaker deployment calls",
  usage,
  async run(argv, env) {
    const { values, project } = parseProjectArgs("push", argv, options);
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const pushOptions = loadPushOptions({ ...values, project }, env, process.cwd());
    const result = await pushImage(pushOptions, new CommandRunner(env, (line) => console.error(line)));
    console.log(`Image URI: ${result.imageUris.at(-1)}${result.digest === undefined ? "" : `\nDigest: ${result.digest}`}\n`);
    console.log(result.hints);
    return 0;
  },
};
