/**
 * Pulumi mocks shared by the component, stack and benchmark code: records every registered
 * resource with the options the mocks API hides (dependencies, ignoreChanges, timeouts, parent)
 * and the raw serialized inputs (to see what is secret). Fails on any unmocked invoke.
 *
 * Call `installMocks()` BEFORE importing anything that creates resources (`await import()`).
 */
import * as pulumi from "@pulumi/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: Record<string, unknown> } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  parentUrn: string;
  custom: boolean;
  dependencies: string[];
  ignoreChanges: string[];
  customTimeouts: { create: string; update: string; delete: string } | undefined;
  /** Serialized inputs as the engine would receive them (secrets still wrapped). */
  raw: Record<string, unknown>;
  /** Inputs as the mocks see them (secrets unwrapped). */
  inputs: Record<string, unknown>;
  /** `file:line` of the registration's source position, and how many stack frames were sent. */
  sourcePosition?: string;
  stackFrames: number;
}

export interface MockBehaviour {
  /** stdout of a remote.Command by resource name; defaults to a plausible agent line. */
  stdout?: (name: string, inputs: Record<string, unknown>) => string | undefined;
  /** Outputs of `<org>/<project>/<stack>` StackReferences, by full name. */
  stackOutputs?: Record<string, Record<string, unknown>>;
}

export interface Recorder {
  resources: Registered[];
  behaviour: MockBehaviour;
  reset(): void;
  byName(name: string): Registered;
  ofType(type: string): Registered[];
  nameOfUrn(urn: string): string;
  /** Waits until no registration is in flight. */
  settle(): Promise<void>;
}

export const PATCH_FINISHED_AT = "2026-11-25T10:00:00Z";

export function defaultStdout(name: string, inputs: Record<string, unknown>): string {
  if (name.endsWith("-patch")) {
    const m = /--build '([^']*)'/.exec(String(inputs.create ?? ""));
    return (
      JSON.stringify({
        build: m ? m[1] : "0",
        previous: "1",
        noop: false,
        changed: [{ name: "openssl", from: "3.0.1", to: "3.0.2" }],
        changedCount: 1,
        rebootRequired: false,
        attempts: 1,
        startedAt: "2026-11-25T09:59:00Z",
        finishedAt: PATCH_FINISHED_AT,
        durationMs: 60000,
      }) + "\n"
    );
  }
  if (name.endsWith("-reboot")) return JSON.stringify({ rebooting: false, bootId: `boot-${name}` }) + "\n";
  if (name.endsWith("-health")) return JSON.stringify({ healthy: true, bootId: `boot-${name}`, checks: [] }) + "\n";
  return "";
}

export function installMocks(opts: { project?: string; stack?: string; preview?: boolean; record?: boolean } = {}): Recorder & { count(): number } {
  let count = 0;
  const keep = opts.record ?? true;
  const resources: Registered[] = [];
  const behaviour: MockBehaviour = {};
  const proto = MockMonitor.prototype as Record<string, (...a: unknown[]) => unknown>;
  const original = (proto.__smithOriginalRegister ?? proto.registerResource) as (req: unknown, cb: unknown) => unknown;
  proto.__smithOriginalRegister = original;
  const originalRead = (proto.__smithOriginalRead ?? proto.readResource) as (req: unknown, cb: unknown) => unknown;
  proto.__smithOriginalRead = originalRead;

  proto.registerResource = function (this: unknown, req: unknown, cb: unknown) {
    record(req, true);
    return original.call(this, req, cb);
  };
  proto.readResource = function (this: unknown, req: unknown, cb: unknown) {
    record(req, false);
    return originalRead.call(this, req, cb);
  };

  function record(reqAny: unknown, register: boolean): void {
    count++;
    if (!keep) return;
    // The request is a protobuf message; only its getters are used.
    const req = reqAny as {
      getType(): string;
      getName(): string;
      getParent(): string;
      getCustom?(): boolean;
      getDependenciesList(): string[];
      getIgnorechangesList?(): string[];
      getCustomtimeouts?(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
      getObject?(): { toJavaScript(): Record<string, unknown> };
      getProperties?(): { toJavaScript(): Record<string, unknown> };
      getSourceposition?(): { getUri(): string; getLine(): number } | undefined;
      getStacktrace?(): { getFramesList(): unknown[] } | undefined;
    };
    const raw = (register ? req.getObject?.() : req.getProperties?.())?.toJavaScript() ?? {};
    const ct = req.getCustomtimeouts?.();
    const parent = req.getParent();
    const qualified = parent ? `${parent.split("::")[2].split("$").pop()}$${req.getType()}` : req.getType();
    resources.push({
      type: req.getType(),
      name: req.getName(),
      urn: `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualified}::${req.getName()}`,
      parentUrn: parent,
      custom: register ? (req.getCustom?.() ?? false) : true,
      dependencies: req.getDependenciesList(),
      ignoreChanges: req.getIgnorechangesList?.() ?? [],
      customTimeouts: ct ? { create: ct.getCreate(), update: ct.getUpdate(), delete: ct.getDelete() } : undefined,
      raw,
      inputs: unwrapSecrets(raw) as Record<string, unknown>,
      sourcePosition: ((p) => (p ? `${p.getUri()}:${p.getLine()}` : undefined))(req.getSourceposition?.()),
      stackFrames: req.getStacktrace?.()?.getFramesList().length ?? 0,
    });
  }

  void pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        if (args.type === "pulumi:pulumi:StackReference") {
          const name = String(args.inputs.name);
          return { id: name, state: { ...args.inputs, outputs: behaviour.stackOutputs?.[name] ?? {}, secretOutputNames: [] } };
        }
        if (args.type === "command:remote:Command") {
          const stdout = (behaviour.stdout ?? defaultStdout)(args.name, args.inputs) ?? defaultStdout(args.name, args.inputs);
          return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
        }
        return { id: args.custom ? `${args.name}-id` : "", state: { ...args.inputs } };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        throw new Error(`unmocked call ${args.token}`);
      },
    },
    opts.project ?? "smith",
    opts.stack ?? "dev",
    opts.preview ?? false,
  );

  return {
    resources,
    behaviour,
    count: () => count,
    reset() {
      count = 0;
      resources.length = 0;
      behaviour.stdout = undefined;
      behaviour.stackOutputs = undefined;
    },
    byName(name) {
      const r = resources.filter((x) => x.name === name);
      if (r.length !== 1) throw new Error(`expected exactly one resource named ${name}, found ${r.length}`);
      return r[0];
    },
    ofType(type) {
      return resources.filter((r) => r.type === type);
    },
    nameOfUrn(urn) {
      return urn.split("::").pop() ?? urn;
    },
    async settle() {
      await settings.waitForRPCs();
    },
  };
}

function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** Every string reachable in `v` without entering a secret wrapper: what would be plain text. */
export function plainStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
  else if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return out;
    Object.values(o).forEach((x) => plainStrings(x, out));
  }
  return out;
}

/** Resolves an Output's value (undefined when unknown). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}
