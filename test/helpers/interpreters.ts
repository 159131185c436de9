/**
 * Whether a script type can run here. Without its interpreter (or the
 * sandbox) its tests skip with a reason on a developer's machine; under
 * CI=true, where `.ci/run` installs them, that is a failure instead.
 */
export function typeRunsHere(type: string, runs: boolean, why = 'its interpreter or bubblewrap is missing'): boolean {
  if (runs) return true;
  if (process.env.CI === 'true') throw new Error(`The ${type} script type is required under CI but cannot run: ${why}.`);
  console.warn(`Skipping ${type} tests: ${why}.`);
  return false;
}
