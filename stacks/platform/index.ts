/** Entry point of the platform stack (stacks/platform/Pulumi.yaml `main`); the work is in ./program. */
import { main } from "./program";

export = () => main();
