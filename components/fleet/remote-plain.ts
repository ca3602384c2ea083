import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";

/**
 * `command:remote:Command` and `command:remote:CopyToRemote`, registered exactly as
 * @pulumi/command 1.2.1 registers them (same type, plugin version, connection defaults,
 * `replaceOnChanges: ["triggers[*]"]`) except that `connection` is NOT marked secret.
 *
 * Why: the SDK marks `connection` secret unconditionally, because it may hold a key or password.
 * smith's connections hold neither when the program's SSH agent logs in (`agentSocketPath`:
 * host, port, user, the public host key, a socket path). A secret costs on every checkpoint
 * write of the file backend: it is encrypted again, and the CLI's cache of those ciphertexts
 * grows with every write (measured: 330 MB of a 100-machine update's heap, 2.2 GB at 200;
 * docs/scale.md). Use these ONLY for connections without a secret: `plainRemote` refuses one
 * that carries a private key or password.
 */

function plainConnection(name: string, c: types.input.remote.ConnectionArgs): pulumi.Output<types.input.remote.ConnectionArgs> {
  if (c.privateKey !== undefined || c.password !== undefined || c.privateKeyPassword !== undefined || c.proxy !== undefined) {
    throw new Error(`${name}: a connection with a key, password or proxy must stay secret: use @pulumi/command's classes`);
  }
  // The SDK's own defaults (dialErrorLimit, perDialTimeout, port, user), applied as its classes do.
  return pulumi.output(c).apply(types.input.remote.connectionArgsProvideDefaults);
}

function options(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  // Same plugin version the SDK asks for (@pulumi/command's package.json).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const version = (require("@pulumi/command/package.json") as { version: string }).version;
  return pulumi.mergeOptions({ version, replaceOnChanges: ["triggers[*]"] }, opts ?? {});
}

/** A remote command as NodePatch uses it: @pulumi/command's, or the same with a plain connection. */
export type RemoteCommand = pulumi.CustomResource & { readonly stdout: pulumi.Output<string>; readonly stderr: pulumi.Output<string> };

/** The connection as an object (its fields may be Inputs), so it can be checked for secrets here. */
type PlainArgs<A extends { connection: unknown }> = Omit<A, "connection"> & { connection: types.input.remote.ConnectionArgs };

/** `command:remote:Command` with a plain connection (see above). */
export class PlainRemoteCommand extends pulumi.CustomResource implements RemoteCommand {
  declare public readonly stdout: pulumi.Output<string>;
  declare public readonly stderr: pulumi.Output<string>;

  constructor(name: string, args: PlainArgs<remote.CommandArgs>, opts?: pulumi.CustomResourceOptions) {
    super(
      "command:remote:Command",
      name,
      {
        addPreviousOutputInEnv: args.addPreviousOutputInEnv,
        connection: plainConnection(name, args.connection),
        create: args.create,
        delete: args.delete,
        environment: args.environment,
        logging: args.logging,
        stdin: args.stdin,
        triggers: args.triggers,
        update: args.update,
        stderr: undefined,
        stdout: undefined,
      },
      options(opts),
    );
  }
}

/** `command:remote:CopyToRemote` with a plain connection (see above). */
export class PlainCopyToRemote extends pulumi.CustomResource {
  constructor(name: string, args: PlainArgs<remote.CopyToRemoteArgs>, opts?: pulumi.CustomResourceOptions) {
    super(
      "command:remote:CopyToRemote",
      name,
      { connection: plainConnection(name, args.connection), remotePath: args.remotePath, source: args.source, triggers: args.triggers },
      options(opts),
    );
  }
}
