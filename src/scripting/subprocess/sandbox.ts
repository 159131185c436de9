import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { findOnPath, isExecutableFile } from './interpreter.ts';
import { sandboxUids } from './sandbox-uids.ts';

/**
 * Every worker runs inside bubblewrap: its own PID, mount, IPC, UTS and
 * cgroup namespaces (and network, when the service has none), a filesystem of
 * the system's read-only directories, the interpreter's prefix and the runner
 * file, a private size-capped tmpfs as its working directory, no capabilities,
 * no new privileges, and a host uid of its own that is not root.
 *
 * As root, bwrap sets up the namespaces with its privileges and `setpriv`
 * drops to the worker's uid before the interpreter starts: a user namespace
 * would map the sandbox's uid to host root, which RLIMIT_NPROC does not
 * count. A uid per worker makes RLIMIT_NPROC a per-worker bound (a fork bomb
 * in one cannot stop the others from starting threads) and tells, from the
 * host, which processes belong to which worker. Not as root, bwrap makes an
 * unprivileged user namespace instead (same uid on the host as the server).
 */

/** Where the runner file appears inside the sandbox (nothing else of the project does). */
export const SANDBOX_RUNNER_DIR = '/sandbox';

/** Directories of the system that interpreters need, read-only (or as the symlinks they are, on merged-/usr systems). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** What of /etc an interpreter needs: loader, time zone, name resolution, TLS roots, PHP's ini. Nothing else. */
const ETC_ENTRIES = [
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'timezone', 'resolv.conf', 'hosts', 'host.conf',
  'nsswitch.conf', 'gai.conf', 'services', 'protocols', 'ssl', 'ca-certificates', 'pki', 'crypto-policies',
  'passwd', 'group', 'php', 'alternatives', 'mime.types',
];

/** Per worker: processes and threads (RLIMIT_NPROC counts threads; a Node runner has about a dozen). */
export const SANDBOX_MAX_PROCESSES = 64;
/** Per process: open files. */
export const SANDBOX_MAX_OPEN_FILES = 1024;

export interface SandboxOptions {
  /** bwrap: absolute path, or found on PATH. */
  bwrapPath?: string;
  pathEnv: string | undefined;
}

export interface SandboxedCommand {
  file: string;
  args: string[];
  /** Release what the command holds (its uid) once the process is gone. */
  release(): void;
  /** The host uid the script runs as (root mode), or null when it is the server's own. */
  uid: number | null;
}

export interface WorkerCommandSpec {
  executable: string;
  /** Interpreter arguments, given the runner's path as the interpreter will see it. */
  args(runnerPath: string): string[];
  runnerPath: string;
  /** Paths outside the system directories the interpreter needs (its prefix), bound read-only. */
  readOnlyPaths: readonly string[];
  network: boolean;
  /** Size of the private /tmp, in MB. */
  tmpMb: number;
  /** RLIMIT_AS for the whole process, in MB; null leaves it to the language (Node's V8 reserves far more than it uses). */
  addressSpaceMb: number | null;
}

/** How workers are started: in bubblewrap, or (chosen by the operator) as plain processes. */
export interface WorkerLauncher {
  readonly sandboxed: boolean;
  command(spec: WorkerCommandSpec): SandboxedCommand;
}

/** SCRIPT_SANDBOX=off: the interpreter as the server's own user. */
export const unsandboxedLauncher: WorkerLauncher = {
  sandboxed: false,
  command(spec) {
    return { file: spec.executable, args: spec.args(spec.runnerPath), release() {}, uid: null };
  },
};

export class BubblewrapLauncher implements WorkerLauncher {
  readonly sandboxed = true;
  private readonly uids = sandboxUids;

  private constructor(
    private readonly bwrap: string,
    /** setpriv and prlimit (util-linux), by absolute path. */
    private readonly setpriv: string | null,
    private readonly prlimit: string,
  ) {}

  /**
   * Finds bwrap (and util-linux's setpriv and prlimit) and runs `true` in a
   * sandbox built exactly as a worker's is; throws with what to do when that fails.
   */
  static async create(options: SandboxOptions): Promise<BubblewrapLauncher> {
    const bwrap = await findTool('bwrap', options.bwrapPath, options.pathEnv, 'install Debian\'s "bubblewrap" package');
    const asRoot = process.getuid?.() === 0;
    const setpriv = asRoot ? await findTool('setpriv', undefined, options.pathEnv, 'install util-linux') : null;
    const prlimit = await findTool('prlimit', undefined, options.pathEnv, 'install util-linux');
    const launcher = new BubblewrapLauncher(bwrap, setpriv, prlimit);
    const trueBinary = (await findOnPath(['true'], '/usr/bin:/bin')) ?? '/usr/bin/true';
    for (const network of [true, false]) {
      const probe = launcher.command({
        executable: trueBinary,
        args: () => [],
        runnerPath: trueBinary,
        readOnlyPaths: [],
        network,
        tmpMb: 1,
        addressSpaceMb: null,
      });
      try {
        await run(probe.file, probe.args);
      } catch (error) {
        throw new Error(
          `the sandbox does not work here (${bwrap} failed: ${(error as Error).message}). ` +
            'Subprocess scripts need bubblewrap with namespaces allowed (in a container: --privileged, or a seccomp and AppArmor profile that permit them); ' +
            'or set SCRIPT_SANDBOX=off to run them unsandboxed as the server\'s user',
        );
      } finally {
        probe.release();
      }
    }
    return launcher;
  }

  command(spec: WorkerCommandSpec): SandboxedCommand {
    const runnerInside = path.posix.join(SANDBOX_RUNNER_DIR, path.basename(spec.runnerPath));
    // Directories bwrap makes on the way to a mount are 0700 as root: the worker's uid could not enter them.
    const args: string[] = [];
    for (const dir of SYSTEM_DIRS) args.push(...systemDirArgs(dir));
    args.push('--perms', '0755', '--dir', '/etc');
    for (const entry of ETC_ENTRIES) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
    for (const extra of spec.readOnlyPaths) args.push(...parentDirArgs(extra), '--ro-bind', extra, extra);
    args.push('--perms', '0755', '--dir', SANDBOX_RUNNER_DIR, '--ro-bind', spec.runnerPath, runnerInside);
    args.push('--proc', '/proc', '--dev', '/dev');
    const tmpBytes = String(Math.max(1, Math.round(spec.tmpMb)) * 1024 * 1024);
    args.push('--perms', '1777', '--size', tmpBytes, '--tmpfs', '/tmp', '--perms', '1777', '--size', tmpBytes, '--tmpfs', '/dev/shm', '--chdir', '/tmp');
    args.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', 'scriptgate');
    if (!spec.network) args.push('--unshare-net');
    // No terminal to inject keystrokes into (TIOCSTI); everything dies with the worker's bwrap.
    args.push('--new-session', '--die-with-parent');

    const limits = [`--nproc=${SANDBOX_MAX_PROCESSES}`, `--nofile=${SANDBOX_MAX_OPEN_FILES}`, '--core=0'];
    if (spec.addressSpaceMb !== null) limits.push(`--as=${Math.round(spec.addressSpaceMb) * 1024 * 1024}`);
    const interpreter = [spec.executable, ...spec.args(runnerInside)];

    if (this.setpriv) {
      // Only what setpriv needs to drop to the worker's uid; setpriv then clears even those.
      const uid = this.uids.take();
      args.push('--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP');
      args.push('--', this.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs');
      args.push('--', this.prlimit, ...limits, '--', ...interpreter);
      return { file: this.bwrap, args, uid, release: () => this.uids.give(uid) };
    }
    args.push('--unshare-user', '--uid', '65534', '--gid', '65534', '--cap-drop', 'ALL');
    args.push('--', this.prlimit, ...limits, '--', ...interpreter);
    return { file: this.bwrap, args, uid: null, release() {} };
  }
}

async function findTool(name: string, override: string | undefined, pathEnv: string | undefined, install: string): Promise<string> {
  if (override) {
    if (await isExecutableFile(override)) return override;
    throw new Error(`${name} not found at ${override}: ${install}, or set SCRIPT_SANDBOX=off to run scripts unsandboxed`);
  }
  const found = await findOnPath([name], `${pathEnv ?? ''}:/usr/bin:/bin:/usr/sbin:/sbin`);
  if (!found) throw new Error(`${name} not found on PATH: ${install}, or set SCRIPT_SANDBOX=off to run scripts unsandboxed`);
  return found;
}

function systemDirArgs(dir: string): string[] {
  let stat;
  try {
    stat = lstatSync(dir);
  } catch {
    return [];
  }
  if (stat.isSymbolicLink()) return ['--symlink', readlinkSync(dir), dir];
  return stat.isDirectory() ? ['--ro-bind', dir, dir] : [];
}

/** Directories bwrap would create as 0700 on the way to a bind (e.g. /root for pyenv): made traversable instead. */
function parentDirArgs(target: string): string[] {
  const args: string[] = [];
  const parts = path.dirname(target).split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    if (SYSTEM_DIRS.includes(dir) || dir === '/etc' || dir === '/tmp') return [];
    args.push('--perms', '0755', '--dir', dir);
  }
  return args;
}

/**
 * Paths outside the system directories a worker must see: the interpreter
 * binary itself, and installation prefixes the interpreter reported (a
 * pyenv Python's standard library). Never a guessed parent directory, which
 * could be a home directory.
 */
export function interpreterPaths(executable: string, prefixes: readonly (string | null | undefined)[] = []): string[] {
  const paths = new Set<string>();
  for (const candidate of [executable, ...prefixes]) {
    if (!candidate || !path.isAbsolute(candidate) || !existsSync(candidate)) continue;
    const normalised = path.normalize(candidate);
    const top = `/${normalised.split('/').filter(Boolean)[0] ?? ''}`;
    if (top === '/' || SYSTEM_DIRS.includes(top)) continue;
    paths.add(normalised);
  }
  // A prefix holding the executable covers it.
  return [...paths].filter((p) => ![...paths].some((other) => other !== p && p.startsWith(`${other}/`)));
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 15_000, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }, (error, _stdout, stderr) => {
      if (error) reject(new Error((stderr || error.message).trim().split('\n').slice(-2).join(' ')));
      else resolve();
    });
  });
}
