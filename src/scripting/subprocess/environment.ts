/**
 * The environment a worker starts with: an allow-list, never the server's
 * own variables (database URLs, keys, NODE_OPTIONS, NODE_EXTRA_CA_CERTS,
 * which alone makes every Node start 40-60 ms slower).
 */
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'USER', 'LOGNAME'];

export function scrubbedEnvironment(
  source: NodeJS.ProcessEnv,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return { ...env, ...extra };
}

/**
 * Inside the sandbox: the same allow-list, with home and tmp on the private
 * tmpfs and the runner told it may clean its PID namespace after each job.
 */
export function sandboxedEnvironment(source: NodeJS.ProcessEnv): Record<string, string> {
  return scrubbedEnvironment(source, {
    HOME: '/tmp',
    TMPDIR: '/tmp',
    USER: 'scriptgate',
    LOGNAME: 'scriptgate',
    SCRIPTGATE_SANDBOXED: '1',
  });
}
