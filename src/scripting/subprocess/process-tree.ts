import { readFile } from 'node:fs/promises';

/**
 * Host-side views of a sandboxed worker's processes. Inside its PID
 * namespace the runner is pid 2 under bwrap's init (pid 1); from the host,
 * the tree is: our child (bwrap) → init → runner → whatever the script left.
 */

/** Host pids of a process's children (its main thread's list, where fork() children are). */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process's pid as its own PID namespace sees it (the last NSpid field). */
async function innermostPid(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const fields = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
    return fields ? Number(fields[fields.length - 1]) : null;
  } catch {
    return null;
  }
}

export interface SandboxProcesses {
  /** bwrap's init inside the namespace (pid 1 there): orphans the script leaves are reparented to it. */
  init: number;
  /** The runner (pid `innerPid` there). */
  runner: number;
}

/** Finds the runner's host pid below our bwrap child, by the pid the runner reported from inside. */
export async function findSandboxProcesses(bwrapPid: number, innerPid: number): Promise<SandboxProcesses | null> {
  let level = [bwrapPid];
  for (let depth = 0; depth < 3 && level.length > 0; depth++) {
    const next: number[] = [];
    for (const parent of level) {
      for (const child of await childPids(parent)) {
        if ((await innermostPid(child)) === innerPid && depth > 0) return { init: parent, runner: child };
        next.push(child);
      }
    }
    level = next;
  }
  return null;
}
