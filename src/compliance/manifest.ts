/**
 * The build manifest compliance reads (contract 2): the builds module's schema is the single
 * source (src/packages/manifest.ts); compliance uses its diff's firstSeen dates and advisories.
 */
export { BuildManifest, parseManifest, SEVERITIES, Severity } from "../packages/manifest";
