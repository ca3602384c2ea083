import { goBool, openBucketUrl } from "./bucket-url";

/**
 * A DIY backend URL `s3://bucket[/prefix][?query]` read the way Pulumi 3.248 opens it, so smith
 * reads the bucket the CLI writes: the CLI first rewrites AWS-SDK-v1 parameters
 * (pkg/backend/diy translateLegacyS3Params: `disableSSL` → `disable_https`, a scheme-less
 * `endpoint` gets `https://`, or `http://` with disableSSL), then gocloud.dev v0.46's s3blob takes
 * its own parameters and hands the rest to gcaws.V2ConfigFromURLParams, which refuses any
 * parameter it does not know. Same parameters, same refusals here.
 */
export interface S3BackendUrl {
  /** `s3://bucket/prefix`, without the query: how messages name the backend. */
  name: string;
  bucket: string;
  /** The path under the bucket (`team/smith/`), `""` for the bucket's root. Pulumi's files live under it. */
  prefix: string;
  region?: string;
  endpoint?: string;
  profile?: string;
  forcePathStyle: boolean;
  anonymous: boolean;
  dualstack: boolean;
  fips: boolean;
  accelerate: boolean;
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  responseChecksumValidation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
}

/** A boolean parameter as gocloud parses it (strconv.ParseBool). */
function parseBool(key: string, v: string, fail: (m: string) => never): boolean {
  return goBool(v) ?? fail(`invalid value for query parameter "${key}": ${JSON.stringify(v)} (true or false)`);
}

function checksumMode(key: string, v: string, fail: (m: string) => never): "WHEN_SUPPORTED" | "WHEN_REQUIRED" {
  const m = v.toLowerCase();
  if (m === "when_supported" || m === "when_required") return m.toUpperCase() as "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  return fail(`invalid value for query parameter "${key}": ${JSON.stringify(v)} (when_supported or when_required)`);
}

/** Parses an `s3://` backend URL; a UserError naming the URL and the parameter when the CLI would refuse it too. */
export function parseS3BackendUrl(raw: string): S3BackendUrl {
  const { url: u, fail, name, path } = openBucketUrl(raw, "s3", "s3://bucket[/prefix]", "s3://bucket[/prefix][?region=…&endpoint=…]");
  const q = new Map<string, string>();
  for (const [k, v] of u.searchParams) if (!q.has(k)) q.set(k, v);
  const take = (k: string): string | undefined => {
    const v = q.get(k);
    q.delete(k);
    return v === "" ? undefined : v;
  };
  const bool = (k: string): boolean | undefined => {
    const v = take(k);
    return v === undefined ? undefined : parseBool(k, v, fail);
  };

  // translateLegacyS3Params (the CLI, before gocloud sees the URL).
  const disableSSL = bool("disableSSL") ?? false;
  const disableHttps = bool("disable_https") ?? disableSSL;
  let endpoint = take("endpoint");
  if (endpoint && !endpoint.includes("://")) endpoint = `${disableHttps ? "http" : "https"}://${endpoint}`;
  if (endpoint) {
    try {
      new URL(endpoint);
    } catch {
      fail(`invalid value for query parameter "endpoint": ${JSON.stringify(endpoint)}`);
    }
  }

  // s3blob's own parameters. Encryption settings only matter to writers; they are still checked.
  const sse = take("ssetype");
  if (sse !== undefined && !["aes256", "aws:kms", "aws:kms:dsse"].includes(sse.toLowerCase())) fail(`"${sse}" is not a valid value for "ssetype"`);
  take("kmskeyid");
  const accelerate = bool("accelerate") ?? false;
  // Both names may be given: s3blob applies use_path_style, then s3ForcePathStyle.
  const usePathStyle = bool("use_path_style");
  const pathStyle = bool("s3ForcePathStyle") ?? usePathStyle;

  // gcaws.V2ConfigFromURLParams.
  const hostnameImmutable = bool("hostname_immutable") ?? false;
  const region = take("region");
  const profile = take("profile");
  const dualstack = bool("dualstack") ?? false;
  const fips = bool("fips") ?? false;
  const anonymous = bool("anonymous") ?? false;
  const capacity = take("rate_limiter_capacity");
  if (capacity !== undefined && !/^-?\d+$/.test(capacity)) fail(`invalid value for query parameter "rate_limiter_capacity": ${JSON.stringify(capacity)} (an integer)`);
  const reqSum = take("request_checksum_calculation");
  const resSum = take("response_checksum_validation");
  take("awssdk"); // a v1-era selector gocloud now ignores
  const role = take("role");
  if (role !== undefined) {
    if (!role.startsWith("arn:")) fail(`invalid value for query parameter "role": must be a valid ARN (starts with 'arn:'): ${role}`);
    fail(`query parameter "role": smith reads with the standard AWS credential chain only; put the role in a profile (role_arn) and name it with profile= or AWS_PROFILE`);
  }
  const unknown = [...q.keys()];
  if (unknown.length) fail(`unknown query parameter ${JSON.stringify(unknown[0])} (the pulumi CLI refuses it too)`);

  return {
    name,
    bucket: u.hostname,
    prefix: path,
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(profile ? { profile } : {}),
    // hostname_immutable keeps the endpoint's host as given: the bucket goes in the path.
    forcePathStyle: (pathStyle ?? false) || hostnameImmutable,
    anonymous,
    dualstack,
    fips,
    accelerate,
    ...(reqSum !== undefined ? { requestChecksumCalculation: checksumMode("request_checksum_calculation", reqSum, fail) } : {}),
    ...(resSum !== undefined ? { responseChecksumValidation: checksumMode("response_checksum_validation", resSum, fail) } : {}),
  };
}
