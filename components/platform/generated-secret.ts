import * as pulumi from "@pulumi/pulumi";

/**
 * A random credential generated once and kept in state as a secret; a change of `keepers`
 * replaces it (rotation). @pulumi/random would be the library for this, but its provider plugin
 * cannot be installed here: the Go module proxy refuses github.com/pulumi/pulumi-random/provider/v4
 * (403 "This module version is not available", every version) and plugins are never downloaded as
 * binaries. So this is a Pulumi dynamic provider over Node's CSPRNG (crypto.randomInt), with
 * @pulumi/random's RandomPassword semantics for what smith uses: length, alphabet, keepers.
 */
export interface GeneratedSecretArgs {
  /** Characters. Defaults to 32. */
  length?: number;
  /** Characters to draw from. Defaults to letters and digits (safe in URLs, env vars and YAML). */
  alphabet?: string;
  /** Any change replaces the value: set from `smith:credentialsRotation`. */
  keepers: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

interface State {
  length: number;
  alphabet: string;
  keepers: Record<string, string>;
  result?: string;
}

// Runs in the dynamic provider's own process (the function is serialized): no imports captured.
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: State) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("crypto") as typeof import("crypto");
    let result = "";
    for (let i = 0; i < inputs.length; i++) result += inputs.alphabet[crypto.randomInt(inputs.alphabet.length)];
    return { id: crypto.randomUUID(), outs: { ...inputs, result } };
  },
  async diff(_id: string, olds: State, news: State) {
    const replaces = (["length", "alphabet", "keepers"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
};

export class GeneratedSecret extends pulumi.dynamic.Resource {
  /** The generated value: a secret. */
  public declare readonly result: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSecretArgs, opts?: pulumi.CustomResourceOptions) {
    const length = args.length ?? 32;
    const alphabet = args.alphabet ?? ALPHANUMERIC;
    if (!Number.isInteger(length) || length < 8) throw new Error(`GeneratedSecret ${name}: length must be an integer >= 8 (got ${length})`);
    super(provider, name, { length, alphabet, keepers: args.keepers, result: undefined }, { ...opts, additionalSecretOutputs: ["result"] });
  }
}
