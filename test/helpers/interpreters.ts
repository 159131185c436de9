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

/** Each script type the server lists, and whether it runs here (checked with typeRunsHere: under CI every one must). */
export async function typesRunningOn(t: { rest(method: string, path: string): Promise<{ json: any }> }): Promise<Record<string, boolean>> {
  const types: { name: string; available: boolean }[] = (await t.rest('GET', '/api/v2/system/script_type')).json.resource;
  const available = Object.fromEntries(types.map((type) => [type.name, type.available]));
  for (const [name, ok] of Object.entries(available)) typeRunsHere(name, ok);
  return available;
}
