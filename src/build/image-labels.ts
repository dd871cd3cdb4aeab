/**
 * The labels `build` puts on the image. SageMaker reads its own two; `push` reads the rest to tag
 * the image and fill in the deployment commands.
 *
 * @example
 * ```ts
 * labels[imageLabels.version]; // "1.2.3"
 * ```
 */
export const imageLabels = {
  /** SageMaker may set `SAGEMAKER_BIND_TO_PORT` (docs/sagemaker-contract.md): the server honours it. */
  acceptBindToPort: "com.amazonaws.sagemaker.capabilities.accept-bind-to-port",
  /** SageMaker may host many models behind one endpoint with this image (docs/multi-model.md). */
  multiModels: "com.amazonaws.sagemaker.capabilities.multi-models",
  /** The package name. */
  title: "org.opencontainers.image.title",
  /** package.json's `description`, else one naming the package: never the base image's. */
  description: "org.opencontainers.image.description",
  /** The package version. */
  version: "org.opencontainers.image.version",
  /** The git commit the image was built from (`-dirty` with uncommitted changes). */
  revision: "org.opencontainers.image.revision",
  /** `cpu` or `gpu`. */
  target: "sagemaker-byoc-node.target",
  /** `baked` when the model is in the image, `sagemaker` when SageMaker places it in /opt/ml/model. */
  model: "sagemaker-byoc-node.model",
} as const;
