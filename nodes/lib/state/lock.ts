/**
 * One process owns a file store's directory: a lock file holds the owner's pid (and, on Linux, its start time, so a
 * pid reused after a reboot or container restart is not mistaken for the owner). A lock whose owner is gone is taken over.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { StoreLockedError } from "./errors";

interface LockContent {
  pid: number;
  started?: string;
}

/** Directories this process has open: a second open here is refused even though the pid is alive (ours). */
const heldHere = new Set<string>();

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime) counts after the parenthesised command name, which may itself hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockContent): boolean {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (owner.started === undefined) return true;
  const started = startTimeOf(owner.pid);
  return started === undefined || started === owner.started;
}

function readLock(file: string): LockContent | undefined {
  try {
    const content = JSON.parse(fs.readFileSync(file, "utf8")) as LockContent;
    return typeof content.pid === "number" ? content : undefined;
  } catch {
    return undefined;
  }
}

export class DirectoryLock {
  private constructor(private readonly dir: string, private readonly file: string) {}

  /** Takes the directory or throws StoreLockedError naming the owner. */
  static acquire(dir: string): DirectoryLock {
    const resolved = path.resolve(dir);
    const file = path.join(resolved, "lock");
    if (heldHere.has(resolved)) throw new StoreLockedError(resolved, process.pid);
    const mine: LockContent = { pid: process.pid };
    const started = startTimeOf(process.pid);
    if (started !== undefined) mine.started = started;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify(mine), { flag: "wx" });
        heldHere.add(resolved);
        return new DirectoryLock(resolved, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const owner = readLock(file);
      // Our own pid in the file but not held here: a previous life of this pid (restarted container) left it.
      if (owner && owner.pid !== process.pid && isAlive(owner)) throw new StoreLockedError(resolved, owner.pid);
      fs.rmSync(file, { force: true });
    }
    throw new StoreLockedError(resolved, readLock(file)?.pid ?? -1);
  }

  release(): void {
    const owner = readLock(this.file);
    if (owner?.pid === process.pid) fs.rmSync(this.file, { force: true });
    heldHere.delete(this.dir);
  }
}
