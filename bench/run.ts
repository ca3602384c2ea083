/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or only those named on the command line) and
 * prints one table of figures. Benchmarks report; they never pass or fail on timing.
 */
import * as fs from "fs";
import * as path from "path";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

async function runAll(filter: string[]): Promise<void> {
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
    .sort();
  const results: BenchResult[] = [];
  for (const f of files) {
    const mod = (await import(path.join(__dirname, f))) as { run(): Promise<BenchResult[]> };
    process.stderr.write(`bench: ${f}\n`);
    results.push(...(await mod.run()));
  }
  const w = Math.max(...results.map((r) => r.name.length), 4);
  console.log(`| ${"benchmark".padEnd(w)} | value | unit | note |`);
  console.log(`|${"-".repeat(w + 2)}|------:|------|------|`);
  for (const r of results) {
    console.log(`| ${r.name.padEnd(w)} | ${Number.isInteger(r.value) ? r.value : r.value.toFixed(3)} | ${r.unit} | ${r.note ?? ""} |`);
  }
}

runAll(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
