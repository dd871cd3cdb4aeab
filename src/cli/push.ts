import { CommandRunner } from "../build/command-runner.js";
import { loadPushOptions } from "../build/options.js";
import { pushImage } from "../build/push.js";
import { pushSettings } from "../config/push-settings.js";
import type { CliCommand } from "./command.js";
import { parseProjectArgs } from "./project-args.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc push [project folder] [options]

Pushes the image built by \`build\` to Amazon ECR (creating the repository when missing) or to any
OCI registry, tagged with the version and the git commit recorded in the image, then prints the
image URI and the SageMaker calls to deploy it (CreateModel, CreateEndpointConfig,
CreateEndpoint) filled in. See docs/container.md.

Options:
${settingFlagUsage([pushSettings], "push")}
  -h, --help                 this text

AWS credentials come from the AWS SDK's usual chain (AWS_PROFILE, SSO, AWS_ACCESS_KEY_ID...).
Ctrl-C (SIGINT) or SIGTERM removes buildah's temporary login file before exiting (130, 143).`;

const options = { ...settingFlagOptions([pushSettings], "push"), help: { type: "boolean", short: "h" } } as const;

/** `push`: the image to ECR or any OCI registry, and the deployment calls filled in. */
export const pushCommand: CliCommand = {
  name: "push",
  summary: "push the image to ECR (or any OCI registry) and print the SageMaker deployment calls",
  usage,
  async run(argv, env) {
    const { values, project } = parseProjectArgs("push", argv, options);
    if (values.help === true) {
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
