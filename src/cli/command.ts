/** One subcommand of the `sagemaker-byoc` CLI. `run` resolves to the exit code, or -1 to keep running (a server). */
export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  readonly usage: string;
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
}
