// s3rver ships no types; the part the tests use.
declare module "s3rver" {
  interface S3rverOptions {
    silent?: boolean;
    directory?: string;
  }
  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** s3rver's request handler (a Koa app), to mount in a server of one's own. */
    callback(): import("node:http").RequestListener;
  }
}
