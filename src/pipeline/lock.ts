import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import { pidAlive } from "../lab/host";

/**
 * One `smith rollout` per pipeline and build at a time on this host: two would share the
 * journal (and double every notification). A lock left by a killed run (its pid is gone) is
 * taken over; that is how a resumed run starts after kill -9.
 */
export function acquireRolloutLock(dir: string, build: string): { release(): void; tookOverFrom: number | null } {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `build-${build}.lock`);
  let tookOverFrom: number | null = null;
  for (let i = 0; i < 3; i++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return { release: () => fs.rmSync(file, { force: true }), tookOverFrom };
    } catch {
      const pid = Number(fs.readFileSync(file, "utf8").trim());
      if (pid && pid !== process.pid && pidAlive(pid)) throw new UserError(`${file}: smith rollout pid ${pid} is already rolling out build ${build} of this pipeline`);
      tookOverFrom = pid || null;
      fs.rmSync(file, { force: true });
    }
  }
  throw new UserError(`${file}: could not take the rollout lock`);
}
