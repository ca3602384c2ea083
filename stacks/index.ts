/**
 * Entry point of the Pulumi program (package.json `main`). The work is in ./program so tests and
 * the benchmark can run it under mocks; the exported function's result is the stack outputs.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { main } from "./program";

/**
 * Relative config paths start at the project root (where Pulumi.yaml is), which is not the
 * working directory when Pulumi.yaml's `main:` points at the code elsewhere (the platform's
 * rollout Job: a writable project dir on its volume, code read-only in the image; docs/platform.md).
 */
function projectRoot(): string | undefined {
  const root = pulumi.runtime.getRootDirectory();
  return path.isAbsolute(root) ? root : undefined;
}

export = () => main({ projectDir: projectRoot() });
