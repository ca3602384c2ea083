/**
 * Entry point of the Pulumi program (package.json `main`). The work is in ./program so tests and
 * the benchmark can run it under mocks; the exported function's result is the stack outputs.
 */
import { main } from "./program";

export = () => main();
