import { expect } from "chai";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { shellQuote } from "../../src/agent/quote";

/** What /bin/sh makes of `printf %s <quoted>`: the quoted word must come back byte for byte. */
function roundTrip(values: string[]): string[] {
  const script = values.map((v) => `printf '%s\\0' ${shellQuote(v)}`).join("\n");
  const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8" });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.split("\0").slice(0, -1);
}

// Anything a shell word can carry: every code point except NUL, weighted towards the dangerous ones.
const nasty = fc.constantFrom("'", '"', "\\", "$", "`", "\n", "\r", "\t", " ", ";", "|", "&", "*", "?", "~", "#", "(", ")", "{", "}", "<", ">", "!", "-", "=", "%");
const anyChar = fc.oneof(nasty, fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => !c.includes("\0")));
const shellWord = fc.array(anyChar, { maxLength: 40 }).map((cs) => cs.join(""));

describe("agent shellQuote", () => {
  it("wraps plain words and the empty string in single quotes", () => {
    expect(shellQuote("abc")).to.equal("'abc'");
    expect(shellQuote("")).to.equal("''");
    expect(shellQuote("it's")).to.equal(`'it'\\''s'`);
  });

  it("refuses NUL, which no shell word can carry", () => {
    expect(() => shellQuote("a\0b")).to.throw(/NUL/);
  });

  it("round-trips arbitrary strings through /bin/sh unchanged (property)", () => {
    // Batched: one sh per 50 values keeps 1,000 cases fast.
    fc.assert(
      fc.property(fc.array(shellWord, { minLength: 1, maxLength: 50 }), (values) => {
        expect(roundTrip(values)).to.deep.equal(values);
      }),
      { numRuns: 40 },
    );
  });

  it("keeps command substitutions, expansions and separators inert", () => {
    const hostile = ["$(touch /tmp/smith-pwned)", "`id`", "a; rm -rf /", "x' ; echo 'y", "${HOME}", "a\nb", "-n", "*"];
    expect(roundTrip(hostile)).to.deep.equal(hostile);
  });
});
